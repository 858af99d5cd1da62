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

Every architecture takes its image shape (H, W, C) from the data, C being 1 or 3; each supports
the sizes ``supported_sizes(arch)`` names and ``check_arch`` checks:

* ``dcgan28``, ``dcgan28_light``: the seed AnoGAN DCGANs, 28x28 only;
* ``mlp``: the seed Keras MNIST GAN, any H x W;
* ``dcgan``: Radford et al.'s DCGAN with 3x3 kernels, square powers of two 16..128;
* ``resnet64``: the f-AnoGAN WGAN-GP ResNet (Gulrajani et al.'s 64x64 ResNet), 64x64 only.

Discriminators return ``(logit, features)`` with ``logit`` of shape (N,) and ``features`` the
flattened feature layer (N, F). Generators map (N, latent_dim) to images (N, H, W, C) in
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

ARCHS = ("dcgan28", "dcgan28_light", "mlp", "dcgan", "resnet64")
IMAGE_SHAPE = (28, 28, 1)  # the default: MNIST
CHANNELS = (1, 3)
# Square sizes each convolutional arch is built for; None: any H x W.
_SIZES = {
    "dcgan28": (28,),
    "dcgan28_light": (28,),
    "mlp": None,
    "dcgan": (16, 32, 64, 128),
    "resnet64": (64,),
}
WIDE_ARCHS = ("dcgan", "resnet64")  # the archs whose channel base ``width`` sets
DEFAULT_WIDTH = 64  # the published sizes


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
    kernel_size: int = 3

    @nn.compact
    def __call__(self, x):
        cin, k = x.shape[-1], self.kernel_size
        kernel = self.param(
            "kernel", nn.initializers.lecun_normal(), (k, k, cin, self.features), jnp.float32
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


def _batch_norm(train: bool, name: str | None = None):
    # momentum 0.9 here is PyTorch's momentum=0.1; eps matches PyTorch's default.
    return BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, name=name)


def _norm(kind: str, train: bool, name: str | None = None):
    if kind == "batch":
        return _batch_norm(train, name)
    # LayerNorm over (H, W, C) per image: no batch dependence, as the WGAN-GP penalty needs.
    return nn.LayerNorm(reduction_axes=(-3, -2, -1), epsilon=1e-5, name=name)


def _dense(features, dtype):
    return nn.Dense(features, dtype=dtype, param_dtype=jnp.float32)


class Critic(nn.Module):
    """A feature trunk and a linear logit: (N, H, W, C) -> (logit (N,), features (N, F))."""

    trunk: nn.Module
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool):
        features = self.trunk(x, train)
        return _dense(1, self.dtype)(features)[:, 0].astype(jnp.float32), features


class DCGAN28Generator(nn.Module):
    """The seed AnoGAN generator (seeds 001), layer for layer: (N, latent) -> (N, 28, 28, C).

    Linear(latent, 7*7*512)+BN+ReLU; ConvT 512->256 s2 +BN+LeakyReLU; ConvT 256->128 +BN+LReLU;
    ConvT 128->64 +BN+LReLU; ConvT 64->C s2; tanh. LeakyReLU slope 0.01 (PyTorch default).
    """

    impl: str = "auto"
    dtype: Any = jnp.float32
    channels: int = 1

    @nn.compact
    def __call__(self, z, train: bool):
        x = nn.relu(_batch_norm(train)(_dense(7 * 7 * 512, self.dtype)(z)))
        x = x.reshape(z.shape[0], 7, 7, 512)
        for feats, stride in ((256, 2), (128, 1), (64, 1)):
            x = _Conv(feats, stride, 1, True, stride - 1, self.impl, self.dtype)(x)
            x = nn.leaky_relu(_batch_norm(train)(x), 0.01)
        x = _Conv(self.channels, 2, 1, True, 1, self.impl, self.dtype)(x)
        return jnp.tanh(x)


class DCGAN28Discriminator(nn.Module):
    """The seed AnoGAN discriminator (seeds 001): conv C->8->16(s2)->32(s2)->64, each with a
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
    """A DCGAN about 10x cheaper than ``dcgan28`` for CPU studies: (N, latent) -> (N, 28, 28, C).

    Linear(latent, 7*7*256)+BN+ReLU; ConvT 256->64 s2 +BN+ReLU; ConvT 64->C s2; tanh.
    """

    impl: str = "auto"
    dtype: Any = jnp.float32
    channels: int = 1

    @nn.compact
    def __call__(self, z, train: bool):
        x = nn.relu(_batch_norm(train)(_dense(7 * 7 * 256, self.dtype)(z)))
        x = x.reshape(z.shape[0], 7, 7, 256)
        x = _Conv(64, 2, 1, True, 1, self.impl, self.dtype)(x)
        x = nn.relu(_batch_norm(train)(x))
        return jnp.tanh(_Conv(self.channels, 2, 1, True, 1, self.impl, self.dtype)(x))


class DCGAN28LightDiscriminator(nn.Module):
    """conv C->32 s2 +LReLU(0.2); conv 32->64 s2 +norm+LReLU(0.2); features 7x7x64; logit."""

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
    """The seed Keras MNIST GAN generator (seeds 002): latent->256->256->H*W*C, ReLU then BN,
    reshaped to (N, H, W, C).

    The seed's sigmoid output is a tanh here, to match images scaled to [-1, 1].
    """

    image_shape: tuple[int, int, int] = IMAGE_SHAPE
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, z, train: bool):
        h, w, c = self.image_shape
        x = _batch_norm(train)(nn.relu(_dense(256, self.dtype)(z)))
        x = _batch_norm(train)(nn.relu(_dense(256, self.dtype)(x)))
        return jnp.tanh(_dense(h * w * c, self.dtype)(x)).reshape(z.shape[0], h, w, c)


class MLPDiscriminator(nn.Module):
    """The seed Keras MNIST GAN discriminator: H*W*C->128->128 (ReLU, dropout 0.2) -> logit.

    The seed's 2-way softmax is the equivalent single logit; features = the last hidden layer.
    """

    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool):
        x = x.reshape(x.shape[0], -1)
        for _ in range(2):
            x = nn.Dropout(0.2, deterministic=not train)(nn.relu(_dense(128, self.dtype)(x)))
        return _dense(1, self.dtype)(x)[:, 0].astype(jnp.float32), x


def _num_doublings(size: int) -> int:
    """DCGAN layers between 4x4 and size/2: log2(size) - 3 (3 at 64x64)."""
    return size.bit_length() - 4


class DCGANGenerator(nn.Module):
    """Radford et al.'s DCGAN generator with 3x3 kernels: (N, latent) -> (N, S, S, C), S = 2^m.

    Linear(latent, 4*4*width*2^n) reshaped to 4x4, +BN+ReLU; n = log2(S) - 3 ConvT s2 halving
    the channels, each +BN+ReLU, to (S/2)x(S/2)x width; ConvT width->C s2; tanh. At S = 64 and
    width 64: 4x4x512 -> 8x8x256 -> 16x16x128 -> 32x32x64 -> 64x64xC.
    """

    size: int
    channels: int
    width: int = DEFAULT_WIDTH
    impl: str = "auto"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, z, train: bool):
        n = _num_doublings(self.size)
        x = _dense(16 * self.width * 2**n, self.dtype)(z).reshape(z.shape[0], 4, 4, -1)
        x = nn.relu(_batch_norm(train)(x))
        for i in reversed(range(n)):
            x = _Conv(self.width * 2**i, 2, 1, True, 1, self.impl, self.dtype)(x)
            x = nn.relu(_batch_norm(train)(x))
        return jnp.tanh(_Conv(self.channels, 2, 1, True, 1, self.impl, self.dtype)(x))


class DCGANTrunk(nn.Module):
    """The DCGAN critic's trunk, mirroring the generator: (N, S, S, C) -> (N, 16*width*2^n).

    conv C->width s2 +LReLU(0.2) (no norm, as in DCGAN); n = log2(S) - 3 convs s2 doubling the
    channels, each +norm+LReLU(0.2), to 4x4x(width*2^n); flattened (8192 at 64x64, width 64).
    """

    norm: str = "batch"
    width: int = DEFAULT_WIDTH
    impl: str = "auto"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool):
        n = _num_doublings(x.shape[1])
        x = nn.leaky_relu(_Conv(self.width, 2, 1, impl=self.impl, dtype=self.dtype)(x), 0.2)
        for i in range(1, n + 1):
            x = _Conv(self.width * 2**i, 2, 1, impl=self.impl, dtype=self.dtype)(x)
            x = nn.leaky_relu(_norm(self.norm, train)(x), 0.2)
        return x.reshape(x.shape[0], -1)


def _upsample(x):
    """Nearest-neighbour 2x: (N, H, W, C) -> (N, 2H, 2W, C)."""
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def _mean_pool(x):
    """2x2 mean pool: (N, H, W, C) -> (N, H/2, W/2, C)."""
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


class ResBlockUp(nn.Module):
    """Residual up block of the 64x64 WGAN-GP ResNet: (N, H, W, in) -> (N, 2H, 2W, features).

    shortcut: upsample, conv 1x1 (in->out); main: BN, ReLU, upsample, conv 3x3 (in->out), BN,
    ReLU, conv 3x3 (out->out); their sum.
    """

    features: int
    impl: str = "auto"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool):
        conv_kw = {"impl": self.impl, "dtype": self.dtype}
        # A 1x1 conv commutes with nearest upsampling; convolving first is 4x cheaper.
        shortcut = _Conv(self.features, padding=0, kernel_size=1, name="shortcut", **conv_kw)(x)
        y = nn.relu(_batch_norm(train, "norm_1")(x))
        y = _Conv(self.features, name="conv_1", **conv_kw)(_upsample(y))
        y = nn.relu(_batch_norm(train, "norm_2")(y))
        return _upsample(shortcut) + _Conv(self.features, name="conv_2", **conv_kw)(y)


class ResBlockDown(nn.Module):
    """Residual down block of the 64x64 WGAN-GP critic: (N, H, W, in) -> (N, H/2, W/2, out).

    shortcut: conv 1x1 (in->out), 2x2 mean pool; main: LayerNorm, ReLU, conv 3x3 (in->in),
    LayerNorm, ReLU, conv 3x3 (in->out), 2x2 mean pool; their sum.
    """

    features: int
    impl: str = "auto"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool):
        conv_kw = {"impl": self.impl, "dtype": self.dtype}
        # A 1x1 conv commutes with mean pooling; pooling first (as the original) is 4x cheaper.
        shortcut = _Conv(self.features, padding=0, kernel_size=1, name="shortcut", **conv_kw)
        y = nn.relu(_norm("layer", train, "norm_1")(x))
        y = _Conv(x.shape[-1], name="conv_1", **conv_kw)(y)
        y = nn.relu(_norm("layer", train, "norm_2")(y))
        y = _Conv(self.features, name="conv_2", **conv_kw)(y)
        return shortcut(_mean_pool(x)) + _mean_pool(y)


class ResNet64Generator(nn.Module):
    """The f-AnoGAN generator (Gulrajani et al.'s 64x64 ResNet): (N, latent) -> (N, 64, 64, C).

    Linear(latent, 4*4*8*width) reshaped to 4x4x(8*width); up blocks 8w->8w, 8w->4w, 4w->2w,
    2w->w (4 -> 8 -> 16 -> 32 -> 64); BN, ReLU, conv 3x3 width->C; tanh.
    """

    channels: int
    width: int = DEFAULT_WIDTH
    impl: str = "auto"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, z, train: bool):
        w = self.width
        x = _dense(4 * 4 * 8 * w, self.dtype)(z).astype(jnp.float32)
        x = x.reshape(z.shape[0], 4, 4, 8 * w)
        for feats in (8 * w, 4 * w, 2 * w, w):
            x = ResBlockUp(feats, self.impl, self.dtype)(x, train)
        x = nn.relu(_batch_norm(train)(x))
        return jnp.tanh(_Conv(self.channels, impl=self.impl, dtype=self.dtype)(x))


class ResNet64Trunk(nn.Module):
    """The f-AnoGAN critic's trunk: (N, 64, 64, C) -> features (N, 4*4*8*width) (8192 at 64).

    conv 3x3 C->width; down blocks w->2w, 2w->4w, 4w->8w, 8w->8w (64 -> 32 -> 16 -> 8 -> 4);
    flattened. Always LayerNorm: it is a WGAN-GP critic, and keeps LayerNorm under BatchNorm
    objectives too.
    """

    width: int = DEFAULT_WIDTH
    impl: str = "auto"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool):
        w = self.width
        x = _Conv(w, impl=self.impl, dtype=self.dtype)(x)
        for feats in (2 * w, 4 * w, 8 * w, 8 * w):
            x = ResBlockDown(feats, self.impl, self.dtype)(x, train)
        return x.reshape(x.shape[0], -1)


class ConvEncoder(nn.Module):
    """A critic-like encoder: a critic's trunk (LayerNorm, no batch dependence) and a linear
    head to the latent space: (N, H, W, C) -> (N, latent_dim)."""

    trunk: nn.Module
    latent_dim: int
    bounded: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool):
        out = self.trunk(x, train)
        # The 28x28 archs' trunk is their whole critic, logit unused (kept: checkpoints restore).
        features = out[1] if isinstance(out, tuple) else out
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


def _check_known(arch: str) -> None:
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")


def _as_shape(image_shape) -> tuple[int, int, int]:
    shape = tuple(int(d) for d in image_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"image_shape must be (H, W, C), got {tuple(image_shape)}")
    return shape


def _fits(arch: str, h: int, w: int) -> bool:
    sizes = _SIZES[arch]
    return sizes is None or (h == w and h in sizes)


def supported_sizes(arch: str) -> str:
    """The image sizes ``arch`` is built for, as text: "28x28", "64x64", "any HxW", ..."""
    _check_known(arch)
    if _SIZES[arch] is None:
        return "any HxW"
    names = [f"{s}x{s}" for s in _SIZES[arch]]
    return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def check_arch(arch: str, image_shape) -> None:
    """Raises ValueError unless ``arch`` is built for images of ``image_shape`` (H, W, C).

    The message names the arch, the shape, the sizes it supports and the archs that fit.
    """
    _check_known(arch)
    h, w, c = _as_shape(image_shape)
    shape = f"{h}x{w}x{c}"
    if c not in CHANNELS:
        raise ValueError(
            f"arch {arch!r} takes images with 1 or 3 channels; these are {shape}: no arch "
            "takes them, convert the images to grayscale or RGB"
        )
    if not _fits(arch, h, w):
        # The archs built for this size first, the any-size mlp last.
        fits = sorted((a for a in ARCHS if _fits(a, h, w)), key=lambda a: _SIZES[a] is None)
        fits = [f"{a} ({supported_sizes(a)})" for a in fits]
        raise ValueError(
            f"arch {arch!r} is built for {supported_sizes(arch)} images; these are {shape}: "
            f"use --arch {' or '.join(fits)}"
        )


def default_latent_dim(arch: str) -> int:
    """The size of z the arch was published with: 128 for ``resnet64``, 100 otherwise."""
    _check_known(arch)
    return 128 if arch == "resnet64" else 100


def _width(arch: str, width: int | None) -> int | None:
    if arch not in WIDE_ARCHS:
        if width is not None:
            raise ValueError(
                f"width sets the channels of {' and '.join(WIDE_ARCHS)}; arch {arch!r} has "
                "fixed layers: leave width None"
            )
        return None
    if width is None:
        return DEFAULT_WIDTH
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    return width


def _gan_modules(arch, shape, norm, width, kw) -> tuple[nn.Module, nn.Module]:
    """(generator, critic) modules; ``kw`` holds ``impl`` and ``dtype``."""
    size, _, channels = shape
    if arch == "dcgan28":
        return DCGAN28Generator(channels=channels, **kw), DCGAN28Discriminator(norm, **kw)
    if arch == "dcgan28_light":
        g = DCGAN28LightGenerator(channels=channels, **kw)
        return g, DCGAN28LightDiscriminator(norm, **kw)
    if arch == "mlp":
        return MLPGenerator(shape, kw["dtype"]), MLPDiscriminator(kw["dtype"])
    if arch == "dcgan":
        g = DCGANGenerator(size, channels, width, **kw)
        return g, Critic(DCGANTrunk(norm, width, **kw), kw["dtype"])
    g = ResNet64Generator(channels, width, **kw)
    return g, Critic(ResNet64Trunk(width, **kw), kw["dtype"])


def make_gan(
    arch: str,
    *,
    image_shape=IMAGE_SHAPE,
    latent_dim: int = 100,
    objective: str = "non_saturating",
    conv_impl: str = "auto",
    compute_dtype: Any = jnp.float32,
    width: int | None = None,
) -> GANModels:
    """Builds the generator and discriminator of an architecture.

    Args:
      arch: one of ``ARCHS``.
      image_shape: (H, W, C) of the images; ``check_arch`` checks the arch is built for it.
      latent_dim: size of z (``default_latent_dim(arch)`` is the published one).
      objective: its ``critic_norm`` (LayerNorm for ``wgan_gp``) is the critic's normalisation,
        except for ``resnet64``, whose WGAN-GP critic always uses LayerNorm.
      conv_impl: convolution formulation (see ``conv.py``); the function is the same for all.
      compute_dtype: dtype of convolutions and matmuls; parameters stay float32.
      width: channel base of ``dcgan`` and ``resnet64`` (None: 64, the published sizes); must
        be None for the other archs.

    Returns:
      ``GANModels``: generator (N, latent_dim) -> (N, H, W, C); discriminator (N, H, W, C) ->
      (logit (N,), features (N, F)).
    """
    check_arch(arch, image_shape)
    shape = _as_shape(image_shape)
    norm = get_objective(objective).critic_norm
    kw = {"impl": conv_impl, "dtype": compute_dtype}
    g, d = _gan_modules(arch, shape, norm, _width(arch, width), kw)
    z = jnp.zeros((1, latent_dim), jnp.float32)
    x = jnp.zeros((1, *shape), jnp.float32)
    return GANModels(_network(g, z), _network(d, x), latent_dim, shape)


def _encoder_trunk(arch, width, kw) -> nn.Module:
    if arch == "dcgan28":
        return DCGAN28Discriminator("layer", **kw)
    if arch == "dcgan28_light":
        return DCGAN28LightDiscriminator("layer", **kw)
    if arch == "dcgan":
        return DCGANTrunk("layer", width, **kw)
    return ResNet64Trunk(width, **kw)


def make_encoder(
    arch: str,
    *,
    image_shape=IMAGE_SHAPE,
    latent_dim: int = 100,
    bounded: bool = False,
    conv_impl: str = "auto",
    compute_dtype: Any = jnp.float32,
    width: int | None = None,
) -> Network:
    """The f-AnoGAN encoder for an architecture (LayerNorm, no BatchNorm): the critic's trunk
    and a linear head, (N, H, W, C) -> (N, latent_dim); tanh on top only if ``bounded``.

    Arguments as in ``make_gan``.
    """
    check_arch(arch, image_shape)
    shape = _as_shape(image_shape)
    width = _width(arch, width)
    if arch == "mlp":
        module = MLPEncoder(latent_dim, bounded, dtype=compute_dtype)
    else:
        trunk = _encoder_trunk(arch, width, {"impl": conv_impl, "dtype": compute_dtype})
        module = ConvEncoder(trunk, latent_dim, bounded, compute_dtype)
    return _network(module, jnp.zeros((1, *shape), jnp.float32))


def count_params(tree) -> int:
    return sum(int(x.size) for x in jax.tree_util.tree_leaves(tree))


CLASSIFIER_FEATURES = 128


class Classifier(nn.Module):
    """A small convolutional classifier of (H, W, C) images: the feature network of the GAN
    metrics (FID / KID features, Inception Score probabilities).

    conv C->32, conv 32->64 s2, conv 64->128 s2 (3x3, ReLU, no norm, so features do not depend
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
    *,
    num_classes: int = 10,
    image_shape=IMAGE_SHAPE,
    conv_impl: str = "auto",
    compute_dtype: Any = jnp.float32,
) -> Network:
    """The feature classifier of (H, W, C) images: ``apply(variables, x, train=...)`` gives
    ``((logits, features), {})`` with logits (N, num_classes) and features
    (N, CLASSIFIER_FEATURES), float32."""
    module = Classifier(num_classes, conv_impl, compute_dtype)
    return _network(module, jnp.zeros((1, *_as_shape(image_shape)), jnp.float32))
