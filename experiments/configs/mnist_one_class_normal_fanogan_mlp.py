"""MNIST, one class normal, with f-AnoGAN's own recipe (`_fanogan.py`) on the seeds' MLP GAN.
Beside the published rows the report shows the old recipe's means (non-saturating MLP GAN,
8,000 steps, GCN), read from the committed `mnist_one_class_normal_long` cells.

    python -m experiments.run_study experiments/configs/mnist_one_class_normal_fanogan_mlp.py
"""

from experiments.configs._fanogan import fanogan_study
from experiments.configs.mnist_one_class_normal import ANOGAN, OC_DEEP_SVDD, OCGAN

STUDY = fanogan_study(
    "mnist_one_class_normal_fanogan_mlp",
    "mnist",
    "one_class_normal",
    "mnist_one_class_normal_long",
    published={
        "AnoGAN (Ruff+ 2018)": ANOGAN,
        "OC Deep SVDD (Ruff+ 2018)": OC_DEEP_SVDD,
        "OCGAN (Perera+ 2019)": OCGAN,
    },
    notes=(
        "\nEvery cell was computed by commit 440e729 (the configs' commit, before the package was "
        "restructured and before scoring ran in --micro-batch blocks) on a 2-core Intel Xeon "
        "shared with other work, each process started with both cores visible. Later code "
        "gives the same AUROCs up to float rounding, not the same bytes.\n"
        "The quality-cost frontier does not bend: f-AnoGAN's one pass is both the fastest and "
        "the best of the five methods, and every search step from E(x) lowers the mean AUROC a "
        "little (one pass 93.4; 10, 30, 100 search steps 92.9, 92.7, 92.3; the 500-step search "
        "from the prior 91.8). Its images/s were measured apart, on a quiet machine, by "
        "`experiments/bench_frontier.py` on class 0, seed 0 (`frontier_speed.md`): one pass "
        "26,000 images/s; 10, 30, 100 search steps 3,670, 1,350, 415; the 500-step search 81, "
        "320x slower than the one pass. The searches score a 1,000-image subsample per class: "
        "that adds a standard error of 0.4 points to their means, as much as the seeds do. "
        "The image term alone (95.0) beats kappa = 1 (93.4), as the "
        "issue's 3-class trial found; it is reported, not chosen. The seed ensembles add 0.9 "
        "(fanogan), 0.2 (fanogan_img) and 0.5 (hybrid) points.\n"
        "Against the issue's targets: f-AnoGAN (93.4) is above the AnoGAN search (91.8), as its "
        "paper reports; f-AnoGAN's mean misses 97.5 by 4.1 and the best method (the image-term "
        "ensemble, 95.2) misses 98.3 by 3.1; class 8 is the one class more than 3 points under "
        "the published AnoGAN value (search 78.7 vs 84.9; image term 84.0). That miss is one "
        "digit: in the pair table, 8 vs 1 is at 19.9 (search) and 39.2 (f-AnoGAN), so most 1s "
        "score as more normal than the 8s, while 8 vs each other digit is 78-98. The GAN of "
        "8s draws 1s: the four lowest-scored test images of class 8, seed 0, are 1s that "
        "G(z*) reproduces almost exactly (`extremes_class8_anogan_seed0.png`, the score "
        "folder's `extremes.png`). The 1s are the hardest anomaly for most normal classes (the "
        "heatmap's column 1). The MLP GAN is the "
        "limit: the next step is the same recipe on a convolutional GAN (dcgan28_light: "
        "`mnist_one_class_normal_fanogan_dcgan28_light`, running).\n"
    ),
)
