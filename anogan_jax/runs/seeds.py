"""Many seeds trained together, one compile for all: S states stacked on a leading axis and
trained with ``jax.vmap`` over the state (one program), or, where that is slower (conv models
on XLA:CPU, ``seed_mode``), the single-seed program called for each seed in turn. Each seed
keeps its own folder (``<out>/seed_<s>/``, an ordinary run folder), its own data order and its
own keys, so each equals that seed alone: up to float rounding when vmapped, bit for bit when
looped. ``fit_seeds`` is the one loop of GAN and encoder training over seeds
(``gan.train_gan`` and ``encoder_run.train_encoder`` given ``seeds``) and over the models
axis (``gan.train_gans``, ``encoder_run.train_encoders``), on one device or sharded over a
("models", "data") mesh (``devices.models_mesh``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from anogan_jax.devices import (
    DeviceError,
    batch_sharding,
    models_sharding,
    put_global,
    replicated,
    row_meshes,
    to_host,
)
from anogan_jax.loop import fit
from anogan_jax.ops import xla_cpu
from anogan_jax.runs.checkpoint import latest_step
from anogan_jax.runs.config import MAX_SEED, RunError
from anogan_jax.runs.forms import FORM_ENV, choose_form, fit_mode


def stack(trees):
    """[tree] * S -> one tree with a leading axis S."""
    return jax.tree.map(lambda *xs: jax.numpy.stack(xs), *trees)


def host_stack(trees):
    """``stack`` on the host: [tree] * S -> one tree of numpy arrays with a leading axis S."""
    return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *trees)


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


def seeds_step(raw_step: Callable, mode: str, n: int, frozen: list | None, mesh=None) -> Callable:
    """``step(states, batch, keys)`` of S seeds, in the form ``mode`` holds them:

    - "vmap": one vmapped program over stacked states (a leading axis S), a stacked batch and
      stacked keys;
    - "loop": a tuple of S states, a list of S batches and a tuple of S keys; each seed goes
      through the single-seed program in turn, so its arithmetic is that seed's alone, and
      nothing is stacked or sliced per step but the metrics (one tiny program).

    Either way the metrics come back stacked (leaves with a leading axis S). With a ``mesh``
    (``devices.models_mesh``) the program is ``mesh_step``'s."""
    if mesh is not None:
        return mesh_step(raw_step, mode, n, frozen, mesh)
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


def mesh_step(raw_step: Callable, mode: str, n: int, frozen: list | None, mesh) -> Callable:
    """``seeds_step`` of n models over a ("models", "data") mesh, inputs from ``seeds_input``:

    - "vmap": the one vmapped program, jitted with the stacked states, frozen pytrees and keys
      split over the ``models`` axis and the stacked batches (n, k, B, ...) over ``models`` and,
      on B, ``data``; GSPMD inserts the reductions over ``data``. The metrics come back
      replicated (stacked, a leading axis n).
    - "loop": each model's single-model program on its own slice of the mesh
      (``devices.row_meshes``), its state and key replicated there and its batch split on B
      over the slice's devices; the calls return at once (async dispatch), so models on other
      slices run concurrently. Metrics come back as lists of n per-model arrays. One host
      only (the slices' metrics are read where they live)."""
    along = models_sharding(mesh)
    if mode == "vmap":
        ins = (along,) * (1 if frozen is None else 2) + (models_sharding(mesh, 2), along)
        vstep = xla_cpu.jit(
            jax.vmap(raw_step),
            in_shardings=ins,
            out_shardings=(along, replicated(mesh)),
            donate_argnums=0,
        )
        if frozen is None:
            return vstep
        stacked = put_global(host_stack(frozen), along)
        return lambda s, b, k: vstep(s, stacked, b, k)
    if mode != "loop":
        raise ValueError(f"unknown seed mode {mode!r}; choose 'vmap' or 'loop'")
    if jax.process_count() > 1:
        raise DeviceError(
            f"the models loop runs on one host; set {SEED_MODE_ENV}=vmap to train on several"
        )
    rows = row_meshes(mesh, n)
    singles = {row: _row_jit(raw_step, row, frozen is not None) for row in set(rows)}
    extra = (
        [()] * n
        if frozen is None
        else [(put_global(f, replicated(r)),) for f, r in zip(frozen, rows, strict=True)]
    )

    def step(states, batches, keys):
        parts = zip(rows, states, extra, batches, keys, strict=True)
        outs = [singles[r](s, *e, b, k) for r, s, e, b, k in parts]
        return tuple(o[0] for o in outs), {k: [o[1][k] for o in outs] for k in outs[0][1]}

    return step


def _row_jit(raw_step: Callable, row, has_frozen: bool) -> Callable:
    """The single-model program on the 1-D mesh ``row``: state, frozen pytrees and key
    replicated, the batch (k, B, ...) split on B (``train.jit_step``'s shardings)."""
    rep = replicated(row)
    ins = (rep,) * (2 if has_frozen else 1) + (batch_sharding(row, 1), rep)
    return xla_cpu.jit(raw_step, in_shardings=ins, out_shardings=(rep, rep), donate_argnums=0)


def _mesh_input(mode: str, states: list, batch_fns: list[Callable], keys: list, mesh):
    """``seeds_input`` for ``mesh_step``: every array built from the global host value by the
    process that holds its shards (``devices.put_global``)."""
    if mode == "vmap":
        along, split = models_sharding(mesh), models_sharding(mesh, 2)
        held = put_global(host_stack(states), along)
        return (
            held,
            lambda i: put_global(np.stack([b(i) for b in batch_fns]), split),
            put_global(jnp.stack(keys), along),
        )
    rows = row_meshes(mesh, len(states))
    held = tuple(put_global(to_host(s), replicated(r)) for s, r in zip(states, rows, strict=True))
    splits = [batch_sharding(r, 1) for r in rows]
    return (
        held,
        lambda i: [put_global(b(i), x) for b, x in zip(batch_fns, splits, strict=True)],
        tuple(put_global(k, replicated(r)) for k, r in zip(keys, rows, strict=True)),
    )


def seeds_input(mode: str, states: list, batch_fns: list[Callable], keys: list, mesh=None):
    """(initial states, batch function, keys) in the form ``seeds_step(mode, mesh=mesh)``
    takes. The states are new buffers either way (the steps donate them; the caller's stay
    valid)."""
    if mesh is not None:
        return _mesh_input(mode, states, batch_fns, keys, mesh)
    if mode == "vmap":
        return stack(states), lambda i: np.stack([b(i) for b in batch_fns]), jnp.stack(keys)
    held = tuple(jax.tree.map(jnp.copy, s) for s in states)
    return held, lambda i: [b(i) for b in batch_fns], tuple(keys)


def seed_states(mode: str, states, n: int, mesh=None) -> list:
    """The per-seed states of what ``seeds_step(mode, mesh=mesh)`` returns; from a mesh,
    brought to the host (``devices.to_host``) and put on the default device, as a single
    run's state is saved."""
    if mesh is None:
        return unstack(states, n) if mode == "vmap" else list(states)
    host = to_host(states)
    parts = unstack(host, n) if mode == "vmap" else list(host)
    return [jax.device_put(p) for p in parts]


def fit_seeds(
    raw_step: Callable,
    states: list,
    batch_fns: list[Callable],
    keys: list,
    *,
    frozen: list | None = None,
    mode: str = "vmap",
    mesh=None,
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
      mesh: None (one device), or a ("models", "data") mesh (``devices.models_mesh``) to
        shard the models over (``mesh_step``); each model's batch size must split over its
        ``data`` axis.
      on_log_each: one per seed, called with that seed's metrics.
      on_sync_each: one per seed, called with that seed's state.
      sync_at: the steps at which the states come to the host (``loop.fit``).
      **fit_kwargs: passed on to ``loop.fit``.
    Returns:
      the final state of each seed.
    """
    n = len(states)
    step_fn = seeds_step(raw_step, mode, n, frozen, mesh)
    start = min(int(s.step) for s in states)

    def on_log(step, metrics, rate):
        for i, callback in enumerate(on_log_each):
            callback(step, {k: v[i] for k, v in metrics.items()}, rate)

    def on_sync(step, held):
        for callback, s in zip(on_sync_each, seed_states(mode, held, n, mesh), strict=True):
            callback(step, s)

    held, batch_fn, held_keys = seeds_input(mode, states, batch_fns, keys, mesh)
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
    return seed_states(mode, final, n, mesh)
