"""MNIST, one class anomalous (GANomaly protocol), with f-AnoGAN's own recipe (`_fanogan.py`)
on the convolutional `dcgan28_light` GAN: the settings of
`mnist_one_class_anomalous_fanogan_mlp`, fixed in advance (this file was written before any
cell of it ran), only the architecture differs; the MLP study's means stand beside it as the
architecture comparison. The class column is the ANOMALOUS class.

    python -m experiments.run_study \\
        experiments/configs/mnist_one_class_anomalous_fanogan_dcgan28_light.py

Budget, from the MNIST one-class-normal conv study's run logs on this machine (the same steps,
batch and test-set size per class; only which images are normal differs): about 4 h per class
on one core shared with other work, so about 40 h of one core, or 20 h on two (`--classes`).
It is queued behind the two one-class-normal conv studies.
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
    notes=(
        "\nHere the class column is the ANOMALOUS class. The same recipe as "
        "`mnist_one_class_anomalous_fanogan_mlp`, fixed before any cell of this study ran; only "
        "the GAN architecture differs.\n"
        "How it is computed (planned before any cell ran, changed before any cell was in): one "
        "class at a time, in one process over both cores, so that a class finishes within one "
        "working session (the machine's state, a half-trained class with it, does not survive "
        "from one session to the next); each cell's timings record where it was computed.\n"
    ),
)

# Checkpoints often: this study runs over several sessions (see `saving_often`).
STUDY = saving_often(STUDY)
