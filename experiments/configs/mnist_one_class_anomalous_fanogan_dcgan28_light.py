"""MNIST, one class anomalous (GANomaly protocol), with f-AnoGAN's own recipe (`_fanogan.py`)
on the convolutional `dcgan28_light` GAN: the settings of
`mnist_one_class_anomalous_fanogan_mlp`, fixed in advance (this file was written before any
cell of it ran), only the architecture differs; the MLP study's means stand beside it as the
architecture comparison. The class column is the ANOMALOUS class.

    python -m experiments.run_study \\
        experiments/configs/mnist_one_class_anomalous_fanogan_dcgan28_light.py
"""

from experiments.configs._common import main_study_means
from experiments.configs._fanogan import COMPLEXITY, fanogan_study, saving_often

STUDY = fanogan_study(
    "mnist_one_class_anomalous_fanogan_dcgan28_light",
    "mnist",
    "one_class_anomalous",
    "mnist_one_class_anomalous",
    arch="dcgan28_light",
    complexity=COMPLEXITY,
    published=main_study_means(
        "mnist_one_class_anomalous_fanogan_mlp",
        ("anogan", "fanogan", "fanogan_img", "hybrid"),
        "MLP GAN, same recipe",
    ),
)

# Checkpoints often: a class takes hours on a CPU (see `saving_often`).
STUDY = saving_often(STUDY)
