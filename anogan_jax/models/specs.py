"""One record per architecture (:class:`ArchSpec`): what it is, the image sizes it takes, its
published z size and channel base, and how its networks are built. Everything that names an
architecture's facts (``check_arch``, ``supported_sizes``, ``default_arch``, the CLI's ``--arch``
help, the configs' validation) reads them from ``SPECS``, so that they cannot drift apart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import flax.linen as nn

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
from anogan_jax.models.layers import DEFAULT_WIDTH, ConvEncoder, Critic
from anogan_jax.models.resnet import ResNet64Generator, ResNet64Trunk

CHANNELS = (1, 3)  # every architecture takes grey or RGB images


@dataclasses.dataclass(frozen=True)
class ArchSpec:
    """The facts of one architecture.

    Attributes:
      name: the ``--arch`` value.
      description: one line naming what it is, for help texts.
      sizes: the square sides (H = W) it is built for; None: any H x W.
      latent_dim: the size of z it was published with.
      width: its default channel base, which ``width`` overrides; None: fixed layers.
      gan: ``(shape, critic_norm, width, kw) -> (generator, critic)`` flax modules, ``kw``
        holding ``impl`` and ``dtype``.
      encoder: ``(shape, latent_dim, bounded, width, kw) -> encoder`` flax module.
    """

    name: str
    description: str
    sizes: tuple[int, ...] | None
    latent_dim: int
    width: int | None
    gan: Callable[..., tuple[nn.Module, nn.Module]] = dataclasses.field(repr=False)
    encoder: Callable[..., nn.Module] = dataclasses.field(repr=False)

    @property
    def wide(self) -> bool:
        """Whether ``width`` sets its channels."""
        return self.width is not None

    def fits(self, h: int, w: int) -> bool:
        """Whether it is built for H x W images (any channel count in ``CHANNELS``)."""
        return self.sizes is None or (h == w and h in self.sizes)

    @property
    def sizes_text(self) -> str:
        """The sizes as text: "28x28", "16x16, 32x32, 64x64 or 128x128", "any HxW"."""
        if self.sizes is None:
            return "any HxW"
        names = [f"{s}x{s}" for s in self.sizes]
        return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def _conv_encoder(trunk: Callable[[int | None, dict], nn.Module]):
    """An ``ArchSpec.encoder`` putting a linear head on ``trunk(width, kw)`` (LayerNorm)."""

    def build(shape, latent_dim, bounded, width, kw):
        return ConvEncoder(trunk(width, kw), latent_dim, bounded, kw["dtype"])

    return build


def _dcgan28_gan(shape, norm, width, kw):
    return DCGAN28Generator(channels=shape[2], **kw), DCGAN28Discriminator(norm, **kw)


def _dcgan28_light_gan(shape, norm, width, kw):
    return DCGAN28LightGenerator(channels=shape[2], **kw), DCGAN28LightDiscriminator(norm, **kw)


def _mlp_gan(shape, norm, width, kw):
    return MLPGenerator(shape, kw["dtype"]), MLPDiscriminator(kw["dtype"])


def _mlp_encoder(shape, latent_dim, bounded, width, kw):
    return MLPEncoder(latent_dim, bounded, dtype=kw["dtype"])


def _dcgan_gan(shape, norm, width, kw):
    trunk = DCGANTrunk(norm, width, **kw)
    return DCGANGenerator(shape[0], shape[2], width, **kw), Critic(trunk, kw["dtype"])


def _resnet64_gan(shape, norm, width, kw):
    # The WGAN-GP critic of f-AnoGAN always uses LayerNorm, whatever the objective.
    trunk = ResNet64Trunk(width, **kw)
    return ResNet64Generator(shape[2], width, **kw), Critic(trunk, kw["dtype"])


# In the order ``default_arch`` prefers them: the cheap 28x28 DCGAN first, the any-size MLP last.
SPECS = (
    ArchSpec(
        "dcgan28_light",
        "a DCGAN about 10x cheaper than dcgan28",
        (28,),
        100,
        None,
        _dcgan28_light_gan,
        _conv_encoder(lambda width, kw: DCGAN28LightDiscriminator("layer", **kw)),
    ),
    ArchSpec(
        "dcgan28",
        "the AnoGAN MNIST DCGAN",
        (28,),
        100,
        None,
        _dcgan28_gan,
        _conv_encoder(lambda width, kw: DCGAN28Discriminator("layer", **kw)),
    ),
    ArchSpec(
        "dcgan",
        "Radford et al.'s DCGAN with 3x3 kernels",
        (16, 32, 64, 128),
        100,
        DEFAULT_WIDTH,
        _dcgan_gan,
        _conv_encoder(lambda width, kw: DCGANTrunk("layer", width, **kw)),
    ),
    ArchSpec(
        "resnet64",
        "f-AnoGAN's WGAN-GP ResNet (Gulrajani et al.'s)",
        (64,),
        128,
        DEFAULT_WIDTH,
        _resnet64_gan,
        _conv_encoder(lambda width, kw: ResNet64Trunk(width, **kw)),
    ),
    ArchSpec("mlp", "the Keras MNIST MLP GAN", None, 100, None, _mlp_gan, _mlp_encoder),
)
ARCHS = tuple(s.name for s in SPECS)
WIDE_ARCHS = tuple(s.name for s in SPECS if s.wide)
_BY_NAME = {s.name: s for s in SPECS}


def get_spec(arch: str) -> ArchSpec:
    """The spec of ``arch``; ValueError naming the known ones for any other name."""
    if arch not in _BY_NAME:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    return _BY_NAME[arch]


def as_shape(image_shape) -> tuple[int, int, int]:
    """``image_shape`` as an (H, W, C) tuple of ints; ValueError for anything else."""
    shape = tuple(int(d) for d in image_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"image_shape must be (H, W, C), got {tuple(image_shape)}")
    return shape


def supported_sizes(arch: str) -> str:
    """The image sizes ``arch`` is built for, as text: "28x28", "64x64", "any HxW", ..."""
    return get_spec(arch).sizes_text


def archs_fitting(h: int, w: int, *, wide: bool = False) -> tuple[str, ...]:
    """The archs built for H x W images, in ``SPECS`` order; with ``wide``, only those whose
    channel base ``width`` sets."""
    return tuple(s.name for s in SPECS if s.fits(h, w) and (s.wide or not wide))


def check_arch(arch: str, image_shape) -> None:
    """Raises ValueError unless ``arch`` is built for images of ``image_shape`` (H, W, C).

    The message names the arch, the shape, the sizes it supports and the archs that fit.
    """
    spec = get_spec(arch)
    h, w, c = as_shape(image_shape)
    shape = f"{h}x{w}x{c}"
    if c not in CHANNELS:
        raise ValueError(
            f"arch {arch!r} takes images with 1 or 3 channels; these are {shape}: no arch "
            "takes them, convert the images to grayscale or RGB"
        )
    if not spec.fits(h, w):
        fits = [f"{a} ({supported_sizes(a)})" for a in archs_fitting(h, w)]
        raise ValueError(
            f"arch {arch!r} is built for {spec.sizes_text} images; these are {shape}: "
            f"use --arch {' or '.join(fits)}"
        )


def default_arch(side: int, *, wide: bool = False) -> str:
    """The arch used when none is named: the first in ``ARCHS`` built for side x side images;
    with ``wide``, the first of those whose channel base ``width`` sets, if one is. ``mlp``
    takes any size, so there always is one."""
    fitting = archs_fitting(side, side)
    return ((archs_fitting(side, side, wide=True) if wide else ()) + fitting)[0]


def default_latent_dim(arch: str) -> int:
    """The size of z the arch was published with (``ArchSpec.latent_dim``)."""
    return get_spec(arch).latent_dim
