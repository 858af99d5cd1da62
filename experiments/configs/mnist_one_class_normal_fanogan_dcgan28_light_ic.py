"""The complexity rows that `mnist_one_class_normal_fanogan_dcgan28_light` lacks: its classes
0-3, whose score folders were gone when the `<m>_ic` rows were added, computed again with the
same settings, so that every method and its complexity row come from the same models. Which
classes is fixed by that loss alone, not by any result; the full study's rows for them stand
beside these as the comparison (the plain rows computed again move by the run-to-run spread:
the same settings on another machine, or with other cores, train other models).

    python -m experiments.run_study \\
        experiments/configs/mnist_one_class_normal_fanogan_dcgan28_light_ic.py
"""

import dataclasses

from experiments.configs._common import main_study_means
from experiments.configs._fanogan import saving_often
from experiments.configs.mnist_one_class_normal_fanogan_dcgan28_light import STUDY as FULL

CLASSES = (0, 1, 2, 3)
FULL_ROWS = main_study_means(
    FULL.name, ("anogan", "fanogan", "fanogan_img", "hybrid"), "the full study"
)
# The full study's rows and the published ones (its other comparisons are in its report).
PAPERS = ("AnoGAN (Ruff+ 2018)", "OC Deep SVDD (Ruff+ 2018)", "OCGAN (Perera+ 2019)")

STUDY = saving_often(
    dataclasses.replace(
        FULL,
        name="mnist_one_class_normal_fanogan_dcgan28_light_ic",
        classes=CLASSES,
        published={
            label: {c: v for c, v in by_class.items() if c in CLASSES}
            for label, by_class in {
                **FULL_ROWS,
                **{p: FULL.published[p] for p in PAPERS},
            }.items()
        },
    )
)
