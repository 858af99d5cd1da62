"""Fashion-MNIST, one class normal, with f-AnoGAN's own recipe (`_fanogan.py`) on the `mlp`
GAN (the Keras MNIST GAN). Beside it, the old recipe's means from the committed
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
)
