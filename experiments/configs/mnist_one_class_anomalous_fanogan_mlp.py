"""MNIST, one class anomalous (GANomaly protocol), with f-AnoGAN's own recipe (`_fanogan.py`)
on the seeds' MLP GAN. Beside it, the old recipe's means from the committed
`mnist_one_class_anomalous` cells. The class column is the ANOMALOUS class.

    python -m experiments.run_study experiments/configs/mnist_one_class_anomalous_fanogan_mlp.py
"""

from anogan_jax.runs.config import RunConfig
from anogan_jax.runs.study import Study
from experiments.configs._common import main_study_means
from experiments.configs._fanogan import ENCODER, ENSEMBLES, FRONTIER, GAN, METHODS, NOTES

STUDY = Study(
    name="mnist_one_class_anomalous_fanogan_mlp",
    run=RunConfig(dataset="mnist", protocol="one_class_anomalous", arch="mlp", **GAN),
    classes=tuple(range(10)),
    seeds=(0, 1, 2),
    methods=METHODS,
    encoder=ENCODER,
    ensembles=ENSEMBLES,
    frontier=FRONTIER,
    published=main_study_means(
        "mnist_one_class_anomalous", ("anogan", "fanogan", "hybrid"), "old recipe"
    ),
    notes=NOTES + "\nHere the class column is the ANOMALOUS class.\n",
)
