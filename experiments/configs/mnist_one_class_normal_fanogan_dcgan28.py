"""MNIST, one class normal, with f-AnoGAN's own recipe (`_fanogan.py`) on the full
convolutional `dcgan28` GAN (G: Linear to 7x7x512, transposed convolutions
512-256-128-64; critic: four convolutions 64-128-256-512 wide), the issue's "dcgan28 for a
subset of classes if the budget allows". The settings are those of
`mnist_one_class_normal_fanogan_dcgan28_light`, fixed in advance; only the architecture
differs, and that study's per-class means stand beside this one's as the comparison.

    python -m experiments.run_study \\
        experiments/configs/mnist_one_class_normal_fanogan_dcgan28.py --classes 0,1,2

Meant for a GPU: the classes run in order, 0 first; which classes is fixed by that order alone,
not by any result.
"""

from experiments.configs._common import main_study_means
from experiments.configs._fanogan import COMPLEXITY, fanogan_study
from experiments.configs.mnist_one_class_normal import ANOGAN, OC_DEEP_SVDD, OCGAN

STUDY = fanogan_study(
    "mnist_one_class_normal_fanogan_dcgan28",
    "mnist",
    "one_class_normal",
    "mnist_one_class_normal_long",
    arch="dcgan28",
    complexity=COMPLEXITY,
    published={
        "AnoGAN (Ruff+ 2018)": ANOGAN,
        "OC Deep SVDD (Ruff+ 2018)": OC_DEEP_SVDD,
        "OCGAN (Perera+ 2019)": OCGAN,
        **main_study_means(
            "mnist_one_class_normal_fanogan_dcgan28_light",
            ("anogan", "fanogan", "fanogan_img", "hybrid"),
            "dcgan28_light, same recipe",
        ),
    },
)
