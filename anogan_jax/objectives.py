"""GAN objectives as pure functions of critic outputs (logits), plus the WGAN-GP penalty.

Every loss is a mean over the batch of a per-sample term. Logs of probabilities are written with
``softplus`` (``-log sigmoid(t) = softplus(-t)``, ``-log(1 - sigmoid(t)) = softplus(t)``) so that
no log of 0 occurs, at any logit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

OBJECTIVES = ("minimax", "non_saturating", "wgan_gp", "lsgan", "hinge")


class Objective(NamedTuple):
    """``d_loss(real_logits, fake_logits)`` and ``g_loss(fake_logits)``, both scalars;
    ``gp_weight`` > 0 adds the gradient penalty to the critic loss. The rest is what the name
    implies elsewhere, read from here only: the critic's normalisation (the gradient penalty
    is per image, so WGAN-GP needs a per-sample critic: LayerNorm), and the usual Adam
    settings and critic updates per step."""

    name: str
    d_loss: Callable[[jax.Array, jax.Array], jax.Array]
    g_loss: Callable[[jax.Array], jax.Array]
    gp_weight: float = 0.0
    critic_norm: str = "batch"
    lr: float = 2e-4
    b1: float = 0.5
    b2: float = 0.999
    n_critic: int = 1


def _bce_d_loss(real, fake):
    return jnp.mean(jax.nn.softplus(-real)) + jnp.mean(jax.nn.softplus(fake))


def _minimax_g_loss(fake):
    # G minimises log(1 - D(G(z))) = -softplus(fake): the original, saturating loss.
    return -jnp.mean(jax.nn.softplus(fake))


def _non_saturating_g_loss(fake):
    return jnp.mean(jax.nn.softplus(-fake))


def _wgan_d_loss(real, fake):
    return jnp.mean(fake) - jnp.mean(real)


def _wgan_g_loss(fake):
    return -jnp.mean(fake)


def _lsgan_d_loss(real, fake):
    return 0.5 * jnp.mean((real - 1.0) ** 2) + 0.5 * jnp.mean(fake**2)


def _lsgan_g_loss(fake):
    return 0.5 * jnp.mean((fake - 1.0) ** 2)


def _hinge_d_loss(real, fake):
    return jnp.mean(jax.nn.relu(1.0 - real)) + jnp.mean(jax.nn.relu(1.0 + fake))


def get_objective(name: str, *, gp_weight: float = 10.0) -> Objective:
    """Returns the named objective; ``gp_weight`` (lambda) is used by ``wgan_gp`` only."""
    table = {
        "minimax": Objective("minimax", _bce_d_loss, _minimax_g_loss),
        "non_saturating": Objective("non_saturating", _bce_d_loss, _non_saturating_g_loss),
        # Gulrajani et al.: Adam(1e-4, b1=0, b2=0.9), n_critic 5.
        "wgan_gp": Objective(
            "wgan_gp", _wgan_d_loss, _wgan_g_loss, gp_weight, "layer", 1e-4, 0.0, 0.9, 5
        ),
        "lsgan": Objective("lsgan", _lsgan_d_loss, _lsgan_g_loss),
        "hinge": Objective("hinge", _hinge_d_loss, _wgan_g_loss),
    }
    if name not in table:
        raise ValueError(f"unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)}")
    return table[name]


def safe_norm(x: jax.Array, eps: float = 0.0) -> jax.Array:
    """Euclidean norm of all of x whose gradient is 0 (not NaN) at x = 0."""
    sq = jnp.sum(x * x)
    positive = sq > eps
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq, 1.0)), 0.0)


def gradient_penalty(
    critic_fn: Callable[[jax.Array], jax.Array], real: jax.Array, fake: jax.Array, key: jax.Array
) -> jax.Array:
    """WGAN-GP penalty mean_i (||grad_x critic(x_hat_i)|| - 1)^2 (Gulrajani et al., 2017).

    Args:
      critic_fn: maps ONE image (H, W, C) to a scalar logit; must not mix samples.
      real: (N, H, W, C).
      fake: (N, H, W, C).
      key: draws alpha ~ U[0, 1], one per sample, broadcast over H, W, C.
    Returns:
      scalar penalty (without the lambda weight).
    """
    alpha = jax.random.uniform(key, (real.shape[0], 1, 1, 1), real.dtype)
    x_hat = alpha * real + (1.0 - alpha) * fake

    def per_sample(x):
        return (safe_norm(jax.grad(critic_fn)(x)) - 1.0) ** 2

    return jnp.mean(jax.vmap(per_sample)(x_hat))


def default_optimizers(name: str, *, g_lr: float | None = None, d_lr: float | None = None):
    """The objective's usual optimisers; separate learning rates (TTUR) as arguments.

    WGAN-GP: Adam(1e-4, b1=0, b2=0.9), n_critic 5 (Gulrajani et al.). Others: Adam(2e-4, b1=0.5)
    (Radford et al.), n_critic 1.

    Returns:
      (g_tx, d_tx, n_critic)
    """
    o = get_objective(name)
    g_lr, d_lr = learning_rates(name, g_lr=g_lr, d_lr=d_lr)
    g_tx = optax.adam(g_lr, b1=o.b1, b2=o.b2)
    d_tx = optax.adam(d_lr, b1=o.b1, b2=o.b2)
    return g_tx, d_tx, o.n_critic


def learning_rates(name: str, *, g_lr: float | None = None, d_lr: float | None = None):
    """(G's, D's) learning rate of ``default_optimizers``: the given ones, else the
    objective's."""
    lr = get_objective(name).lr
    return (g_lr if g_lr is not None else lr), (d_lr if d_lr is not None else lr)
