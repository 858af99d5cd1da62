"""Fashion-MNIST, one class normal, with f-AnoGAN's own recipe (`_fanogan.py`) on the
convolutional `dcgan28_light` GAN: the settings of `fashion_mnist_one_class_normal_fanogan_mlp`,
fixed in advance (this file was written before any cell of it ran), only the architecture
differs; the MLP study's means stand beside it as the architecture comparison.

    python -m experiments.run_study \\
        experiments/configs/fashion_mnist_one_class_normal_fanogan_dcgan28_light.py

The runner resumes a stopped study; processes that each take their own `--classes` share it.
The report's wall-time section gives each class's time.
"""

from experiments.configs._common import main_study_means
from experiments.configs._fanogan import COMPLEXITY, fanogan_study, saving_often

STUDY = fanogan_study(
    "fashion_mnist_one_class_normal_fanogan_dcgan28_light",
    "fashion_mnist",
    "one_class_normal",
    "fashion_mnist_one_class_normal",
    arch="dcgan28_light",
    complexity=COMPLEXITY,
    published=main_study_means(
        "fashion_mnist_one_class_normal_fanogan_mlp",
        ("anogan", "fanogan", "fanogan_img", "hybrid"),
        "MLP GAN, same recipe",
    ),
)

# Checkpoints often: a class takes hours on a CPU (see `saving_often`).
STUDY = saving_often(STUDY)
