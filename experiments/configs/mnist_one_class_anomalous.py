"""MNIST, one class anomalous (GANomaly protocol: normal classes pooled and split 80/20 with
the seed, every image of the anomalous class in the test set).

    python -m experiments.run_study experiments/configs/mnist_one_class_anomalous.py
"""

from anogan_jax.runner import RunConfig
from anogan_jax.study import Study
from experiments.configs._common import ENCODER, GAN, METHODS, NOTES

STUDY = Study(
    name="mnist_one_class_anomalous",
    run=RunConfig(dataset="mnist", protocol="one_class_anomalous", **GAN),
    classes=tuple(range(10)),
    seeds=(0, 1, 2),
    methods=METHODS,
    encoder=ENCODER,
    published={},
    notes=NOTES + "\nHere the class column is the ANOMALOUS class. GANomaly (Akcay et al., "
    "ACCV 2018) reports this protocol only as a bar chart, so no numbers are quoted.\n",
)
