"""Networks as pure ``init`` / ``apply`` functions over explicit pytrees.

This is the only module that imports flax. Every network is returned as a :class:`Network`:

* ``init(key) -> variables`` with ``variables = {"params": ..., "batch_stats": ...}``
  (``batch_stats`` is an empty dict for networks without BatchNorm);
* ``apply(variables, x, *, train, key=None) -> (output, new_batch_stats)``.

``apply`` takes ONE batch. BatchNorm runs in training mode (batch statistics, running averages
updated and returned) when ``train=True`` and in inference mode (running statistics, nothing
updated) when ``train=False``. Training steps use ``train=True``; latent search, encoder
training, scoring and sampling use ``train=False``. Dropout (``mlp`` discriminator only) is
active only with ``train=True`` and then needs ``key``.

Discriminators return ``(logit, features)`` with ``logit`` of shape (N,) and ``features`` the
flattened feature layer (N, F). Generators map (N, latent_dim) to images (N, 28, 28, 1) in
[-1, 1] (tanh). Encoders map images to (N, latent_dim), unbounded unless built with
``bounded=True`` (tanh, for a uniform [-1, 1] prior).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from anogan_jax.objectives import get_objective
from anogan_jax.ops import batchnorm, conv, xla_cpu

ARCHS = ("dcgan28", "dcgan28_light", "mlp")
IMAGE_SHAPE = (28, 28, 1)


class Network(NamedTuple):
    """A network as two pure functions (see the module docstring)."""

    init: Callable[[jax.Array], dict]
    apply: Callable[..., tuple[Any, dict]]


class GANModels(NamedTuple):
    generator: Network
    discriminator: Network
    latent_dim: int
    image_shape: tuple[int, int, int]


class _Conv(nn.Module):
    features: int
    stride: int = 1
    padding: int = 1
    transpose: bool = False
    output_padding: int = 0
    impl: str = "auto"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        cin = x.shape[-1]
        kernel = self.param(
            "kernel", nn.initializers.lecun_normal(), (3, 3, cin, self.features), jnp.float32
        )
        bias = self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32)
        x, kernel = x.astype(self.dtype), kernel.astype(self.dtype)
        if self.transpose:
            y = conv.conv_transpose2d(
                x,
                kernel,
                stride=self.stride,
                padding=self.padding,
                output_padding=self.output_padding,
                impl=self.impl,
            )
        else:
            y = conv.conv2d(x, kernel, stride=self.stride, padding=self.padding, impl=self.impl)
        return y.astype(jnp.float32) + bias


class BatchNorm(nn.Module):
    """flax's ``nn.BatchNorm`` (same variables, statistics and results up to float rounding),
    with the training-mode arithmetic of ``batchnorm.batch_norm`` (fast on XLA:CPU)."""

    use_running_average: bool
    momentum: float = 0.9
    epsilon: float = 1e-5

    @nn.compact
    def __call__(self, x):
        x = x.astype(jnp.float32)
        shape = (x.shape[-1],)
        scale = self.param("scale", nn.initializers.ones, shape, jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, shape, jnp.float32)
        ra_mean = self.variable("batch_stats", "mean", jnp.zeros, shape, jnp.float32)
        ra_var = self.variable("batch_stats", "var", jnp.ones, shape, jnp.float32)
        if self.use_running_average:
            return batchnorm.normalize(x, ra_mean.value, ra_var.value, scale, bias, self.epsilon)
        y, mean, var = batchnorm.batch_norm(x, scale, bias, self.epsilon)
        if not self.is_initializing():
            m = self.momentum
            ra_mean.value = m * ra_mean.value + (1.0 - m) * mean
            ra_var.value = m * ra_var.value + (1.0 - m) * var
        return y


def _batch_norm(train: bool):
    # momentum 0.9 here is PyTorch's momentum=0.1; eps matches PyTorch's default.
    return BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)


def _norm(kind: str, train: bool):
    if kind == "batch":
        return _batch_norm(train)
    # LayerNorm over (H, W, C) per image: no batch dependence, as the WGAN-GP penalty needs.
    return nn.LayerNorm(reduction_axes=(-3, -2, -1), epsilon=1e-5)


def _dense(features, dtype):
    return nn.Dense(features, dtype=dtype, param_dtype=jnp.float32)


class DCGAN28Generator(nn.Module):
    """The seed AnoGAN generator (seeds 001), layer for layer.

    Linear(latent, 7*7*512)+BN+ReLU; ConvT 512->256 s2 +BN+LeakyReLU; ConvT 256->128 +BN+LReLU;
    ConvT 128->64 +BN+LReLU; ConvT 64->1 s2; tanh. LeakyReLU slope 0.01 (PyTorch default).
    """

    impl: str = "auto"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, z, train: bool):
        x = nn.relu(_batch_norm(train)(_dense(7 * 7 * 512, self.dtype)(z)))
        x = x.reshape(z.shape[0], 7, 7, 512)
        for feats, stride in ((256, 2), (128, 1), (64, 1)):
            x = _Conv(feats, stride, 1, True, stride - 1, self.impl, self.dtype)(x)
            x = nn.leaky_relu(_batch_norm(train)(x), 0.01)
        x = _Conv(1, 2, 1, True, 1, self.impl, self.dtype)(x)
        return jnp.tanh(x)


class DCGAN28Discriminator(nn.Module):
    """The seed AnoGAN discriminator (seeds 001): conv 1->8->16(s2)->32(s2)->64, each with a
    norm layer and LeakyReLU(0.01); features = the flattened 7x7x64 map; a linear logit.

    ``norm="layer"`` is the BatchNorm-free critic used with WGAN-GP.
    """

    norm: str = "batch"
    impl: str = "auto"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool):
        for feats, stride in ((8, 1), (16, 2), (32, 2), (64, 1)):
            x = _Conv(feats, stride, 1, impl=self.impl, dtype=self.dtype)(x)
            x = nn.leaky_relu(_norm(self.norm, train)(x), 0.01)
        features = x.reshape(x.shape[0], -1)
        return _dense(1, self.dtype)(features)[:, 0].astype(jnp.float32), features


class DCGAN28LightGenerator(nn.Module):
    """A DCGAN about 10x cheaper than ``dcgan28`` for CPU studies.

    Linear(latent, 7*7*256)+BN+ReLU; ConvT 256->64 s2 +BN+ReLU; ConvT 64->1 s2; tanh.
    """

    impl: str = "auto"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, z, train: bool):
        x = nn.relu(_batch_norm(train)(_dense(7 * 7 * 256, self.dtype)(z)))
        x = x.reshape(z.shape[0], 7, 7, 256)
        x = _Conv(64, 2, 1, True, 1, self.impl, self.dtype)(x)
        x = nn.relu(_batch_norm(train)(x))
        return jnp.tanh(_Conv(1, 2, 1, True, 1, self.impl, self.dtype)(x))


class DCGAN28LightDiscriminator(nn.Module):
    """conv 1->32 s2 +LReLU(0.2); conv 32->64 s2 +norm+LReLU(0.2); features 7x7x64; logit."""

    norm: str = "batch"
    impl: str = "auto"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.leaky_relu(_Conv(32, 2, 1, impl=self.impl, dtype=self.dtype)(x), 0.2)
        x = _Conv(64, 2, 1, impl=self.impl, dtype=self.dtype)(x)
        x = nn.leaky_relu(_norm(self.norm, train)(x), 0.2)
        features = x.reshape(x.shape[0], -1)
        return _dense(1, self.dtype)(features)[:, 0].astype(jnp.float32), features


class MLPGenerator(nn.Module):
    """The seed Keras MNIST GAN generator (seeds 002): 100->256->256->784, ReLU then BN.

    The seed's sigmoid output is a tanh here, to match images scaled to [-1, 1].
    """

    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, z, train: bool):
        x = _batch_norm(train)(nn.relu(_dense(256, self.dtype)(z)))
        x = _batch_norm(train)(nn.relu(_dense(256, self.dtype)(x)))
        return jnp.tanh(_dense(784, self.dtype)(x)).reshape(z.shape[0], *IMAGE_SHAPE)


class MLPDiscriminator(nn.Module):
    """The seed Keras MNIST GAN discriminator: 784->128->128 (ReLU, dropout 0.2) -> logit.

    The seed's 2-way softmax is the equivalent single logit; features = the last hidden layer.
    """

    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool):
        x = x.reshape(x.shape[0], -1)
        for _ in range(2):
            x = nn.Dropout(0.2, deterministic=not train)(nn.relu(_dense(128, self.dtype)(x)))
        return _dense(1, self.dtype)(x)[:, 0].astype(jnp.float32), x


class ConvEncoder(nn.Module):
    """A discriminator-like encoder: the discriminator's conv trunk (LayerNorm, no batch
    dependence) and a linear head to the latent space."""

    latent_dim: int
    light: bool = False
    bounded: bool = False
    impl: str = "auto"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool):
        trunk = DCGAN28LightDiscriminator if self.light else DCGAN28Discriminator
        _, features = trunk(norm="layer", impl=self.impl, dtype=self.dtype, name="trunk")(x, train)
        z = _dense(self.latent_dim, self.dtype)(features).astype(jnp.float32)
        return jnp.tanh(z) if self.bounded else z


class MLPEncoder(nn.Module):
    latent_dim: int
    bounded: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool):
        x = x.reshape(x.shape[0], -1)
        for width in (256, 256):
            x = nn.leaky_relu(_dense(width, self.dtype)(x), 0.2)
        z = _dense(self.latent_dim, self.dtype)(x).astype(jnp.float32)
        return jnp.tanh(z) if self.bounded else z


def _network(module: nn.Module, sample_input: jax.Array) -> Network:
    @xla_cpu.jit
    def init(key):
        variables = module.init(key, sample_input, train=False)
        return {"params": variables["params"], "batch_stats": variables.get("batch_stats", {})}

    def apply(variables, x, *, train, key=None):
        collections = {"params": variables["params"]}
        if variables["batch_stats"]:
            collections["batch_stats"] = variables["batch_stats"]
        rngs = {"dropout": key} if key is not None else {}
        if train and variables["batch_stats"]:
            out, updates = module.apply(
                collections, x, train=True, rngs=rngs, mutable=["batch_stats"]
            )
            return out, updates["batch_stats"]
        out = module.apply(collections, x, train=train, rngs=rngs)
        return out, variables["batch_stats"]

    return Network(init, apply)


def make_gan(
    arch: str,
    *,
    latent_dim: int = 100,
    objective: str = "non_saturating",
    conv_impl: str = "auto",
    compute_dtype: Any = jnp.float32,
) -> GANModels:
    """Builds the generator and discriminator of an architecture.

    Args:
      arch: one of ``ARCHS``.
      latent_dim: size of z.
      objective: its ``critic_norm`` (LayerNorm for ``wgan_gp``) is the critic's normalisation.
      conv_impl: convolution formulation (see ``conv.py``); the function is the same for all.
      compute_dtype: dtype of convolutions and matmuls; parameters stay float32.
    """
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    norm = get_objective(objective).critic_norm
    kw = {"dtype": compute_dtype}
    if arch == "dcgan28":
        g, d = DCGAN28Generator(conv_impl, **kw), DCGAN28Discriminator(norm, conv_impl, **kw)
    elif arch == "dcgan28_light":
        g = DCGAN28LightGenerator(conv_impl, **kw)
        d = DCGAN28LightDiscriminator(norm, conv_impl, **kw)
    else:
        g, d = MLPGenerator(**kw), MLPDiscriminator(**kw)
    z = jnp.zeros((1, latent_dim), jnp.float32)
    x = jnp.zeros((1, *IMAGE_SHAPE), jnp.float32)
    return GANModels(_network(g, z), _network(d, x), latent_dim, IMAGE_SHAPE)


def make_encoder(
    arch: str,
    *,
    latent_dim: int = 100,
    bounded: bool = False,
    conv_impl: str = "auto",
    compute_dtype: Any = jnp.float32,
) -> Network:
    """The f-AnoGAN encoder for an architecture (LayerNorm, no BatchNorm)."""
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    if arch == "mlp":
        module = MLPEncoder(latent_dim, bounded, dtype=compute_dtype)
    else:
        module = ConvEncoder(
            latent_dim, arch == "dcgan28_light", bounded, conv_impl, dtype=compute_dtype
        )
    return _network(module, jnp.zeros((1, *IMAGE_SHAPE), jnp.float32))


def count_params(tree) -> int:
    return sum(int(x.size) for x in jax.tree_util.tree_leaves(tree))


CLASSIFIER_FEATURES = 128


class Classifier(nn.Module):
    """A small convolutional classifier of 28x28x1 images: the feature network of the GAN
    metrics (FID / KID features, Inception Score probabilities).

    conv 1->32, conv 32->64 s2, conv 64->128 s2 (3x3, ReLU, no norm, so features do not depend
    on the batch); a ReLU dense layer of ``CLASSIFIER_FEATURES`` = the features; a linear
    ``num_classes``-way logit head.
    """

    num_classes: int = 10
    impl: str = "auto"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool):
        for feats, stride in ((32, 1), (64, 2), (128, 2)):
            x = nn.relu(_Conv(feats, stride, 1, impl=self.impl, dtype=self.dtype)(x))
        x = x.reshape(x.shape[0], -1)
        features = nn.relu(_dense(CLASSIFIER_FEATURES, self.dtype)(x)).astype(jnp.float32)
        logits = _dense(self.num_classes, self.dtype)(features).astype(jnp.float32)
        return logits, features


def make_classifier(
    *, num_classes: int = 10, conv_impl: str = "auto", compute_dtype: Any = jnp.float32
) -> Network:
    """The feature classifier: ``apply(variables, x, train=...)`` gives ``((logits, features),
    {})`` with logits (N, num_classes) and features (N, CLASSIFIER_FEATURES), float32."""
    module = Classifier(num_classes, conv_impl, compute_dtype)
    return _network(module, jnp.zeros((1, *IMAGE_SHAPE), jnp.float32))
