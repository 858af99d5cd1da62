"""Fashion-MNIST, one class normal, with f-AnoGAN's own recipe (`_fanogan.py`) on the
convolutional `dcgan28_light` GAN: the settings of `fashion_mnist_one_class_normal_fanogan_mlp`,
fixed in advance (this file was written before any cell of it ran), only the architecture
differs; the MLP study's means stand beside it as the architecture comparison.

    python -m experiments.run_study \\
        experiments/configs/fashion_mnist_one_class_normal_fanogan_dcgan28_light.py

Budget, from the MNIST conv study on this machine (one core): about 1.9 h per class (3 seeds),
so about 19 hours in all; the runner resumes, so it runs in the background over several
sessions. That figure came from the cells' timings, which miss the training done before a
resume; the MNIST conv study's run logs say about 4 h per class on one core shared with other
work, so about 40 h of one core, or 20 h on two (`--classes`, see the notes). Measured since:
class 0, alone on both cores, about 1.5 h (the report's wall time, `training_time.json`).
"""

from experiments.configs._common import main_study_means
from experiments.configs._fanogan import COMPLEXITY, fanogan_study, saving_often

STUDY = fanogan_study(
    "fashion_mnist_one_class_normal_fanogan_dcgan28_light",
    "fashion_mnist",
    "one_class_normal",
    "fashion_mnist_one_class_normal",
    arch="dcgan28_light",
    complexity=COMPLEXITY,
    published=main_study_means(
        "fashion_mnist_one_class_normal_fanogan_mlp",
        ("anogan", "fanogan", "fanogan_img", "hybrid"),
        "MLP GAN, same recipe",
    ),
)

# Checkpoints often: this study runs over several sessions (see `saving_often`).
STUDY = saving_often(STUDY)
