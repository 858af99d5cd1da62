"""Milliseconds per training step of one seed, for comparing thread layouts from the shell.

    .venv/bin/python -m experiments.step_time --arch dcgan28_light
    XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \\
        taskset -c 0 .venv/bin/python -m experiments.step_time        # one thread, core 0

Run two single-threaded copies at once (one per core) to see whether S seeds as concurrent
processes would beat them one after another (``cpu_speed.md``, "Many seeds"). Prints the median
of 5 samples of 30 steps (non-saturating, batch 64, the step ``train`` runs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import jax

from anogan_jax.ops import xla_cpu
from anogan_jax.state import init_gan_state
from experiments import bench_common as bc


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--arch", default="dcgan28_light")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=30, help="steps per sample")
    args = p.parse_args(argv)
    raw, models, g_tx, d_tx, shape = bc.gan_step(args.arch, args.batch_size)
    step = xla_cpu.jit(raw, donate_argnums=0)
    state = init_gan_state(models, g_tx, d_tx, jax.random.key(0))
    batch = jax.random.uniform(jax.random.key(1), shape, minval=-1.0, maxval=1.0)
    key = jax.random.key(2)
    state, _ = step(state, batch, key)  # compile and warm up
    jax.block_until_ready(state)
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(args.steps):
            state, _ = step(state, batch, key)
        jax.block_until_ready(state)
        samples.append((time.perf_counter() - start) / args.steps)
    ms = 1000 * statistics.median(samples)
    flags = os.environ.get("XLA_FLAGS")
    print(f"{args.arch} batch {args.batch_size}: {ms:.1f} ms/step (XLA_FLAGS={flags!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
