"""MNIST, one class anomalous (GANomaly protocol), with f-AnoGAN's own recipe (`_fanogan.py`)
on the `mlp` GAN (the Keras MNIST GAN). Beside it, the old recipe's means from the committed
`mnist_one_class_anomalous` cells. The class column is the ANOMALOUS class.

    python -m experiments.run_study experiments/configs/mnist_one_class_anomalous_fanogan_mlp.py
"""

from experiments.configs._fanogan import fanogan_study

STUDY = fanogan_study(
    "mnist_one_class_anomalous_fanogan_mlp",
    "mnist",
    "one_class_anomalous",
    "mnist_one_class_anomalous",
)
