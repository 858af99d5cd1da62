"""The AnoGAN MNIST networks: the 28x28 DCGANs (``dcgan28``, ``dcgan28_light``) and the Keras
MNIST MLP GAN (``mlp``, any H x W), with the MLP's encoder."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from anogan_jax.models.layers import IMAGE_SHAPE, _batch_norm, _Conv, _dense, _norm


class DCGAN28Generator(nn.Module):
    """The AnoGAN MNIST generator of a PyTorch reference implementation, layer for layer:
    (N, latent) -> (N, 28, 28, C).

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
    """The AnoGAN MNIST discriminator (the same PyTorch reference): conv C->8->16(s2)->32(s2)->64,
    each with a norm layer and LeakyReLU(0.01); features = the flattened 7x7x64 map; a linear logit.

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
    """The Keras MNIST GAN generator: latent->256->256->H*W*C, ReLU then BN,
    reshaped to (N, H, W, C).

    The Keras model's sigmoid output is a tanh here, to match images scaled to [-1, 1].
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
    """The Keras MNIST GAN discriminator: H*W*C->128->128 (ReLU, dropout 0.2) -> logit.

    The Keras model's 2-way softmax is the equivalent single logit; features = the last hidden
    layer.
    """

    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool):
        x = x.reshape(x.shape[0], -1)
        for _ in range(2):
            x = nn.Dropout(0.2, deterministic=not train)(nn.relu(_dense(128, self.dtype)(x)))
        return _dense(1, self.dtype)(x)[:, 0].astype(jnp.float32), x


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
