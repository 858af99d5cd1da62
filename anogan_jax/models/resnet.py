"""f-AnoGAN's WGAN-GP ResNet (``resnet64``; Gulrajani et al.'s 64x64 ResNet), 64x64 only."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from anogan_jax.models.layers import (
    DEFAULT_WIDTH,
    _batch_norm,
    _Conv,
    _dense,
    _mean_pool,
    _norm,
    _upsample,
)


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
