"""MNIST, one class normal (Deep SVDD protocol, Ruff et al., ICML 2018, Table 1).

python -m experiments.run_study experiments/configs/mnist_one_class_normal.py
"""

from anogan_jax.runs.config import RunConfig
from anogan_jax.studies.config import Study
from experiments.configs._common import ENCODER, GAN, METHODS

# Ruff et al. 2018, Table 1 (AUROC %, MNIST, one class normal, GCN + min-max preprocessing).
ANOGAN = dict(enumerate([96.6, 99.2, 85.0, 88.7, 89.4, 88.3, 94.7, 93.5, 84.9, 92.4]))
OC_DEEP_SVDD = dict(enumerate([98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5]))
# Perera et al., CVPR 2019, OCGAN (same protocol; mean 97.5).
OCGAN = dict(enumerate([99.8, 99.9, 94.2, 96.3, 97.5, 98.0, 99.1, 98.1, 93.9, 98.1]))

STUDY = Study(
    name="mnist_one_class_normal",
    run=RunConfig(dataset="mnist", protocol="one_class_normal", gcn=True, **GAN),
    classes=tuple(range(10)),
    seeds=(0, 1, 2),
    methods=METHODS,
    encoder=ENCODER,
    published={
        "AnoGAN (Ruff+ 2018)": ANOGAN,
        "OC Deep SVDD (Ruff+ 2018)": OC_DEEP_SVDD,
        "OCGAN (Perera+ 2019)": OCGAN,
    },
)
