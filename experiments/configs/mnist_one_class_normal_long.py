"""MNIST, one class normal (Deep SVDD protocol), with the GAN and the encoder trained 4x longer
than in `mnist_one_class_normal.py` (GAN 8,000 steps, encoder 6,000 steps); everything else is
the same. Beside the published rows, the report shows the 2,000-step study's own means (read
from its committed cells), so the effect of training length is visible per class.

    python -m experiments.run_study experiments/configs/mnist_one_class_normal_long.py
"""

import dataclasses

from anogan_jax.runs.config import RunConfig
from anogan_jax.studies.config import Study
from experiments.configs._common import (
    ENCODER,
    GAN,
    METHODS,
    main_study_means,
)
from experiments.configs.mnist_one_class_normal import ANOGAN, OC_DEEP_SVDD, OCGAN

STUDY = Study(
    name="mnist_one_class_normal_long",
    run=RunConfig(dataset="mnist", protocol="one_class_normal", gcn=True, **{**GAN, "steps": 8000}),
    classes=tuple(range(10)),
    seeds=(0, 1, 2),
    methods=METHODS,
    encoder=dataclasses.replace(ENCODER, steps=6000),
    published={
        "AnoGAN (Ruff+ 2018)": ANOGAN,
        "OC Deep SVDD (Ruff+ 2018)": OC_DEEP_SVDD,
        "OCGAN (Perera+ 2019)": OCGAN,
        **main_study_means("mnist_one_class_normal", ("anogan", "hybrid"), "2,000 steps"),
    },
)
