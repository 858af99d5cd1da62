"""Fashion-MNIST, one class normal, with f-AnoGAN's own recipe (`_fanogan.py`) on the seeds'
MLP GAN. Beside it, the old recipe's means from the committed
`fashion_mnist_one_class_normal` cells.

    python -m experiments.run_study \
        experiments/configs/fashion_mnist_one_class_normal_fanogan_mlp.py
"""

from experiments.configs._fanogan import fanogan_study

STUDY = fanogan_study(
    "fashion_mnist_one_class_normal_fanogan_mlp",
    "fashion_mnist",
    "one_class_normal",
    "fashion_mnist_one_class_normal",
    notes=(
        "\nEvery cell is computed by commit 440e729 (the configs' commit) in its own worktree, on "
        "one core of a 2-core Intel Xeon shared with other work (and paused for benchmarks), so "
        "the images/s of the frontier are indicative; the report is aggregated by later code. "
        "Published means to compare with, under this protocol (quoted as means only: no "
        "per-class column): GEOM (Golan & El-Yaniv 2018) 93.5, ARNet (Ye et al. 2020) 93.9, "
        "the issue's target for the best method.\n"
    ),
)
