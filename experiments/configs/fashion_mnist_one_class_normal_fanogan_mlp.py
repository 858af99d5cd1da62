"""Fashion-MNIST, one class normal, with f-AnoGAN's own recipe (`_fanogan.py`) on the seeds'
MLP GAN. Beside it, the old recipe's means from the committed
`fashion_mnist_one_class_normal` cells.

    python -m experiments.run_study \
        experiments/configs/fashion_mnist_one_class_normal_fanogan_mlp.py
"""

from anogan_jax.runs.config import RunConfig
from anogan_jax.runs.study import Study
from experiments.configs._common import main_study_means
from experiments.configs._fanogan import ENCODER, ENSEMBLES, FRONTIER, GAN, METHODS, NOTES

STUDY = Study(
    name="fashion_mnist_one_class_normal_fanogan_mlp",
    run=RunConfig(dataset="fashion_mnist", protocol="one_class_normal", arch="mlp", **GAN),
    classes=tuple(range(10)),
    seeds=(0, 1, 2),
    methods=METHODS,
    encoder=ENCODER,
    ensembles=ENSEMBLES,
    frontier=FRONTIER,
    published=main_study_means(
        "fashion_mnist_one_class_normal", ("anogan", "fanogan", "hybrid"), "old recipe"
    ),
    notes=NOTES,
)
