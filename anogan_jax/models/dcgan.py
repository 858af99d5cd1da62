"""Radford et al.'s DCGAN (``dcgan``) with 3x3 kernels, for square powers of two 16..128."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from anogan_jax.models.layers import DEFAULT_WIDTH, _batch_norm, _Conv, _dense, _norm


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
