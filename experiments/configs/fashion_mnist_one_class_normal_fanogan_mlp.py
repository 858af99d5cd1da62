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
        "\nEvery cell was computed by commit 440e729 (the configs' commit) in its own worktree, "
        "on a 2-core Intel Xeon shared with other work (paused for benchmarks), each process "
        "started with both cores visible and then pinned to one; the report is aggregated by "
        "later code, and the frontier's images/s were measured apart, quietly, by "
        "`experiments/bench_frontier.py` (`frontier_speed.md`). Published means to compare "
        "with, under this protocol (quoted as means only: no per-class column): GEOM (Golan & "
        "El-Yaniv 2018) 93.5, ARNet (Ye et al. 2020) 93.9, the issue's target for the best "
        "method.\n"
        "f-AnoGAN (90.7) is above the AnoGAN search (87.5), as its paper reports, and 5.3 "
        "points above the old recipe's f-AnoGAN (85.4): sandal (class 5) goes from 43.1 to 89.9. "
        "The best method, the seed ensemble of f-AnoGAN (91.3), misses the target of 93.9 by "
        "2.6 points (GEOM's 93.5 by 2.2); the old recipe's best was its hybrid, 90.4. The "
        "frontier does not bend here either: each search step from E(x) lowers the mean (10, "
        "30, 100 steps: 89.2, 89.2, 88.8), most on the upper-body garments (from the one pass "
        "to 100 steps: pullover -2.0, coat -2.8, shirt -9.6 points); a likely reason, not "
        "tested, is that a longer search lets G explain the other garments as well as the "
        "normal one. The pair table names the confusions: sandal vs sneaker (f-AnoGAN 44.6), "
        "shirt vs T-shirt (55.5), pullover vs coat (62.5), bag vs sneaker (search 43.0): each "
        "a neighbour in shape. The weak "
        "classes are shirt (81.3) and bag (84.5). What was tried: this recipe on the MLP GAN, "
        "fixed in advance, one variant. The next step is the same recipe on the convolutional "
        "GAN (dcgan28_light), as for MNIST, whose study is running.\n"
    ),
)
