"""Fashion-MNIST, one class normal (the Deep SVDD protocol applied to Fashion-MNIST).

python -m experiments.run_study experiments/configs/fashion_mnist_one_class_normal.py
"""

from anogan_jax.runs.config import RunConfig
from anogan_jax.studies.config import Study
from experiments.configs._common import ENCODER, GAN, METHODS

STUDY = Study(
    name="fashion_mnist_one_class_normal",
    run=RunConfig(dataset="fashion_mnist", protocol="one_class_normal", gcn=True, **GAN),
    classes=tuple(range(10)),
    seeds=(0, 1, 2),
    methods=METHODS,
    encoder=ENCODER,
    published={},
)
