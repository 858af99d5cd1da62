"""MNIST, one class normal (Deep SVDD protocol), with the GAN and the encoder trained 4x longer
than in `mnist_one_class_normal.py` (GAN 8,000 steps, encoder 6,000 steps); everything else is
the same. Beside the published rows, the report shows the 2,000-step study's own means (read
from its committed cells), so the effect of training length is visible per class.

    python -m experiments.run_study experiments/configs/mnist_one_class_normal_long.py
"""

import dataclasses

from anogan_jax.runs.config import RunConfig
from anogan_jax.runs.study_config import Study
from experiments.configs._common import (
    ENCODER,
    GAN,
    METHODS,
    NOTES,
    computed_before_the_record,
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
    notes=NOTES.replace(
        "trained 2,000 steps; the encoder 1,500 steps",
        "trained 8,000 steps; the encoder 6,000 steps",
    )
    + "\nOnly the training lengths differ from `mnist_one_class_normal` (whose per-class means "
    "are the two right-most columns).\n"
    "Longer training helps the search (AnoGAN 89.2 -> 91.0, hybrid 90.6 -> 92.1) but not the "
    "calibrated f-AnoGAN score (88.8 -> 79.5): the MLP discriminator sits at chance "
    "(d_loss ~ 2 ln 2) from about 2,000 steps on and its features drift towards a constant "
    "(on class 0, seed 1 feat_mse was exactly 0 on every normal training image), so the "
    "feature term divided by its normal-data mean ranks by noise. A_cal then leaves a term "
    "with mean 0 out (anogan_jax/encoder_run.py). Model selection on normal validation data "
    "(`train --fid-every`) was not used here.\n"
    + computed_before_the_record("Intel Xeon", "090e3ce (with uncommitted changes)"),
)
