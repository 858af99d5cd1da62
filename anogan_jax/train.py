"""GAN training: one jitted step factory and a thin Python fit loop."""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from anogan_jax import xla_cpu
from anogan_jax.errors import UserError
from anogan_jax.objectives import Objective, gradient_penalty
from anogan_jax.prior import sample_prior
from anogan_jax.state import GANState

UPDATES = ("alternating", "merged")


class NonFiniteError(UserError, RuntimeError):
    """Raised by ``fit`` at the first step whose losses or parameters are not finite."""


def _all_finite(tree) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]
    return jnp.all(jnp.stack(leaves))


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

    One step = ``n_critic`` critic updates (each on its own real mini-batch and fresh z) then one
    generator update, all inside one program. BatchNorm runs in training mode; the generator's
    running statistics are updated by its own update only, the critic's by the critic updates.

    ``update="merged"`` (n_critic must be 1) is the single-backward-pass update of seeds 003:
    loss = d_loss(D(x), D(sg(G(z)))) + g_loss(D_sg(G(z))), where sg is stop-gradient applied to
    the generated images in the critic term and to the critic's parameters in the generator term,
    so one ``jax.grad`` gives both players' gradients (here G sees the critic before its update).

    Args:
      batch: real images (n_critic, B, H, W, C).
      key: the training key; the step folds in ``state.step`` itself.
      mesh (of the factory): data parallelism: the batch is split across the mesh's devices
        (axis B), state and key replicated; batch statistics and gradients are reduced over
        the whole batch, so the result equals one device up to float rounding.
    Returns:
      the new state (the input state is donated when jitted) and a dict of scalar metrics,
      including ``finite`` (all losses and parameters finite).
    """
    if update not in UPDATES:
        raise ValueError(f"unknown update {update!r}; choose one of {', '.join(UPDATES)}")
    if update == "merged" and n_critic != 1:
        raise ValueError("update='merged' performs one joint update; it needs n_critic=1")
    gen, disc = models.generator, models.discriminator

    def d_apply(d_params, d_bs, x, key):
        return disc.apply({"params": d_params, "batch_stats": d_bs}, x, train=True, key=key)

    def critic_loss(d_params, d_bs, real, fake, key):
        k_real, k_fake, k_gp = jax.random.split(key, 3)
        (real_logit, _), d_bs = d_apply(d_params, d_bs, real, k_real)
        (fake_logit, _), d_bs = d_apply(d_params, d_bs, fake, k_fake)
        loss = objective.d_loss(real_logit, fake_logit)
        gp = jnp.zeros(())
        if objective.gp_weight:

            def critic_fn(x):
                return d_apply(d_params, d_bs, x[None], k_fake)[0][0][0]

            gp = gradient_penalty(critic_fn, real, fake, k_gp)
        metrics = {"d_real": jnp.mean(real_logit), "d_fake": jnp.mean(fake_logit), "gp": gp}
        return loss + objective.gp_weight * gp, (d_bs, metrics)

    def generator_loss(g_params, state, z, key):
        fake, g_bs = gen.apply(
            {"params": g_params, "batch_stats": state.g_batch_stats}, z, train=True
        )
        (fake_logit, _), _ = d_apply(state.d_params, state.d_batch_stats, fake, key)
        return objective.g_loss(fake_logit), g_bs

    def critic_update(state, xs):
        real, key = xs
        k_z, k_loss = jax.random.split(key)
        z = sample_prior(k_z, (real.shape[0], models.latent_dim), prior)
        g_vars = {"params": state.g_params, "batch_stats": state.g_batch_stats}
        fake, _ = gen.apply(g_vars, z, train=True)
        (loss, (d_bs, metrics)), grads = jax.value_and_grad(critic_loss, has_aux=True)(
            state.d_params, state.d_batch_stats, real, fake, k_loss
        )
        updates, d_opt = d_tx.update(grads, state.d_opt_state, state.d_params)
        d_params = optax.apply_updates(state.d_params, updates)
        state = state._replace(d_params=d_params, d_batch_stats=d_bs, d_opt_state=d_opt)
        return state, {"d_loss": loss, **metrics}

    def generator_update(state, key, batch_size):
        k_z, k_d = jax.random.split(key)
        z = sample_prior(k_z, (batch_size, models.latent_dim), prior)
        (loss, g_bs), grads = jax.value_and_grad(generator_loss, has_aux=True)(
            state.g_params, state, z, k_d
        )
        updates, g_opt = g_tx.update(grads, state.g_opt_state, state.g_params)
        g_params = optax.apply_updates(state.g_params, updates)
        return state._replace(g_params=g_params, g_batch_stats=g_bs, g_opt_state=g_opt), loss

    def alternating_step(state, batch, key):
        key = jax.random.fold_in(key, state.step)
        keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n_critic))
        state, d_metrics = lax.scan(critic_update, state, (batch, keys))
        d_metrics = jax.tree_util.tree_map(jnp.mean, d_metrics)
        state, g_loss = generator_update(state, jax.random.fold_in(key, n_critic), batch.shape[1])
        return state, {**d_metrics, "g_loss": g_loss}

    def merged_loss(params, state, real, key):
        g_params, d_params = params
        k_z, k_loss, k_g = jax.random.split(key, 3)
        z = sample_prior(k_z, (real.shape[0], models.latent_dim), prior)
        g_vars = {"params": g_params, "batch_stats": state.g_batch_stats}
        fake, g_bs = gen.apply(g_vars, z, train=True)
        d_loss, (d_bs, metrics) = critic_loss(
            d_params, state.d_batch_stats, real, lax.stop_gradient(fake), k_loss
        )
        (fake_logit, _), _ = d_apply(lax.stop_gradient(d_params), state.d_batch_stats, fake, k_g)
        g_loss = objective.g_loss(fake_logit)
        return d_loss + g_loss, (g_bs, d_bs, {"d_loss": d_loss, "g_loss": g_loss, **metrics})

    def merged_step(state, batch, key):
        key = jax.random.fold_in(key, state.step)
        params = (state.g_params, state.d_params)
        (_, (g_bs, d_bs, metrics)), (g_grads, d_grads) = jax.value_and_grad(
            merged_loss, has_aux=True
        )(params, state, batch[0], key)
        g_up, g_opt = g_tx.update(g_grads, state.g_opt_state, state.g_params)
        d_up, d_opt = d_tx.update(d_grads, state.d_opt_state, state.d_params)
        state = GANState(
            state.step,
            optax.apply_updates(state.g_params, g_up),
            g_bs,
            optax.apply_updates(state.d_params, d_up),
            d_bs,
            g_opt,
            d_opt,
        )
        return state, metrics

    body = alternating_step if update == "alternating" else merged_step

    def step(state, batch, key):
        state, metrics = body(state, batch, key)
        state = state._replace(step=state.step + 1)
        losses_finite = jnp.isfinite(metrics["d_loss"]) & jnp.isfinite(metrics["g_loss"])
        params_finite = _all_finite((state.g_params, state.d_params))
        return state, {**metrics, "finite": losses_finite & params_finite}

    if not jit:
        return step
    if mesh is None:
        return xla_cpu.jit(step, donate_argnums=0)
    from anogan_jax.devices import batch_sharding, replicated

    rep = replicated(mesh)
    return xla_cpu.jit(
        step,
        in_shardings=(rep, batch_sharding(mesh, 1), rep),
        out_shardings=(rep, rep),
        donate_argnums=0,
    )


def _host(metrics: dict) -> dict:
    """Device metrics -> floats (or lists of floats, one per seed, for stacked states)."""
    return {k: np.asarray(v).tolist() for k, v in jax.device_get(metrics).items() if k != "finite"}


def nonfinite_message(step: int, metrics: dict, hint: str) -> str:
    shown = ", ".join(f"{k}={np.round(v, 4).tolist()}" for k, v in metrics.items())
    return (
        f"training produced a non-finite loss or parameter at step {step} ({shown}). "
        f"The last good checkpoint is kept. Try: {hint}"
    )


def fit(
    state,
    step_fn: Callable,
    batch_fn: Callable[[int], np.ndarray],
    key: jax.Array,
    *,
    num_steps: int,
    log_every: int = 50,
    on_log: Callable[[int, dict, float], None] | None = None,
    on_step_end: Callable[[object], None] | None = None,
    nonfinite_hint: str = "a lower learning rate",
    progress: bool = True,
    desc: str = "train",
):
    """Runs ``step_fn`` from ``state.step`` up to ``num_steps`` (a Python loop).

    Args:
      batch_fn: step index -> host batch; a pure function of the index, so resuming at any
        step sees the same data as an uninterrupted run.
      on_log: called every ``log_every`` steps and at the end with (step, metrics as floats,
        steps per second).
      on_step_end: called with the state after every step (checkpointing, samples).
    Raises:
      NonFiniteError: at the first step with a non-finite loss or parameter.
    """
    from tqdm.auto import tqdm

    start = int(np.min(np.asarray(state.step)))
    bar = tqdm(total=num_steps, initial=start, desc=desc, disable=not progress, unit="step")
    t0, last_logged = time.perf_counter(), start
    for i in range(start, num_steps):
        state, metrics = step_fn(state, batch_fn(i), key)
        step = i + 1
        if not np.all(np.asarray(metrics["finite"])):
            bar.close()
            raise NonFiniteError(nonfinite_message(step, _host(metrics), nonfinite_hint))
        if step % log_every == 0 or step == num_steps:
            host = _host(metrics)
            rate = (step - last_logged) / max(time.perf_counter() - t0, 1e-9)
            t0, last_logged = time.perf_counter(), step
            bar.set_postfix({k: f"{np.mean(v):.3g}" for k, v in host.items()}, refresh=False)
            if on_log is not None:
                on_log(step, host, rate)
        if on_step_end is not None:
            on_step_end(state)
        bar.update(1)
    bar.close()
    return state
