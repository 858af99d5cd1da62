"""Run by test_devices.py as one of two processes of a localhost jax.distributed job.

argv: coordinator_port process_id out.npz. Each process holds 2 CPU devices (4 in all), reads
only its half of every batch (devices.put_batch), and trains the same tiny GAN as a single
process. Saves every leaf of the trained state to out.npz (in tree order) and prints a JSON line
with the global device count and the local shards of the batch."""

import json
import sys

import jax
import numpy as np

port, pid, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
from anogan_jax import devices  # noqa: E402

devices.initialize_distributed(f"localhost:{port}", 2, pid)

from multidevice_worker import train  # noqa: E402

mesh = devices.make_mesh("all")
leaves, shards = train("non_saturating", mesh)
np.savez(out, *[np.asarray(x) for x in leaves])
print(
    json.dumps(
        {
            "process": pid,
            "global_devices": jax.device_count(),
            "local_shards": shards,
        }
    )
)
