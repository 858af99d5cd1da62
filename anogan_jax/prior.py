"""The latent prior: sampling z and projecting z back onto the prior's support."""

from __future__ import annotations

import jax
import jax.numpy as jnp

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


def project(z: jax.Array, prior: str, *, radius: float | None = None) -> jax.Array:
    """Projects z onto the prior's support: clip to [-1, 1] for ``uniform``; for ``normal``
    optionally onto the ball of the given radius (None: no projection)."""
    if check_prior(prior) == "uniform":
        return jnp.clip(z, -1.0, 1.0)
    if radius is None:
        return z
    norm = jnp.sqrt(jnp.sum(z * z))
    return z * jnp.minimum(1.0, radius / jnp.maximum(norm, 1e-12))
