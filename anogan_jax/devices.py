"""One device or many: a 1-D ``Mesh`` over the devices, data-parallel shardings, the 2-D
("models", "data") mesh of many models trained as one program, and the multi-host start-up.
The same jitted functions run on one CPU core or on eight accelerators; only the shardings of
their inputs change (GSPMD inserts the collectives)."""

from __future__ import annotations

import math

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from anogan_jax import hosts
from anogan_jax.errors import UserError

AXIS = "data"
MODELS = "models"


class DeviceError(UserError, ValueError):
    """A device count or batch size that does not fit the devices."""


def initialize_distributed(coordinator: str, num_processes: int, process_id: int) -> None:
    """Joins a multi-host run (``hosts.join``; call before anything else touches jax devices)."""
    if not 0 <= process_id < num_processes:
        raise DeviceError(f"--process-id {process_id} must be in [0, {num_processes})")
    hosts.join(coordinator, num_processes, process_id)


def take_devices(devices: int | str) -> list:
    """The first ``devices`` devices (or all of them with ``"all"``), of every process."""
    available = jax.devices()
    n = len(available) if devices == "all" else int(devices)
    if not 1 <= n <= len(available):
        raise DeviceError(
            f"--devices {devices}: this machine has {len(available)} {available[0].platform} "
            f"device(s); choose 1-{len(available)} or 'all'"
        )
    return available[:n]


def make_mesh(devices: int | str = 1) -> Mesh:
    """A 1-D mesh named ``data`` over the first ``devices`` devices (or ``"all"``)."""
    return Mesh(np.array(take_devices(devices)), (AXIS,))


def models_mesh_shape(num_models: int, num_devices: int) -> tuple[int, int]:
    """(models, data): the shape of the mesh that ``num_models`` models train on over
    ``num_devices`` devices. models = gcd(num_models, num_devices), so that every slice of the
    models axis holds the same number of whole models (num_models / models); data =
    num_devices / models, the devices each model's batch is split over. E.g. 6 models on 8
    devices: (2, 4); 8 models on 8: (8, 1); 3 models on 8: (1, 8)."""
    models = math.gcd(num_models, num_devices)
    return models, num_devices // models


def check_models_batch(num_models: int, num_devices: int, batch_size: int) -> None:
    """Raises DeviceError when each model's ``batch_size`` does not split over the data axis
    of ``models_mesh_shape(num_models, num_devices)``, saying what to choose instead."""
    models, data = models_mesh_shape(num_models, num_devices)
    if batch_size % data:
        raise DeviceError(
            f"{num_models} models on {num_devices} devices form a mesh of {models} model "
            f"slice(s) x {data} data devices (models = gcd({num_models}, {num_devices})), and "
            f"the batch size {batch_size} does not split over {data} devices; use a batch size "
            f"that is a multiple of {data}, or --devices {models} (no data split)"
        )


def models_mesh(num_models: int, devices: int | str, *, batch_size: int) -> Mesh | None:
    """The ("models", "data") mesh of ``models_mesh_shape`` over the first ``devices``
    devices (or ``"all"``); None for one device (the single-device program).

    Raises:
      DeviceError: more devices than there are, or a ``batch_size`` (each model's) that does
        not split over the data axis (``check_models_batch``)."""
    chosen = take_devices(devices)
    if len(chosen) == 1:
        return None
    check_models_batch(num_models, len(chosen), batch_size)
    shape = models_mesh_shape(num_models, len(chosen))
    return Mesh(np.array(chosen).reshape(shape), (MODELS, AXIS))


def row_meshes(mesh: Mesh, num_models: int) -> list[Mesh]:
    """Model i's slice of a ("models", "data") mesh as a 1-D ``data`` mesh: the row that holds
    model i where the models axis is split in ``num_models / models`` contiguous blocks (as
    ``models_sharding`` splits a stacked axis)."""
    per = num_models // mesh.devices.shape[0]
    return [Mesh(mesh.devices[i // per], (AXIS,)) for i in range(num_models)]


def models_sharding(mesh: Mesh, batch_axis: int | None = None) -> NamedSharding:
    """Axis 0 (the stacked models) split over the ``models`` axis; with ``batch_axis``, that
    axis over ``data``; every other axis whole."""
    if batch_axis is None:
        return NamedSharding(mesh, P(MODELS))
    return NamedSharding(mesh, P(MODELS, *([None] * (batch_axis - 1)), AXIS))


def put_global(tree, sharding: NamedSharding):
    """Places a pytree of host arrays (the GLOBAL values, identical on every host) with
    ``sharding``: each process builds only the shards its own devices hold
    (``jax.make_array_from_callback``), so it works on one host or several. Typed PRNG keys
    travel as their key data."""

    def put(x):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            data = put(np.asarray(jax.random.key_data(x)))
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
        x = np.asarray(x)
        return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

    return jax.tree.map(put, tree)


def to_host(tree):
    """A pytree of (possibly sharded, possibly multi-host) arrays as numpy arrays holding the
    global values, on every process."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    return multihost_utils.process_allgather(tree, tiled=True)


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
