"""MNIST, one class normal, with f-AnoGAN's own recipe (`_fanogan.py`) on the convolutional
`dcgan28_light` GAN: the same settings, fixed in advance, as the MLP study
`mnist_one_class_normal_fanogan_mlp`, whose means the report shows beside the published rows
and the old recipe's. Only the architecture differs (G: Linear to 7x7x256, two stride-2
transposed convolutions; critic: two stride-2 convolutions with LayerNorm under WGAN-GP, a
linear head; the izi_f encoder is the critic's trunk with a linear layer to z).

    python -m experiments.run_study \\
        experiments/configs/mnist_one_class_normal_fanogan_dcgan28_light.py

Budget, from this machine's benchmarks (2 cores, quiet): about 45 min of GAN training, 35 min
of encoder training and 10 min of scoring per class (3 seeds), so about 15 hours in all; the
runner resumes, so it runs in the background over several sessions. Measured (the report's
wall time, `training_time.json`): classes 0-3, on one core shared with other work, about 4 h
per class; classes 4-9, alone on both cores, 1 h 14 min to 1 h 31 min; all 10 classes 17.4 h
of training and 4.6 h of scoring.
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

# Checkpoints often: this study runs over several sessions (see `saving_often`).
STUDY = saving_often(STUDY)
