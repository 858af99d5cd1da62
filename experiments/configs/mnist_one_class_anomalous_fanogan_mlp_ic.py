"""A probe of the input-complexity rows (`anogan_jax/complexity.py`) where the residual fails
worst: MNIST one-class-anomalous with 1 as the anomaly, f-AnoGAN's recipe on the MLP GAN, the
same settings as `mnist_one_class_anomalous_fanogan_mlp` (whose class 1 is 44.5 for f-AnoGAN,
below chance), computed again with the `<m>_ic` rows beside the plain ones, from the same score
folders. Class 1 was chosen AFTER that study's test labels were seen (it is its worst class);
nothing in the complexity score was fitted to it (its form was fixed before any of its numbers,
its scales come from normal validation images).

    python -m experiments.run_study experiments/configs/mnist_one_class_anomalous_fanogan_mlp_ic.py
"""

import dataclasses

from experiments.configs._common import main_study_means
from experiments.configs._fanogan import COMPLEXITY
from experiments.configs.mnist_one_class_anomalous_fanogan_mlp import STUDY as FULL

CLASSES = (1,)
FULL_ROWS = main_study_means(
    FULL.name, ("anogan", "fanogan", "fanogan_img", "hybrid"), "the full study"
)

STUDY = dataclasses.replace(
    FULL,
    name="mnist_one_class_anomalous_fanogan_mlp_ic",
    classes=CLASSES,
    complexity=COMPLEXITY,
    published={
        label: {c: v for c, v in by_class.items() if c in CLASSES}
        for label, by_class in {**FULL_ROWS, **FULL.published}.items()
    },
)
