"""MNIST, one class anomalous (GANomaly protocol), with f-AnoGAN's own recipe (`_fanogan.py`)
on the seeds' MLP GAN. Beside it, the old recipe's means from the committed
`mnist_one_class_anomalous` cells. The class column is the ANOMALOUS class.

    python -m experiments.run_study experiments/configs/mnist_one_class_anomalous_fanogan_mlp.py
"""

from experiments.configs._fanogan import fanogan_study

STUDY = fanogan_study(
    "mnist_one_class_anomalous_fanogan_mlp",
    "mnist",
    "one_class_anomalous",
    "mnist_one_class_anomalous",
    notes="\nHere the class column is the ANOMALOUS class.\n"
    "Where the cells were computed (before the per-cell record of it): in a worktree on a "
    "2-core Intel Xeon shared with the conv study, each process started with both cores "
    "visible (so XLA splits its work for 2 cores, as in the other MLP studies) and then pinned "
    "to core 0; class 0's GANs and encoders at commit 444dca2, everything else at 2c3be41 (no "
    "training code differs between the two).\n",
)
