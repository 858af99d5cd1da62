"""The latent prior: sampling z and projecting z back onto the prior's support."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from scipy import stats

PRIORS = ("normal", "uniform")


def check_prior(prior: str) -> str:
    if prior not in PRIORS:
        raise ValueError(f"unknown prior {prior!r}; choose one of {', '.join(PRIORS)}")
    return prior


def sample_prior(key: jax.Array, shape: tuple[int, ...], prior: str = "normal") -> jax.Array:
    """z ~ N(0, I) (``normal``) or U[-1, 1]^d (``uniform``, pairs with a tanh encoder)."""
    if check_prior(prior) == "normal":
        return jax.random.normal(key, shape, jnp.float32)
    return jax.random.uniform(key, shape, jnp.float32, -1.0, 1.0)


# The ball that ``project`` keeps a normal prior's z in holds this much of N(0, I_d)'s mass: wide
# enough that the search may still reach every z the generator was trained on (only 1 in 1,000
# prior draws lies outside), narrow enough that it cannot wander to radii G never saw.
BALL_MASS = 0.999


@functools.cache
def support_radius(latent_dim: int, mass: float = BALL_MASS) -> float:
    """The radius of the ball about 0 that holds ``mass`` of N(0, I_latent_dim): the square
    root of the chi-squared quantile (12.22 for 100 dimensions and 0.999)."""
    if latent_dim < 1 or not 0.0 < mass < 1.0:
        raise ValueError(f"need latent_dim >= 1 and 0 < mass < 1, got {latent_dim}, {mass}")
    return float(stats.chi2.ppf(mass, latent_dim)) ** 0.5


def project(z: jax.Array, prior: str, *, radius: float | None = None) -> jax.Array:
    """Projects z (one latent, or a batch along the leading axes) onto the prior's support:
    clip to [-1, 1] for ``uniform``; for ``normal``, onto the ball of ``radius`` (by default
    ``support_radius`` of z's last axis). A z already inside is returned unchanged, bit for
    bit."""
    if check_prior(prior) == "uniform":
        return jnp.clip(z, -1.0, 1.0)
    if radius is None:
        radius = support_radius(z.shape[-1])
    norm = jnp.sqrt(jnp.sum(z * z, axis=-1, keepdims=True))
    return jnp.where(norm > radius, z * (radius / jnp.maximum(norm, 1e-12)), z)
