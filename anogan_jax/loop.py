"""The thin Python fit loop shared by every trainer (GAN, encoder, classifier, many seeds).

The host reads the device only at sync steps (log steps, the steps the caller asks for, and
the last step), so dispatch runs ahead of the device in between.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from anogan_jax.errors import UserError


class NonFiniteError(UserError, RuntimeError):
    """Raised by ``fit`` naming the first step whose losses or parameters are not finite."""


def all_finite(tree) -> jax.Array:
    """True (a device bool scalar) when every element of every leaf of ``tree`` is finite."""
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]
    return jnp.all(jnp.stack(leaves))


def host_metrics(metrics: dict) -> dict:
    """Device metrics -> floats (or lists of floats, one per seed, for stacked states)."""
    return {k: np.asarray(v).tolist() for k, v in jax.device_get(metrics).items() if k != "finite"}


def nonfinite_message(step: int, metrics: dict, hint: str) -> str:
    shown = ", ".join(f"{k}={np.round(v, 4).tolist()}" for k, v in metrics.items())
    return (
        f"training produced a non-finite loss or parameter at step {step} ({shown}). "
        f"The last good checkpoint is kept. Try: {hint}"
    )


def _first_nonfinite(window: list) -> int | None:
    """Index in ``window`` (the device metrics of the steps since the last sync, each with
    its ``finite`` flag) of the first step that was not finite, or None."""
    finite = [m["finite"] for m in window]
    flags = np.asarray(jax.device_get(finite)).reshape(len(window), -1).all(axis=1)
    bad = np.flatnonzero(~flags)
    return int(bad[0]) if bad.size else None


def fit(
    state,
    step_fn: Callable,
    batch_fn: Callable[[int], np.ndarray],
    key: jax.Array,
    *,
    num_steps: int,
    log_every: int = 50,
    on_log: Callable[[int, dict, float], None] | None = None,
    sync_at: Callable[[int], bool] | None = None,
    on_sync: Callable[[int, object], None] | None = None,
    nonfinite_hint: str = "a lower learning rate",
    progress: bool = True,
    desc: str = "train",
    start: int | None = None,
):
    """Runs ``step_fn(state, batch_fn(i), key)`` from ``state.step`` up to ``num_steps``.

    Args:
      batch_fn: step index -> host batch; a pure function of the index, so resuming at any
        step sees the same data as an uninterrupted run.
      on_log: called every ``log_every`` steps and at the end with (step, metrics as floats,
        steps per second).
      sync_at: step -> whether ``on_sync`` has work at that step (checkpoints, samples).
      on_sync: called with (step, state) at the steps ``sync_at`` names and at the last step,
        after the finiteness check, so it never sees a non-finite state.
    Raises:
      NonFiniteError: at the first sync after a non-finite step; the message names that step
        and its metrics (every step's device metrics are kept until the next sync). No
        callback sees a state from that step or later.
      start: the step ``state`` is at; by default ``state.step`` (its least element for
        stacked states). Needed where ``state`` is not one TrainState (a tuple of seeds).
    """
    if start is None:
        start = int(np.min(np.asarray(state.step)))
    bar = tqdm(total=num_steps, initial=start, desc=desc, disable=not progress, unit="step")
    t0, last_logged, window, metrics = time.perf_counter(), start, [], None
    for i in range(start, num_steps):
        state, metrics = step_fn(state, batch_fn(i), key)
        step = i + 1
        window.append(metrics)
        bar.update(1)
        logs = step % log_every == 0 or step == num_steps
        syncs = step == num_steps or (sync_at is not None and sync_at(step))
        if not (logs or syncs):
            continue
        bad = _first_nonfinite(window)
        if bad is not None:
            bar.close()
            first = step - len(window) + 1 + bad
            shown = host_metrics(window[bad])
            raise NonFiniteError(nonfinite_message(first, shown, nonfinite_hint))
        window = []
        if logs:
            host = host_metrics(metrics)
            rate = (step - last_logged) / max(time.perf_counter() - t0, 1e-9)
            t0, last_logged = time.perf_counter(), step
            bar.set_postfix({k: f"{np.mean(v):.3g}" for k, v in host.items()}, refresh=False)
            if on_log is not None:
                on_log(step, host, rate)
        if syncs and on_sync is not None:
            on_sync(step, state)
    bar.close()
    return state
