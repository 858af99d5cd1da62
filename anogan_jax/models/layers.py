"""Building blocks shared by the architectures: convolution, BatchNorm and the other norms, the
dense layer, the critic and encoder heads over a trunk, the ResNet's resampling, and
``_network``, which turns a flax module into a :class:`Network` of pure functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from anogan_jax.images import NATIVE_SHAPE
from anogan_jax.ops import batchnorm, conv, xla_cpu

IMAGE_SHAPE = NATIVE_SHAPE  # the default: MNIST's
DEFAULT_WIDTH = 64  # the published sizes


class Network(NamedTuple):
    """A network as two pure functions (see the ``anogan_jax.models`` docstring)."""

    init: Callable[[jax.Array], dict]
    apply: Callable[..., tuple[Any, dict]]


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


def _upsample(x):
    """Nearest-neighbour 2x: (N, H, W, C) -> (N, 2H, 2W, C)."""
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def _mean_pool(x):
    """2x2 mean pool: (N, H, W, C) -> (N, H/2, W/2, C)."""
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


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
