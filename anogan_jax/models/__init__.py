"""Networks as pure ``init`` / ``apply`` functions over explicit pytrees.

This package's modules are the only ones that import flax: ``layers`` (the shared building
blocks), ``dcgan28``, ``dcgan``, ``resnet`` and ``classifier`` (the networks); this one builds
them by architecture. Every network is returned as a :class:`Network`:

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

from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from anogan_jax.models.classifier import CLASSIFIER_FEATURES, Classifier
from anogan_jax.models.dcgan import DCGANGenerator, DCGANTrunk
from anogan_jax.models.dcgan28 import (
    DCGAN28Discriminator,
    DCGAN28Generator,
    DCGAN28LightDiscriminator,
    DCGAN28LightGenerator,
    MLPDiscriminator,
    MLPEncoder,
    MLPGenerator,
)
from anogan_jax.models.layers import (
    DEFAULT_WIDTH,
    IMAGE_SHAPE,
    BatchNorm,
    ConvEncoder,
    Critic,
    Network,
    _network,
)
from anogan_jax.models.resnet import ResBlockDown, ResBlockUp, ResNet64Generator, ResNet64Trunk
from anogan_jax.objectives import get_objective

__all__ = [
    "ARCHS",
    "CHANNELS",
    "CLASSIFIER_FEATURES",
    "DEFAULT_WIDTH",
    "IMAGE_SHAPE",
    "WIDE_ARCHS",
    "BatchNorm",
    "Classifier",
    "ConvEncoder",
    "Critic",
    "DCGAN28Discriminator",
    "DCGAN28Generator",
    "DCGAN28LightDiscriminator",
    "DCGAN28LightGenerator",
    "DCGANGenerator",
    "DCGANTrunk",
    "GANModels",
    "MLPDiscriminator",
    "MLPEncoder",
    "MLPGenerator",
    "Network",
    "ResBlockDown",
    "ResBlockUp",
    "ResNet64Generator",
    "ResNet64Trunk",
    "check_arch",
    "count_params",
    "default_latent_dim",
    "make_classifier",
    "make_encoder",
    "make_gan",
    "supported_sizes",
]
ARCHS = ("dcgan28", "dcgan28_light", "mlp", "dcgan", "resnet64")
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


class GANModels(NamedTuple):
    generator: Network
    discriminator: Network
    latent_dim: int
    image_shape: tuple[int, int, int]


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
