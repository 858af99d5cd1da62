"""Fashion-MNIST, one class normal (the Deep SVDD protocol applied to Fashion-MNIST).

python -m experiments.run_study experiments/configs/fashion_mnist_one_class_normal.py
"""

from anogan_jax.runs.config import RunConfig
from anogan_jax.runs.study_config import Study
from experiments.configs._common import ENCODER, GAN, METHODS, NOTES, computed_before_the_record

STUDY = Study(
    name="fashion_mnist_one_class_normal",
    run=RunConfig(dataset="fashion_mnist", protocol="one_class_normal", gcn=True, **GAN),
    classes=tuple(range(10)),
    seeds=(0, 1, 2),
    methods=METHODS,
    encoder=ENCODER,
    published={},
    notes=NOTES + "\nRuff et al. (2018) report no Fashion-MNIST numbers; no published AnoGAN "
    "row under exactly this protocol is quoted here, so there is no reference column.\n"
    + computed_before_the_record("AMD EPYC", "6cbbc2a (with uncommitted changes)"),
)
