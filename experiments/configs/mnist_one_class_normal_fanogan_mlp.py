"""MNIST, one class normal, with f-AnoGAN's own recipe (`_fanogan.py`) on the seeds' MLP GAN.
Beside the published rows the report shows the old recipe's means (non-saturating MLP GAN,
8,000 steps, GCN), read from the committed `mnist_one_class_normal_long` cells.

    python -m experiments.run_study experiments/configs/mnist_one_class_normal_fanogan_mlp.py
"""

from anogan_jax.runs.config import RunConfig
from anogan_jax.runs.study import Study
from experiments.configs._common import main_study_means
from experiments.configs._fanogan import ENCODER, ENSEMBLES, FRONTIER, GAN, METHODS, NOTES
from experiments.configs.mnist_one_class_normal import ANOGAN, OC_DEEP_SVDD, OCGAN

STUDY = Study(
    name="mnist_one_class_normal_fanogan_mlp",
    run=RunConfig(dataset="mnist", protocol="one_class_normal", arch="mlp", **GAN),
    classes=tuple(range(10)),
    seeds=(0, 1, 2),
    methods=METHODS,
    encoder=ENCODER,
    ensembles=ENSEMBLES,
    frontier=FRONTIER,
    published={
        "AnoGAN (Ruff+ 2018)": ANOGAN,
        "OC Deep SVDD (Ruff+ 2018)": OC_DEEP_SVDD,
        "OCGAN (Perera+ 2019)": OCGAN,
        **main_study_means(
            "mnist_one_class_normal_long", ("anogan", "fanogan", "hybrid"), "old recipe"
        ),
    },
    notes=NOTES,
)
