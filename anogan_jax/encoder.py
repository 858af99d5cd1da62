"""f-AnoGAN (Schlegl et al., Medical Image Analysis 2019): an encoder E trained against the
frozen GAN, then one forward pass per image instead of AnoGAN's iterative search.

Modes (gradients with respect to E only; G and D run in inference mode):
  izi    image -> z -> image: mean (x - G(E(x)))^2
  ziz    z -> image -> z:     mean (z - E(G(z)))^2 on z drawn from the prior
  izi_f  izi + kappa * mean (f(x) - f(G(E(x))))^2, f = D's feature layer
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from anogan_jax.loop import all_finite
from anogan_jax.ops import xla_cpu
from anogan_jax.prior import sample_prior
from anogan_jax.scores import fanogan_scores
from anogan_jax.state import EncoderState

MODES = ("izi", "ziz", "izi_f")


def encoder_tx(lr: float = 5e-5) -> optax.GradientTransformation:
    """RMSProp as in the official f-AnoGAN code (PyTorch defaults: decay 0.99, eps 1e-8)."""
    return optax.rmsprop(lr, decay=0.99, eps=1e-8)


def _frozen_fns(models, frozen):
    g_vars, d_vars = frozen

    def generate(z):
        return models.generator.apply(g_vars, z, train=False)[0]

    def features(x):
        return models.discriminator.apply(d_vars, x, train=False)[0][1]

    return generate, features


def encoder_loss(mode: str, e_params, encoder, models, frozen, batch, key, *, kappa, prior):
    """The mode's loss for one batch (N, H, W, C). Returns (loss, metrics dict)."""
    generate, features = _frozen_fns(models, frozen)

    def encode(x):
        return encoder.apply({"params": e_params, "batch_stats": {}}, x, train=False)[0]

    if mode == "ziz":
        z = sample_prior(key, (batch.shape[0], models.latent_dim), prior)
        loss = jnp.mean((z - encode(generate(z))) ** 2)
        return loss, {"z_mse": loss}
    recon = generate(encode(batch))
    img = jnp.mean((batch - recon) ** 2)
    if mode == "izi":
        return img, {"img_mse": img}
    feat = jnp.mean((features(batch) - features(recon)) ** 2)
    return img + kappa * feat, {"img_mse": img, "feat_mse": feat}


def make_encoder_step(
    mode: str,
    encoder,
    models,
    e_tx: optax.GradientTransformation,
    *,
    kappa: float = 1.0,
    prior: str = "normal",
    jit: bool = True,
) -> Callable:
    """Builds ``step(state, frozen, batch, key) -> (state, metrics)``.

    Args (of the step):
      state: EncoderState (donated when jitted). frozen: (g_vars, d_vars), never changed.
      batch: (1, B, H, W, C) real images (the leading 1 matches the GAN batch sampler).
      key: folded with ``state.step`` inside.
    """
    if mode not in MODES:
        raise ValueError(f"unknown encoder mode {mode!r}; choose one of {', '.join(MODES)}")

    def step(state: EncoderState, frozen, batch, key):
        key = jax.random.fold_in(key, state.step)
        (loss, metrics), grads = jax.value_and_grad(
            lambda p: encoder_loss(
                mode, p, encoder, models, frozen, batch[0], key, kappa=kappa, prior=prior
            ),
            has_aux=True,
        )(state.e_params)
        updates, opt = e_tx.update(grads, state.e_opt_state, state.e_params)
        params = optax.apply_updates(state.e_params, updates)
        finite = jnp.isfinite(loss) & all_finite(params)
        state = EncoderState(state.step + 1, params, opt)
        return state, {"loss": loss, **metrics, "finite": finite}

    return xla_cpu.jit(step, donate_argnums=0) if jit else step


def make_fanogan_scorer(encoder, models, *, jit: bool = True) -> Callable:
    """``score(e_params, frozen, images) -> dict`` of per-image f-AnoGAN terms: img_mse,
    feat_mse, z_mse (||E(G(E(x))) - E(x)||^2 / d, the ziz-style latent distance), z. Jitted
    unless ``jit`` is False (for callers that compose and jit it themselves)."""

    def score(e_params, frozen, images):
        generate, features = _frozen_fns(models, frozen)

        def encode(x):
            return encoder.apply({"params": e_params, "batch_stats": {}}, x, train=False)[0]

        z = encode(images)
        recon = generate(z)
        terms = jax.vmap(fanogan_scores)(images, recon, features(images), features(recon))
        z_mse = jnp.mean((encode(recon) - z) ** 2, axis=1)
        return {"img_mse": terms["img_mse"], "feat_mse": terms["feat_mse"], "z_mse": z_mse, "z": z}

    return xla_cpu.jit(score) if jit else score


def near_bound_share(z: np.ndarray, bounded: bool) -> float:
    """Share of encoder outputs near the edge of what the prior can produce: |z| > 0.99 for a
    tanh (bounded) encoder, |z| > 4 (beyond 4 sigma of N(0, 1)) for an unbounded one."""
    limit = 0.99 if bounded else 4.0
    return float(np.mean(np.abs(np.asarray(z)) > limit))
