"""Batch normalisation in training mode as a pure function, with fast batch reductions on CPU.

``batch_norm(x, scale, bias, eps) -> (y, mean, var)`` is flax's ``nn.BatchNorm`` in training
mode (statistics over every axis but the last; the "fast" variance E[x^2] - E[x]^2 clipped at 0;
y = (x - mean) * (scale * rsqrt(var + eps)) + bias), so models built on it keep flax's
parameters, statistics and checkpoints.

The dense layer before the generators' first BatchNorm has few rows (the batch, 64) and many
columns (7*7*512). XLA:CPU reduces such an array over its rows at ~0.5 GB/s: flax's BatchNorm
took 13 ms forward and 23 ms forward + backward on (64, 25088), against PyTorch's 2 and 4 ms
(``experiments/results/cpu_speed.md``). With at most ``GEMV_MAX_ROWS`` rows every reduction
over the rows, forward and backward, is a matrix-vector product (``_few_rows``, a custom VJP so
the backward's reductions are products too): 1.8 and 2.8 ms. Over many rows (the BatchNorms
after convolutions, 12,544 rows at batch 64) a product sums less accurately than XLA's
reduction (4.6e-4 against 2e-5 relative error on d(scale), float64 reference), and XLA's
reduction is fast there, so those keep JAX's own reductions and derivative.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

GEMV_MAX_ROWS = 1024


def batch_norm(x, scale, bias, eps: float):
    """Training-mode BatchNorm over all axes of ``x`` but the last.

    Args:
      x: (..., C) float32 activations.
      scale, bias: (C,).
      eps: added to the variance.

    Returns:
      (y, mean, var): y like x; the batch mean and (biased) variance, (C,) each.
    """
    channels = x.shape[-1]
    rows = x.size // channels
    if rows <= GEMV_MAX_ROWS:
        y, mean, var = _few_rows(x.reshape(rows, channels), scale, bias, eps)
        return y.reshape(x.shape), mean, var
    axes = tuple(range(x.ndim - 1))
    mean = jnp.mean(x, axes)
    var = jnp.maximum(0.0, jnp.mean(x * x, axes) - mean * mean)
    return normalize(x, mean, var, scale, bias, eps), mean, var


def normalize(x, mean, var, scale, bias, eps):
    """(x - mean) * (scale * rsqrt(var + eps)) + bias, flax's BatchNorm arithmetic."""
    return (x - mean) * (lax.rsqrt(var + eps) * scale) + bias


def _row_mean(a):
    """(n, C) -> (C,): the mean over rows as one matrix-vector product."""
    weights = jnp.full((a.shape[0],), 1.0 / a.shape[0], a.dtype)
    return lax.dot_general(weights, a, (((0,), (0,)), ((), ())), precision=lax.Precision.HIGHEST)


def _stats(x):
    mean = _row_mean(x)
    return mean, jnp.maximum(0.0, _row_mean(x * x) - mean * mean)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def _few_rows(x, scale, bias, eps):
    mean, var = _stats(x)
    return normalize(x, mean, var, scale, bias, eps), mean, var


def _few_rows_fwd(x, scale, bias, eps):
    y, mean, var = _few_rows(x, scale, bias, eps)
    return (y, mean, var), (x, scale, mean, var)


def _few_rows_bwd(eps, res, cts):
    x, scale, mean, var = res
    dy, dmean, dvar = cts
    n = x.shape[0]
    rstd = lax.rsqrt(var + eps)
    xhat = (x - mean) * rstd
    mean_dy, mean_dy_xhat = _row_mean(dy), _row_mean(dy * xhat)
    # y's own path (d/dx of the normalisation, mean and variance moving with x), then the
    # paths through the returned statistics (d mean/dx = 1/n; d var/dx = 2(x - mean)/n where
    # the clip at 0 is inactive).
    dx = (scale * rstd) * (dy - mean_dy - xhat * mean_dy_xhat)
    dx = dx + dmean / n + jnp.where(var > 0, dvar, 0.0) * (2.0 / n) * (x - mean)
    return dx, n * mean_dy_xhat, n * mean_dy


_few_rows.defvjp(_few_rows_fwd, _few_rows_bwd)
