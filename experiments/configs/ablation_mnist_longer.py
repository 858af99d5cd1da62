"""Ablation for the MNIST one-class-normal study: does training longer close the gap to the
published AnoGAN mean? The GAN 4x longer (8,000 steps) and the encoder 4x longer (6,000 steps),
everything else as in `mnist_one_class_normal.py`, on the three classes where that study is
furthest below the published AnoGAN row (5, 6, 9). The reference columns are the main study's
own means on those classes (read from its committed cells) and the published AnoGAN row.

    python -m experiments.run_study experiments/configs/ablation_mnist_longer.py
"""

import dataclasses

from anogan_jax.runner import RunConfig
from anogan_jax.study import Study
from experiments.configs._common import ENCODER, GAN, METHODS, NOTES, main_study_means
from experiments.configs.mnist_one_class_normal import ANOGAN

CLASSES = (5, 6, 9)

STUDY = Study(
    name="ablation_mnist_longer",
    run=RunConfig(dataset="mnist", protocol="one_class_normal", gcn=True, **{**GAN, "steps": 8000}),
    classes=CLASSES,
    seeds=(0, 1, 2),
    methods=METHODS,
    encoder=dataclasses.replace(ENCODER, steps=6000, checkpoint_every=1500),
    published={
        "AnoGAN (Ruff+ 2018)": ANOGAN,
        **main_study_means("mnist_one_class_normal", ("anogan", "hybrid"), "2,000 steps"),
    },
    notes=NOTES.replace(
        "trained 2,000 steps; the encoder 1,500 steps",
        "trained 8,000 steps; the encoder 6,000 steps",
    )
    + "\nAblation: only the training lengths differ from `mnist_one_class_normal`.\n",
)
