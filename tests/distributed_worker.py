"""Run by test_devices.py as one of two processes of a localhost jax.distributed job.

argv: coordinator_port process_id. Each process holds 2 CPU devices (4 in all), reads only its
half of every batch (devices.put_batch), and trains the same tiny GAN as a single process.
Prints a JSON line with the parameter checksum and the global device count."""

import json
import sys

import jax

port, pid = sys.argv[1], int(sys.argv[2])
from anogan_jax import devices  # noqa: E402

devices.initialize_distributed(f"localhost:{port}", 2, pid)

from multidevice_worker import train  # noqa: E402

mesh = devices.make_mesh("all")
leaves, shards = train("non_saturating", mesh)
print(
    json.dumps(
        {
            "process": pid,
            "global_devices": jax.device_count(),
            "local_shards": shards,
            "checksum": [float(abs(x).sum()) for x in leaves],
        }
    )
)
