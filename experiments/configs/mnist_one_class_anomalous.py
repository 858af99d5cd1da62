"""MNIST, one class anomalous (GANomaly protocol: normal classes pooled and split 80/20 with
the seed, every image of the anomalous class in the test set).

    python -m experiments.run_study experiments/configs/mnist_one_class_anomalous.py
"""

from anogan_jax.runs.config import RunConfig
from anogan_jax.studies.config import Study
from experiments.configs._common import ENCODER, GAN, METHODS

STUDY = Study(
    name="mnist_one_class_anomalous",
    run=RunConfig(dataset="mnist", protocol="one_class_anomalous", **GAN),
    classes=tuple(range(10)),
    seeds=(0, 1, 2),
    methods=METHODS,
    encoder=ENCODER,
    published={},
)
