"""Many seeds trained together, one compile for all: S states stacked on a leading axis and
trained with ``jax.vmap`` over the state (one program), or, where that is slower (conv models
on XLA:CPU, ``seed_mode``), the single-seed program called for each seed in turn. Each seed
keeps its own folder (``<out>/seed_<s>/``, an ordinary run folder), its own data order and its
own keys, so each equals that seed alone: up to float rounding when vmapped, bit for bit when
looped. ``fit_seeds`` is the one loop of GAN and encoder training over seeds
(``gan.train_gan`` and ``encoder_run.train_encoder`` given ``seeds``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from anogan_jax.loop import fit
from anogan_jax.ops import xla_cpu
from anogan_jax.runs.checkpoint import latest_step
from anogan_jax.runs.config import MAX_SEED, RunError
from anogan_jax.runs.forms import FORM_ENV, choose_form, fit_mode


def stack(trees):
    """[tree] * S -> one tree with a leading axis S."""
    return jax.tree.map(lambda *xs: jax.numpy.stack(xs), *trees)


def unstack(tree, n: int):
    """The inverse of ``stack``."""
    return [jax.tree.map(lambda x, i=i: x[i], tree) for i in range(n)]


def parse_seeds(text: str) -> list[int]:
    """ "0,1,2" or "0-4" -> [0, 1, 2] / [0, 1, 2, 3, 4]; rejects duplicates and empties."""
    try:
        if "-" in text.strip()[1:] and "," not in text:
            lo, hi = (int(x) for x in text.split("-"))
            seeds = list(range(lo, hi + 1))
        else:
            seeds = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise RunError(f"--seeds {text!r}: give comma-separated integers, e.g. 0,1,2") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise RunError(f"--seeds {text!r}: give distinct integers, e.g. 0,1,2")
    bad = [s for s in seeds if not 0 <= s <= MAX_SEED]
    if bad:
        raise RunError(f"--seeds {text!r}: seeds must be in 0..{MAX_SEED} (2**32 - 1), got {bad}")
    return seeds


def check_same_step(steps: list[int], resume_hint: str) -> None:
    if len(set(steps)) > 1:
        raise RunError(
            f"the seeds' checkpoints are at different steps {sorted(set(steps))}; resume each "
            f"seed alone ({resume_hint}) to the same step"
        )


def check_saved_steps(ckpt_dirs, *, overwrite: bool, resume_hint: str) -> None:
    """``check_same_step`` on the seeds' latest saved checkpoints (none: step 0), for use
    BEFORE any seed folder is opened, so that the refusal writes nothing. Overwriting starts
    every seed at 0."""
    if not overwrite:
        check_same_step([latest_step(Path(d)) or 0 for d in ckpt_dirs], resume_hint)


SEED_MODE_ENV = FORM_ENV
SEED_MODES = ("vmap", "loop")


def seed_mode(arch: str) -> str:
    """How S seeds (or M models) of ``arch`` run, as ``fit_seeds`` takes it: "vmap", one
    batched program over the stacked states, or "loop", the single-seed program called for
    each seed in turn every step. The form is chosen per (backend, arch) from measurement in
    ``forms.choose_form`` (the loop for conv models on CPU, whose grouped convolutions ran
    slower there; vmap for the MLP and elsewhere); its "batched_matmul" form is "vmap" here,
    with the models built by ``forms.form_config``.
    ``ANOGAN_JAX_SEED_MODE`` overrides the choice (``forms.FORMS``; RunError for another
    value)."""
    return fit_mode(choose_form(arch).form)


def seeds_step(raw_step: Callable, mode: str, n: int, frozen: list | None) -> Callable:
    """``step(states, batch, keys)`` of S seeds, in the form ``mode`` holds them:

    - "vmap": one vmapped program over stacked states (a leading axis S), a stacked batch and
      stacked keys;
    - "loop": a tuple of S states, a list of S batches and a tuple of S keys; each seed goes
      through the single-seed program in turn, so its arithmetic is that seed's alone, and
      nothing is stacked or sliced per step but the metrics (one tiny program).

    Either way the metrics come back stacked (leaves with a leading axis S)."""
    if mode == "vmap":
        vstep = xla_cpu.jit(jax.vmap(raw_step), donate_argnums=0)
        if frozen is None:
            return vstep
        stacked = stack(frozen)
        return lambda s, b, k: vstep(s, stacked, b, k)
    if mode != "loop":
        raise ValueError(f"unknown seed mode {mode!r}; choose 'vmap' or 'loop'")
    single = xla_cpu.jit(raw_step, donate_argnums=0)
    join = xla_cpu.jit(stack)
    extra = [()] * n if frozen is None else [(f,) for f in frozen]

    def step(states, batches, keys):
        parts = zip(states, extra, batches, keys, strict=True)
        outs = [single(s, *e, b, k) for s, e, b, k in parts]
        return tuple(o[0] for o in outs), join([o[1] for o in outs])

    return step


def seeds_input(mode: str, states: list, batch_fns: list[Callable], keys: list):
    """(initial states, batch function, keys) in the form ``seeds_step(mode)`` takes. The
    states are new buffers either way (the steps donate them; the caller's stay valid)."""
    if mode == "vmap":
        return stack(states), lambda i: np.stack([b(i) for b in batch_fns]), jnp.stack(keys)
    held = tuple(jax.tree.map(jnp.copy, s) for s in states)
    return held, lambda i: [b(i) for b in batch_fns], tuple(keys)


def seed_states(mode: str, states, n: int) -> list:
    """The per-seed states of what ``seeds_step(mode)`` returns."""
    return unstack(states, n) if mode == "vmap" else list(states)


def fit_seeds(
    raw_step: Callable,
    states: list,
    batch_fns: list[Callable],
    keys: list,
    *,
    frozen: list | None = None,
    mode: str = "vmap",
    on_log_each: list[Callable],
    on_sync_each: list[Callable],
    sync_at: Callable[[int], bool],
    **fit_kwargs,
) -> list:
    """Trains S states together (``loop.fit`` underneath): one ``jit(vmap(raw_step))``, or
    with ``mode="loop"`` the single-seed program per seed in turn (see ``seed_mode``).

    Args:
      raw_step: the un-jitted ``step(state, batch, key)``, or ``step(state, frozen, batch,
        key)`` with ``frozen`` (one frozen pytree per seed).
      states: the seeds' initial states.
      batch_fns: one per seed, ``batch_fn(step)`` -> that seed's batch.
      keys: one training key per seed.
      frozen: optional, one frozen pytree per seed, passed to ``raw_step``.
      mode: "vmap" or "loop" (``seed_mode``).
      on_log_each: one per seed, called with that seed's metrics.
      on_sync_each: one per seed, called with that seed's state.
      sync_at: the steps at which the states come to the host (``loop.fit``).
      **fit_kwargs: passed on to ``loop.fit``.
    Returns:
      the final state of each seed.
    """
    n = len(states)
    step_fn = seeds_step(raw_step, mode, n, frozen)
    start = min(int(s.step) for s in states)

    def on_log(step, metrics, rate):
        for i, callback in enumerate(on_log_each):
            callback(step, {k: v[i] for k, v in metrics.items()}, rate)

    def on_sync(step, held):
        for callback, s in zip(on_sync_each, seed_states(mode, held, n), strict=True):
            callback(step, s)

    held, batch_fn, held_keys = seeds_input(mode, states, batch_fns, keys)
    final = fit(
        held,
        step_fn,
        batch_fn,
        held_keys,
        start=start,
        on_log=on_log,
        on_sync=on_sync,
        sync_at=sync_at,
        **fit_kwargs,
    )
    return seed_states(mode, final, n)
