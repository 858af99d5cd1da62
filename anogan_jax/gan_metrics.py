"""Sample-quality metrics for GANs: FID, KID, Inception Score and Parzen-window log-likelihood.

Feature extraction (e.g. Inception pool features or class probabilities) is the caller's job;
these functions take the resulting arrays. Everything is computed in float32 on the default
device, with matrix products at ``Precision.HIGHEST`` because GPUs otherwise round float32
products to TF32, which is visible in these differences of large sums.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.special import logsumexp, xlogy

from anogan_jax.ops import xla_cpu

_matmul = functools.partial(jnp.matmul, precision=lax.Precision.HIGHEST)


def _as_features(x, name: str) -> jax.Array:
    """Casts to float32 and checks for a (N, F) array with N >= 2."""
    x = jnp.asarray(x, jnp.float32)
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (num_samples, num_features), got shape {x.shape}")
    if x.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 samples for a covariance, got {x.shape[0]}")
    return x


def _check_same_dim(a: jax.Array, b: jax.Array, names: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{names} have different feature dims: {a.shape[1]} != {b.shape[1]}")


def _sqrtm_psd(cov: jax.Array) -> jax.Array:
    """Symmetric square root of a PSD matrix, negative (rounding) eigenvalues clipped to 0."""
    w, v = jnp.linalg.eigh(cov)
    return _matmul(v * jnp.sqrt(jnp.clip(w, 0.0)), v.T)


@xla_cpu.jit
def _frechet_distance(mu1, cov1, mu2, cov2):
    # tr sqrt(C1 C2) = sum of sqrt(eig(S1 C2 S1)) = sum of singular values of S1 S2 (S = sqrt C).
    # The singular values are taken directly: in float32, forming S1 C2 S1 squares the condition
    # number, and the eigenvalue route then errs by ~sqrt(eps) * lambda_max per small eigenvalue
    # (several FID units at F = 256), while the SVD route stays within ~1e-2.
    s1s2 = _matmul(_sqrtm_psd(cov1), _sqrtm_psd(cov2))
    tr_covmean = jnp.sum(jnp.linalg.svd(s1s2, compute_uv=False))
    diff = mu1 - mu2
    return jnp.dot(diff, diff) + jnp.trace(cov1) + jnp.trace(cov2) - 2 * tr_covmean


def frechet_distance(mu1, cov1, mu2, cov2) -> jax.Array:
    """Frechet distance between N(mu1, cov1) and N(mu2, cov2).

    d^2 = ||mu1 - mu2||^2 + tr(C1) + tr(C2) - 2 tr sqrt(C1 C2), where tr sqrt(C1 C2) is the sum
    of the square roots of the eigenvalues of the symmetric PSD matrix sqrt(C1) C2 sqrt(C1),
    computed as the singular values of sqrt(C1) sqrt(C2). Both square roots come from ``eigh``
    with negative eigenvalues clipped to 0, so singular covariances (N < F) are fine.

    Args:
      mu1: (F,) mean of the first Gaussian.
      cov1: (F, F) symmetric PSD covariance of the first Gaussian.
      mu2: (F,) mean of the second Gaussian.
      cov2: (F, F) symmetric PSD covariance of the second Gaussian.

    Returns:
      float32 scalar. Not clipped at 0: float32 rounding can leave a tiny negative value.
    """
    mu1, cov1, mu2, cov2 = (jnp.asarray(x, jnp.float32) for x in (mu1, cov1, mu2, cov2))
    for i, (mu, cov) in enumerate(((mu1, cov1), (mu2, cov2)), start=1):
        if mu.ndim != 1 or cov.shape != (mu.size, mu.size):
            raise ValueError(
                f"mu{i} must be (F,) and cov{i} (F, F); got {mu.shape} and {cov.shape}"
            )
    if mu1.size != mu2.size:
        raise ValueError(f"the two Gaussians have different dims: {mu1.size} != {mu2.size}")
    return _frechet_distance(mu1, cov1, mu2, cov2)


@xla_cpu.jit
def _mean_cov(x):
    mu = jnp.mean(x, axis=0)
    xc = x - mu
    return mu, _matmul(xc.T, xc) / (x.shape[0] - 1)


def fid(features_a, features_b) -> jax.Array:
    """Frechet Inception Distance between two feature sets.

    Args:
      features_a: (Na, F) features, Na >= 2.
      features_b: (Nb, F) features, Nb >= 2.

    Returns:
      float32 scalar: ``frechet_distance`` of the Gaussians fitted to each set (mean and the
      unbiased covariance, ddof = 1, as in the reference implementation).
    """
    a = _as_features(features_a, "features_a")
    b = _as_features(features_b, "features_b")
    _check_same_dim(a, b, "features_a and features_b")
    return _frechet_distance(*_mean_cov(a), *_mean_cov(b))


@functools.partial(xla_cpu.jit, static_argnames=("num_subsets", "subset_size"))
def _kid(a, b, key, num_subsets, subset_size):
    m, d = subset_size, a.shape[1]
    kernel = lambda x, y: (_matmul(x, y.T) / d + 1) ** 3

    def subset_mmd(i):
        key_a, key_b = jax.random.split(jax.random.fold_in(key, i))
        x = a[jax.random.choice(key_a, a.shape[0], (m,), replace=False)]
        y = b[jax.random.choice(key_b, b.shape[0], (m,), replace=False)]
        k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
        # Combining per-row means before the last reduction keeps the cancellation between
        # within-set and cross-set terms out of one long float32 sum.
        row_xx = (k_xx.sum(1) - jnp.diag(k_xx)) / (m - 1)
        row_yy = (k_yy.sum(1) - jnp.diag(k_yy)) / (m - 1)
        return jnp.mean(row_xx + row_yy - k_xy.mean(1) - k_xy.mean(0))

    # lax.map, not vmap: memory stays at one subset's three (m, m) kernel matrices.
    mmd = lax.map(subset_mmd, jnp.arange(num_subsets))
    return mmd.mean(), mmd.std()


def kid(
    features_a, features_b, *, key: jax.Array, num_subsets: int = 100, subset_size: int = 1000
) -> tuple[jax.Array, jax.Array]:
    """Kernel Inception Distance: unbiased MMD^2 with k(x, y) = (x.y / F + 1)^3, over subsets.

    Each subset draws ``subset_size`` rows without replacement from each set (subset i uses
    ``fold_in(key, i)``), and estimates
    MMD^2 = sum_{i!=j} [k(x_i, x_j) + k(y_i, y_j)] / (m (m - 1)) - 2 sum_{i,j} k(x_i, y_j) / m^2.

    Args:
      features_a: (Na, F) features.
      features_b: (Nb, F) features.
      key: a JAX PRNG key for the subset draws.
      num_subsets: number of subsets averaged.
      subset_size: rows per subset, clipped to min(Na, Nb); must end up >= 2.

    Returns:
      (mean, std): float32 scalars, the mean and population std (ddof = 0) of the subset
      estimates. The mean can be slightly negative when the distributions match.
    """
    a = _as_features(features_a, "features_a")
    b = _as_features(features_b, "features_b")
    _check_same_dim(a, b, "features_a and features_b")
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be >= 1, got {num_subsets}")
    if subset_size < 2:
        raise ValueError(f"subset_size must be >= 2 for the unbiased estimate, got {subset_size}")
    subset_size = min(subset_size, a.shape[0], b.shape[0])
    return _kid(a, b, key, num_subsets=num_subsets, subset_size=subset_size)


@functools.partial(xla_cpu.jit, static_argnames="num_splits")
def _inception_score(probs, split_ids, num_splits):
    counts = jax.ops.segment_sum(jnp.ones_like(split_ids, jnp.float32), split_ids, num_splits)
    marginals = jax.ops.segment_sum(probs, split_ids, num_splits) / counts[:, None]
    # xlogy makes 0 * log 0 = 0, for both p(y|x) and a class absent from a split's p(y).
    kl = jnp.sum(xlogy(probs, probs) - xlogy(probs, marginals[split_ids]), axis=1)
    scores = jnp.exp(jax.ops.segment_sum(kl, split_ids, num_splits) / counts)
    return scores.mean(), scores.std()


def inception_score(probs, *, num_splits: int = 10) -> tuple[jax.Array, jax.Array]:
    """Inception Score: exp(E_x KL(p(y|x) || p(y))) on each of ``num_splits`` consecutive splits.

    Split k holds rows [k N // s, (k + 1) N // s), as in the reference implementation; p(y) is
    the mean of p(y|x) within the split.

    Args:
      probs: (N, K) class probabilities p(y|x), non-negative, rows summing to 1 (within 1e-3).
      num_splits: number of splits s, 1 <= s <= N.

    Returns:
      (mean, std): float32 scalars over splits, std with ddof = 0. IS lies in [1, K].
    """
    probs = jnp.asarray(probs, jnp.float32)
    if probs.ndim != 2:
        raise ValueError(f"probs must be 2-D (num_samples, num_classes), got shape {probs.shape}")
    n = probs.shape[0]
    if not 1 <= num_splits <= n:
        raise ValueError(f"num_splits must be in [1, num_samples = {n}], got {num_splits}")
    if bool(jnp.any(probs < 0)) or not bool(jnp.all(jnp.abs(probs.sum(1) - 1) <= 1e-3)):
        raise ValueError("probs must be class probabilities: non-negative, rows summing to 1")
    bounds = np.arange(num_splits + 1) * n // num_splits
    split_ids = jnp.asarray(np.repeat(np.arange(num_splits), np.diff(bounds)))
    return _inception_score(probs, split_ids, num_splits=num_splits)


@functools.partial(xla_cpu.jit, static_argnames="batch_size")
def _parzen(samples, data, bandwidth, batch_size):
    num_data, dim = data.shape
    # Centering shrinks the norms in |x|^2 - 2 x.s + |s|^2, whose float32 cancellation
    # otherwise dominates small squared distances.
    center = samples.mean(0)
    samples, data = samples - center, data - center
    samples_sq = jnp.sum(samples**2, axis=1)
    batches = jnp.pad(data, ((0, -num_data % batch_size), (0, 0))).reshape(-1, batch_size, dim)

    def batch_log_kernel_sum(x):
        sq_dist = jnp.sum(x**2, axis=1)[:, None] - 2 * _matmul(x, samples.T) + samples_sq
        return logsumexp(-jnp.maximum(sq_dist, 0.0) / (2 * bandwidth**2), axis=1)

    log_sums = lax.map(batch_log_kernel_sum, batches).reshape(-1)[:num_data]
    # Python-float constants stay weakly typed, so the result is float32 even under x64.
    log_norm = math.log(samples.shape[0]) + dim / 2 * (
        math.log(2 * math.pi) + 2 * jnp.log(bandwidth)
    )
    return log_sums.mean() - log_norm


def _flatten_pair(samples, data, data_name: str) -> tuple[jax.Array, jax.Array]:
    samples = jnp.asarray(samples, jnp.float32)
    data = jnp.asarray(data, jnp.float32)
    if samples.ndim < 1 or data.ndim < 1 or samples.shape[0] == 0 or data.shape[0] == 0:
        raise ValueError(
            f"samples and {data_name} must be non-empty (N, ...) arrays, "
            f"got shapes {samples.shape} and {data.shape}"
        )
    samples, data = samples.reshape(samples.shape[0], -1), data.reshape(data.shape[0], -1)
    _check_same_dim(samples, data, f"samples and {data_name}")
    return samples, data


def parzen_log_likelihood(samples, data, bandwidth: float, *, batch_size: int = 256) -> jax.Array:
    """Mean log-likelihood of ``data`` under a Gaussian Parzen window fitted to ``samples``.

    log p(x) = logsumexp_i(-|x - s_i|^2 / (2 sigma^2)) - log N - D/2 log(2 pi sigma^2), averaged
    over x in ``data``, processed ``batch_size`` rows at a time so memory is (batch_size, N).

    Args:
      samples: (N, ...) generated samples (kernel centres); trailing dims are flattened to D.
      data: (M, ...) points to evaluate, same trailing size D.
      bandwidth: kernel std sigma > 0 (traced: changing it does not recompile).
      batch_size: data rows per batch.

    Returns:
      float32 scalar, mean log-density in nats per data point (not per dimension).
    """
    samples, data = _flatten_pair(samples, data, "data")
    if not bandwidth > 0:
        raise ValueError(f"bandwidth must be > 0, got {bandwidth}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return _parzen(samples, data, jnp.float32(bandwidth), batch_size=min(batch_size, len(data)))


def select_parzen_bandwidth(
    samples, val_data, candidates, *, batch_size: int = 256
) -> tuple[float, np.ndarray]:
    """Picks the Parzen bandwidth with the highest mean log-likelihood on validation data.

    Args:
      samples: (N, ...) generated samples.
      val_data: (M, ...) held-out validation points.
      candidates: (C,) bandwidths to try, each > 0.
      batch_size: data rows per batch, as in ``parzen_log_likelihood``.

    Returns:
      (best, log_likelihoods): the best candidate as a float (the first one on ties) and the
      (C,) float32 validation log-likelihood of every candidate, in the order given.
    """
    candidates = [float(c) for c in candidates]
    if not candidates:
        raise ValueError("candidates is empty")
    samples, val_data = _flatten_pair(samples, val_data, "val_data")
    log_likelihoods = np.array(
        [parzen_log_likelihood(samples, val_data, c, batch_size=batch_size) for c in candidates],
        dtype=np.float32,
    )
    return candidates[int(np.argmax(log_likelihoods))], log_likelihoods
