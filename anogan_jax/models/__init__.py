"""Networks as pure ``init`` / ``apply`` functions over explicit pytrees.

This package's modules are the only ones that import flax: ``layers`` (the shared building
blocks), ``dcgan28``, ``dcgan``, ``resnet`` and ``classifier`` (the networks), ``specs`` (one
:class:`ArchSpec` per architecture); this one builds them by architecture. Every network is
returned as a :class:`Network`:

* ``init(key) -> variables`` with ``variables = {"params": ..., "batch_stats": ...}``
  (``batch_stats`` is an empty dict for networks without BatchNorm);
* ``apply(variables, x, *, train, key=None) -> (output, new_batch_stats)``.

``apply`` takes ONE batch. BatchNorm runs in training mode (batch statistics, running averages
updated and returned) when ``train=True`` and in inference mode (running statistics, nothing
updated) when ``train=False``. Training steps use ``train=True``; latent search, encoder
training, scoring and sampling use ``train=False``. Dropout (``mlp`` discriminator only) is
active only with ``train=True`` and then needs ``key``.

Every architecture takes its image shape (H, W, C) from the data, C being 1 or 3; each supports
the sizes its spec in ``SPECS`` names (``supported_sizes(arch)``), which ``check_arch`` checks
and ``default_arch`` chooses by.

Discriminators return ``(logit, features)`` with ``logit`` of shape (N,) and ``features`` the
flattened feature layer (N, F). Generators map (N, latent_dim) to images (N, H, W, C) in
[-1, 1] (tanh). Encoders map images to (N, latent_dim), unbounded unless built with
``bounded=True`` (tanh, for a uniform [-1, 1] prior).
"""

from __future__ import annotations

from typing import Any, NamedTuple

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
from anogan_jax.models.specs import (
    ARCHS,
    CHANNELS,
    SPECS,
    WIDE_ARCHS,
    ArchSpec,
    archs_fitting,
    as_shape,
    check_arch,
    default_arch,
    default_latent_dim,
    get_spec,
    supported_sizes,
)
from anogan_jax.objectives import get_objective

__all__ = [
    "ARCHS",
    "CHANNELS",
    "CLASSIFIER_FEATURES",
    "DEFAULT_WIDTH",
    "IMAGE_SHAPE",
    "SPECS",
    "WIDE_ARCHS",
    "ArchSpec",
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
    "archs_fitting",
    "check_arch",
    "count_params",
    "default_arch",
    "default_latent_dim",
    "get_spec",
    "make_classifier",
    "make_encoder",
    "make_gan",
    "supported_sizes",
]


class GANModels(NamedTuple):
    generator: Network
    discriminator: Network
    latent_dim: int
    image_shape: tuple[int, int, int]


def _width(spec: ArchSpec, width: int | None) -> int | None:
    if not spec.wide:
        if width is not None:
            raise ValueError(
                f"width sets the channels of {' and '.join(WIDE_ARCHS)}; arch {spec.name!r} has "
                "fixed layers: leave width None"
            )
        return None
    if width is None:
        return spec.width
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    return width


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
      width: channel base of the archs in ``WIDE_ARCHS`` (None: the spec's, the published
        sizes); must be None for the other archs.

    Returns:
      ``GANModels``: generator (N, latent_dim) -> (N, H, W, C); discriminator (N, H, W, C) ->
      (logit (N,), features (N, F)).
    """
    check_arch(arch, image_shape)
    spec, shape = get_spec(arch), as_shape(image_shape)
    norm = get_objective(objective).critic_norm
    kw = {"impl": conv_impl, "dtype": compute_dtype}
    g, d = spec.gan(shape, norm, _width(spec, width), kw)
    z = jnp.zeros((1, latent_dim), jnp.float32)
    x = jnp.zeros((1, *shape), jnp.float32)
    return GANModels(_network(g, z), _network(d, x), latent_dim, shape)


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
    spec, shape = get_spec(arch), as_shape(image_shape)
    kw = {"impl": conv_impl, "dtype": compute_dtype}
    module = spec.encoder(shape, latent_dim, bounded, _width(spec, width), kw)
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
    return _network(module, jnp.zeros((1, *as_shape(image_shape)), jnp.float32))
