"""GAN training: the step factory, one update algorithm per function."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax

from anogan_jax.devices import batch_sharding, replicated
from anogan_jax.loop import all_finite
from anogan_jax.objectives import Objective, gradient_penalty
from anogan_jax.ops import xla_cpu
from anogan_jax.prior import sample_prior
from anogan_jax.state import GANState

UPDATES = ("alternating", "merged", "reuse")


class _Players(NamedTuple):
    """What both update algorithms share: the losses of one critic and one generator pass
    (BatchNorm in training mode) and the optimisers."""

    objective: Objective
    models: object
    g_tx: optax.GradientTransformation
    d_tx: optax.GradientTransformation
    prior: str

    def d_apply(self, d_params, d_bs, x, key):
        variables = {"params": d_params, "batch_stats": d_bs}
        return self.models.discriminator.apply(variables, x, train=True, key=key)

    def critic_loss(self, d_params, d_bs, real, fake, key):
        """(loss incl. lambda * penalty, (new critic batch stats, metrics))."""
        k_real, k_fake, k_gp = jax.random.split(key, 3)
        (real_logit, _), d_bs = self.d_apply(d_params, d_bs, real, k_real)
        (fake_logit, _), d_bs = self.d_apply(d_params, d_bs, fake, k_fake)
        loss = self.objective.d_loss(real_logit, fake_logit)
        gp = jnp.zeros(())
        if self.objective.gp_weight:

            def critic_fn(x):
                return self.d_apply(d_params, d_bs, x[None], k_fake)[0][0][0]

            gp = gradient_penalty(critic_fn, real, fake, k_gp)
        metrics = {"d_real": jnp.mean(real_logit), "d_fake": jnp.mean(fake_logit), "gp": gp}
        return loss + self.objective.gp_weight * gp, (d_bs, metrics)

    def sample_z(self, key, batch_size: int):
        return sample_prior(key, (batch_size, self.models.latent_dim), self.prior)

    def generate(self, g_params, g_bs, z):
        return self.models.generator.apply({"params": g_params, "batch_stats": g_bs}, z, train=True)


def _alternating(p: _Players, n_critic: int):
    """``n_critic`` critic updates (each on its own real mini-batch and fresh z), then one
    generator update through the updated critic."""

    def critic_update(state, xs):
        real, key = xs
        k_z, k_loss = jax.random.split(key)
        fake, _ = p.generate(state.g_params, state.g_batch_stats, p.sample_z(k_z, real.shape[0]))
        (loss, (d_bs, metrics)), grads = jax.value_and_grad(p.critic_loss, has_aux=True)(
            state.d_params, state.d_batch_stats, real, fake, k_loss
        )
        updates, d_opt = p.d_tx.update(grads, state.d_opt_state, state.d_params)
        d_params = optax.apply_updates(state.d_params, updates)
        state = state._replace(d_params=d_params, d_batch_stats=d_bs, d_opt_state=d_opt)
        return state, {"d_loss": loss, **metrics}

    def generator_loss(g_params, state, z, key):
        fake, g_bs = p.generate(g_params, state.g_batch_stats, z)
        (fake_logit, _), _ = p.d_apply(state.d_params, state.d_batch_stats, fake, key)
        return p.objective.g_loss(fake_logit), g_bs

    def generator_update(state, key, batch_size):
        k_z, k_d = jax.random.split(key)
        (loss, g_bs), grads = jax.value_and_grad(generator_loss, has_aux=True)(
            state.g_params, state, p.sample_z(k_z, batch_size), k_d
        )
        updates, g_opt = p.g_tx.update(grads, state.g_opt_state, state.g_params)
        g_params = optax.apply_updates(state.g_params, updates)
        return state._replace(g_params=g_params, g_batch_stats=g_bs, g_opt_state=g_opt), loss

    def body(state, batch, key):
        keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n_critic))
        state, d_metrics = lax.scan(critic_update, state, (batch, keys))
        d_metrics = jax.tree_util.tree_map(jnp.mean, d_metrics)
        state, g_loss = generator_update(state, jax.random.fold_in(key, n_critic), batch.shape[1])
        return state, {**d_metrics, "g_loss": g_loss}

    return body


def _merged(p: _Players):
    """The single-backward-pass update (``--update merged``): loss = d_loss(D(x), D(sg(G(z)))) +
    g_loss(D_sg(G(z))), sg being stop-gradient on the generated images in the critic term
    and on the critic's parameters in the generator term, so one ``jax.grad`` gives both
    players' gradients (G sees the critic before its update)."""

    def loss_fn(params, state, real, key):
        g_params, d_params = params
        k_z, k_loss, k_g = jax.random.split(key, 3)
        fake, g_bs = p.generate(g_params, state.g_batch_stats, p.sample_z(k_z, real.shape[0]))
        d_loss, (d_bs, metrics) = p.critic_loss(
            d_params, state.d_batch_stats, real, lax.stop_gradient(fake), k_loss
        )
        (fake_logit, _), _ = p.d_apply(lax.stop_gradient(d_params), state.d_batch_stats, fake, k_g)
        g_loss = p.objective.g_loss(fake_logit)
        return d_loss + g_loss, (g_bs, d_bs, {"d_loss": d_loss, "g_loss": g_loss, **metrics})

    def body(state, batch, key):
        params = (state.g_params, state.d_params)
        (_, (g_bs, d_bs, metrics)), (g_grads, d_grads) = jax.value_and_grad(loss_fn, has_aux=True)(
            params, state, batch[0], key
        )
        g_up, g_opt = p.g_tx.update(g_grads, state.g_opt_state, state.g_params)
        d_up, d_opt = p.d_tx.update(d_grads, state.d_opt_state, state.d_params)
        g_params = optax.apply_updates(state.g_params, g_up)
        d_params = optax.apply_updates(state.d_params, d_up)
        return GANState(state.step, g_params, g_bs, d_params, d_bs, g_opt, d_opt), metrics

    return body


def _reuse(p: _Players):
    """The PyTorch DCGAN example's update: ONE generator forward per step. The critic is
    updated on that fake batch (detached), then the generator's gradient goes through the
    UPDATED critic back into the same forward (its saved VJP), as ``D(fake)`` after
    ``optimizerD.step()`` does in PyTorch. Saves one generator forward per step against
    ``_alternating`` with n_critic 1, which draws a fresh z for the generator update."""

    def body(state, batch, key):
        real = batch[0]
        k_z, k_loss, k_g = jax.random.split(key, 3)
        z = p.sample_z(k_z, real.shape[0])
        fake, g_vjp, g_bs = jax.vjp(
            lambda g_params: p.generate(g_params, state.g_batch_stats, z),
            state.g_params,
            has_aux=True,
        )
        (d_loss, (d_bs, metrics)), d_grads = jax.value_and_grad(p.critic_loss, has_aux=True)(
            state.d_params, state.d_batch_stats, real, fake, k_loss
        )
        d_up, d_opt = p.d_tx.update(d_grads, state.d_opt_state, state.d_params)
        d_params = optax.apply_updates(state.d_params, d_up)

        def g_loss_of_fake(x):
            (fake_logit, _), _ = p.d_apply(d_params, d_bs, x, k_g)
            return p.objective.g_loss(fake_logit)

        g_loss, fake_cotangent = jax.value_and_grad(g_loss_of_fake)(fake)
        (g_grads,) = g_vjp(fake_cotangent)
        g_up, g_opt = p.g_tx.update(g_grads, state.g_opt_state, state.g_params)
        g_params = optax.apply_updates(state.g_params, g_up)
        new = GANState(state.step, g_params, g_bs, d_params, d_bs, g_opt, d_opt)
        return new, {"d_loss": d_loss, "g_loss": g_loss, **metrics}

    return body


def make_gan_step(
    objective: Objective,
    models,
    g_tx: optax.GradientTransformation,
    d_tx: optax.GradientTransformation,
    *,
    n_critic: int = 1,
    update: str = "alternating",
    prior: str = "normal",
    jit: bool = True,
    mesh=None,
) -> Callable:
    """Builds ``step(state, batch, key) -> (state, metrics)``.

    One step = one update of the chosen algorithm (``_alternating``: ``n_critic`` critic
    updates then one generator update; ``_merged``: one joint update, n_critic 1;
    ``_reuse``: one generator forward shared by both updates, n_critic 1). The
    critic's running statistics are updated by the critic updates, the generator's by its own.

    Args (of the step):
      batch: real images (n_critic, B, H, W, C).
      key: the training key; the step folds in ``state.step`` itself.

    Args:
      jit: False returns the pure step (for callers that vmap it and jit the result).
      mesh: see ``jit_step``.

    Returns:
      the new state and a dict of scalar metrics, including ``finite`` (all losses and
      parameters finite).
    """
    if update not in UPDATES:
        raise ValueError(f"unknown update {update!r}; choose one of {', '.join(UPDATES)}")
    if update in ("merged", "reuse") and n_critic != 1:
        raise ValueError(f"update={update!r} shares one generator pass; it needs n_critic=1")
    players = _Players(objective, models, g_tx, d_tx, prior)
    bodies = {
        "alternating": lambda: _alternating(players, n_critic),
        "merged": lambda: _merged(players),
        "reuse": lambda: _reuse(players),
    }
    body = bodies[update]()

    def step(state, batch, key):
        state, metrics = body(state, batch, jax.random.fold_in(key, state.step))
        state = state._replace(step=state.step + 1)
        losses_finite = jnp.isfinite(metrics["d_loss"]) & jnp.isfinite(metrics["g_loss"])
        params_finite = all_finite((state.g_params, state.d_params))
        return state, {**metrics, "finite": losses_finite & params_finite}

    return jit_step(step, mesh) if jit else step


def jit_step(step: Callable, mesh=None) -> Callable:
    """``step(state, batch, key)`` compiled with the state donated. With a ``mesh`` the batch
    (axis 1, B) is split across its devices and state and key replicated; batch statistics and
    gradients are then reduced over the whole batch, so the result equals one device up to
    float rounding."""
    if mesh is None:
        return xla_cpu.jit(step, donate_argnums=0)
    rep = replicated(mesh)
    return xla_cpu.jit(
        step,
        in_shardings=(rep, batch_sharding(mesh, 1), rep),
        out_shardings=(rep, rep),
        donate_argnums=0,
    )
