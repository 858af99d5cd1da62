"""MNIST, one class anomalous (GANomaly protocol), with f-AnoGAN's own recipe (`_fanogan.py`)
on the convolutional `dcgan28_light` GAN: the settings of
`mnist_one_class_anomalous_fanogan_mlp`, fixed in advance (this file was written before any
cell of it ran), only the architecture differs; the MLP study's means stand beside it as the
architecture comparison. The class column is the ANOMALOUS class.

    python -m experiments.run_study \\
        experiments/configs/mnist_one_class_anomalous_fanogan_dcgan28_light.py

Budget, from the one-class-normal conv studies' run logs on this machine (the same steps,
batch and test-set size per class; only which images are normal differs): 1.2-1.7 h per class
alone on both cores of the 2-core AMD EPYC (MNIST classes 4-9, Fashion-MNIST classes 0-2), so
about 14 h; about 4 h per class on one core of the Intel Xeon shared with other work. It runs
after the Fashion-MNIST conv study.
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

# Checkpoints often: this study runs over several sessions (see `saving_often`).
STUDY = saving_often(STUDY)
