"""One device or many: a 1-D ``Mesh`` over the devices, data-parallel shardings, and the
multi-host start-up. The same jitted functions run on one CPU core or on eight accelerators;
only the shardings of their inputs change (GSPMD inserts the collectives)."""

from __future__ import annotations

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from anogan_jax import hosts
from anogan_jax.errors import UserError

AXIS = "data"


class DeviceError(UserError, ValueError):
    """A device count or batch size that does not fit the devices."""


def initialize_distributed(coordinator: str, num_processes: int, process_id: int) -> None:
    """Joins a multi-host run (``hosts.join``; call before anything else touches jax devices)."""
    if not 0 <= process_id < num_processes:
        raise DeviceError(f"--process-id {process_id} must be in [0, {num_processes})")
    hosts.join(coordinator, num_processes, process_id)


def make_mesh(devices: int | str = 1) -> Mesh:
    """A 1-D mesh named ``data`` over the first ``devices`` devices (or ``"all"``)."""
    available = jax.devices()
    n = len(available) if devices == "all" else int(devices)
    if not 1 <= n <= len(available):
        raise DeviceError(
            f"--devices {devices}: this machine has {len(available)} {available[0].platform} "
            f"device(s); choose 1-{len(available)} or 'all'"
        )
    return Mesh(np.array(available[:n]), (AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh, batch_axis: int = 0) -> NamedSharding:
    """Splits axis ``batch_axis`` across the mesh; the other axes stay whole."""
    return NamedSharding(mesh, P(*([None] * batch_axis), AXIS))


def check_divisible(batch_size: int, mesh: Mesh) -> None:
    n = mesh.devices.size
    if batch_size % n:
        raise DeviceError(
            f"batch size {batch_size} does not split evenly over {n} devices; use a multiple "
            f"of {n} (e.g. {max(n, batch_size // n * n)}) or fewer devices"
        )


def put_batch(x, mesh: Mesh, batch_axis: int = 0) -> jax.Array:
    """Places a host batch (the GLOBAL batch, identical on every host) split over the mesh.

    On several hosts each process contributes only the rows its devices hold, so every
    host reads its own shard of the data.
    """
    sharding = batch_sharding(mesh, batch_axis)
    if jax.process_count() == 1:
        return jax.device_put(x, sharding)
    rows = x.shape[batch_axis]
    per = rows // jax.process_count()
    local = np.take(
        x, np.arange(per * jax.process_index(), per * (jax.process_index() + 1)), axis=batch_axis
    )
    return jax.make_array_from_process_local_data(sharding, local, x.shape)


def gather_batch(tree):
    """The inverse of ``put_batch`` for outputs: every array of ``tree`` whole, as numpy, in
    every process (on several hosts each holds only its rows until they are gathered)."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    return multihost_utils.process_allgather(tree, tiled=True)


def put_replicated(tree, mesh: Mesh):
    return jax.device_put(tree, replicated(mesh))
