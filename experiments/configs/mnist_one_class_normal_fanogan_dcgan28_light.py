"""MNIST, one class normal, with f-AnoGAN's own recipe (`_fanogan.py`) on the convolutional
`dcgan28_light` GAN: the same settings, fixed in advance, as the MLP study
`mnist_one_class_normal_fanogan_mlp`, whose means the report shows beside the published rows
and the old recipe's. Only the architecture differs (G: Linear to 7x7x256, two stride-2
transposed convolutions; critic: two stride-2 convolutions with LayerNorm under WGAN-GP, a
linear head; the izi_f encoder is the critic's trunk with a linear layer to z).

    python -m experiments.run_study \\
        experiments/configs/mnist_one_class_normal_fanogan_dcgan28_light.py

The runner resumes a stopped study; the report's wall-time section gives each class's time.
"""

from experiments.configs._common import main_study_means
from experiments.configs._fanogan import COMPLEXITY, fanogan_study, saving_often
from experiments.configs.mnist_one_class_normal import ANOGAN, OC_DEEP_SVDD, OCGAN

STUDY = fanogan_study(
    "mnist_one_class_normal_fanogan_dcgan28_light",
    "mnist",
    "one_class_normal",
    "mnist_one_class_normal_long",
    arch="dcgan28_light",
    complexity=COMPLEXITY,
    published={
        "AnoGAN (Ruff+ 2018)": ANOGAN,
        "OC Deep SVDD (Ruff+ 2018)": OC_DEEP_SVDD,
        "OCGAN (Perera+ 2019)": OCGAN,
        **main_study_means(
            "mnist_one_class_normal_fanogan_mlp",
            ("anogan", "fanogan", "fanogan_img", "hybrid"),
            "MLP GAN, same recipe",
        ),
    },
)

# Checkpoints often: a class takes hours on a CPU (see `saving_often`).
STUDY = saving_often(STUDY)
