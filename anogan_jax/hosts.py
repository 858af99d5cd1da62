"""The processes of a multi-host run (``jax.distributed``): joining, which process writes the
folders' files, meeting at the points where all must agree, and leaving together.

Every process runs the same command on the same folders (a disk they all see: orbax writes
each checkpoint from every process into one folder). Process 0 writes everything else (configs,
metrics, samples, events, scores); the others read what it wrote once ``sync`` says it is
there. A process that fails publishes its error (``fail``); the others raise it at their next
``sync`` instead of waiting for a process that has left. Without ``jax.distributed`` every
function but ``join`` is a no-op (``is_writer`` is True).
"""

from __future__ import annotations

import itertools
import time

import jax

from anogan_jax.errors import UserError

_PREFIX = "anogan_jax"
_POLL_S = 0.05
# A process of a finished or failed run waits this long at exit for the others (the
# coordination service's shutdown barrier) before leaving alone.
SHUTDOWN_TIMEOUT_S = 30
# A process that stops sending heartbeats (killed, its host gone) is declared dead after this.
HEARTBEAT_TIMEOUT_S = 30
_counter = itertools.count()


class HostError(UserError, RuntimeError):
    """Another process of the multi-host run stopped; the message names it and its error."""


def join(coordinator: str, num_processes: int, process_id: int) -> None:
    """Joins a multi-host run and exchanges the device topology at once (so a process that
    fails later finds the others past start-up). Call before anything else touches jax.

    CPU-only hosts need a collectives library for cross-process reductions (gloo; accelerators
    ignore the setting). The preemption service is off: it catches SIGTERM (to checkpoint
    before a preemption), which would leave a process that a user or a scheduler stops
    running on."""
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.config.update("jax_enable_preemption_service", False)
    jax.distributed.initialize(
        coordinator_address=coordinator,
        num_processes=num_processes,
        process_id=process_id,
        heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT_S,
        shutdown_timeout_seconds=SHUTDOWN_TIMEOUT_S,
    )
    jax.devices()


def is_multihost() -> bool:
    return jax.distributed.is_initialized()


def is_writer() -> bool:
    """Whether this process writes the folders' files: process 0 of a multi-host run, or the
    only process (without ``jax.distributed``, without starting a jax backend)."""
    return not is_multihost() or jax.process_index() == 0


def _client():
    # The coordination service's key-value store has no public accessor in jax; orbax's
    # multihost utilities read the same object.
    return jax._src.distributed.global_state.client


def fail(message: str) -> None:
    """Publishes this process's error to the other processes (their ``sync`` raises it)."""
    if not is_multihost():
        return
    try:
        _client().key_value_set(f"{_PREFIX}/failed/{jax.process_index()}", message)
    except Exception:  # noqa: BLE001 (the service may be gone already; we leave anyway)
        pass


def sync(name: str) -> None:
    """Waits until every process has reached this point (the n-th ``sync`` of each process
    meets the n-th of the others). Raises HostError, naming the process and its error, as soon
    as another process has failed (``fail``) instead of arriving."""
    if not is_multihost():
        return
    client, n = _client(), jax.process_count()
    where = f"{_PREFIX}/sync/{next(_counter)}_{name}/"
    client.key_value_set(f"{where}{jax.process_index()}", "ok")
    while True:
        failed = client.key_value_dir_get(f"{_PREFIX}/failed/")
        if failed:
            key, message = sorted(failed)[0]
            raise HostError(f"process {key.rsplit('/', 1)[1]} of this run stopped: {message}")
        if len(client.key_value_dir_get(where)) == n:
            return
        time.sleep(_POLL_S)


def leave() -> None:
    """Leaves the multi-host run (the coordination service's shutdown barrier, at most
    ``SHUTDOWN_TIMEOUT_S``); a no-op without one."""
    if is_multihost():
        try:
            jax.distributed.shutdown()
        except Exception:  # noqa: BLE001 (a process left without it: nothing to wait for)
            pass
