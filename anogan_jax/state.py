"""One frozen pytree per training stage. Apply functions and optimisers live outside."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class GANState(NamedTuple):
    """All mutable state of GAN training. ``step`` counts completed steps (int32 scalar)."""

    step: jax.Array
    g_params: Any
    g_batch_stats: Any
    d_params: Any
    d_batch_stats: Any
    g_opt_state: Any
    d_opt_state: Any


class EncoderState(NamedTuple):
    """All mutable state of f-AnoGAN encoder training (G and D are frozen, held elsewhere)."""

    step: jax.Array
    e_params: Any
    e_opt_state: Any


def init_gan_state(
    models, g_tx: optax.GradientTransformation, d_tx: optax.GradientTransformation, key
) -> GANState:
    """Initialises both players from ``key`` (split once into a G key and a D key)."""
    g_key, d_key = jax.random.split(key)
    g_vars = models.generator.init(g_key)
    d_vars = models.discriminator.init(d_key)
    return GANState(
        step=jnp.zeros((), jnp.int32),
        g_params=g_vars["params"],
        g_batch_stats=g_vars["batch_stats"],
        d_params=d_vars["params"],
        d_batch_stats=d_vars["batch_stats"],
        g_opt_state=g_tx.init(g_vars["params"]),
        d_opt_state=d_tx.init(d_vars["params"]),
    )


def init_encoder_state(encoder, e_tx: optax.GradientTransformation, key) -> EncoderState:
    e_params = encoder.init(key)["params"]
    return EncoderState(jnp.zeros((), jnp.int32), e_params, e_tx.init(e_params))


def g_variables(state: GANState) -> dict:
    return {"params": state.g_params, "batch_stats": state.g_batch_stats}


def d_variables(state: GANState) -> dict:
    return {"params": state.d_params, "batch_stats": state.d_batch_stats}
