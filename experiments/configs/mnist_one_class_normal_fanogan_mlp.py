"""MNIST, one class normal, with f-AnoGAN's own recipe (`_fanogan.py`) on the `mlp` GAN
(the Keras MNIST GAN).
Beside the published rows the report shows the old recipe's means (non-saturating MLP GAN,
8,000 steps, GCN), read from the committed `mnist_one_class_normal_long` cells.

    python -m experiments.run_study experiments/configs/mnist_one_class_normal_fanogan_mlp.py
"""

from experiments.configs._fanogan import fanogan_study
from experiments.configs.mnist_one_class_normal import ANOGAN, OC_DEEP_SVDD, OCGAN

STUDY = fanogan_study(
    "mnist_one_class_normal_fanogan_mlp",
    "mnist",
    "one_class_normal",
    "mnist_one_class_normal_long",
    published={
        "AnoGAN (Ruff+ 2018)": ANOGAN,
        "OC Deep SVDD (Ruff+ 2018)": OC_DEEP_SVDD,
        "OCGAN (Perera+ 2019)": OCGAN,
    },
)
