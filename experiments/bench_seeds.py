"""Many seeds in one program against the same seeds run one after another.

    .venv/bin/python -m experiments.bench_seeds           # mlp, dcgan28_light; S = 1, 2, 4, 8
    .venv/bin/python -m experiments.bench_seeds --quick   # a smoke run

For each architecture and S, four forms run interleaved in one process: S stacked states in
one ``jit(vmap(step))`` and the single-seed step called for each of S held states, with the
metrics stacked (``runs.seeds.seeds_step``, "looped"): the two ways ``train --seeds`` runs
them (see ``runs.seeds.seed_mode``); the S states in turn inside one ``jit(lax.map(step))``
(tried, not used); and S single-seed jitted steps on S separate states (what S sequential
runs do). Also tried once and not kept as a column: the S single-seed steps unrolled inside
one jitted program (dcgan28_light, S = 4: 0.75-0.84x sequential, 17 s to compile).
Throughput is seed-steps per second (S x steps / s); memory is XLA's own account of each
compiled program (arguments + outputs + temporaries, from ``compiled.memory_analysis()``; the
sequential runs hold S single states).
Results: ``experiments/results/bench_seeds.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys

import jax
import jax.numpy as jnp
from jax import lax

from anogan_jax.ops import xla_cpu
from anogan_jax.runs.seeds import seeds_input, seeds_step, stack
from anogan_jax.state import init_gan_state
from experiments import bench_common as bc

ARCHS = ("mlp", "dcgan28_light")
SEEDS = (1, 2, 4, 8)


def _memory_mb(compiled) -> float | None:
    m = compiled.memory_analysis()
    if m is None:
        return None
    total = m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
    return round(total / 2**20, 2)


def programs(arch: str, num_seeds: int, batch_size: int):
    """(vmapped run, sequential run, info) for ``num_seeds`` seeds of ``arch``."""
    raw, models, g_tx, d_tx, shape = bc.gan_step(arch, batch_size)
    states = [init_gan_state(models, g_tx, d_tx, jax.random.key(s)) for s in range(num_seeds)]
    batches = [
        jax.random.uniform(jax.random.key(100 + s), shape, minval=-1.0, maxval=1.0)
        for s in range(num_seeds)
    ]
    keys = [jax.random.key(200 + s) for s in range(num_seeds)]

    vstep = xla_cpu.jit(jax.vmap(raw), donate_argnums=0)
    v_args = (stack(states), jnp.stack(batches), jnp.stack(keys))
    v_compiled, v_compile_s = bc.compile_timed(vstep, *v_args)
    mstep = xla_cpu.jit(lambda *a: lax.map(lambda xs: raw(*xs), a), donate_argnums=0)
    m_compiled, m_compile_s = bc.compile_timed(mstep, *v_args)
    loop = seeds_step(raw, "loop", num_seeds, None)
    l_states, _, l_keys = seeds_input("loop", states, [], keys)
    one = xla_cpu.jit(raw, donate_argnums=0)
    s_compiled, s_compile_s = bc.compile_timed(one, states[0], batches[0], keys[0])
    held = {
        "v": v_args[0],
        "m": jax.tree.map(jnp.copy, v_args[0]),
        "l": l_states,
        "s": [jax.tree.map(jnp.copy, s) for s in states],
    }

    def run_vmapped():
        held["v"], _ = v_compiled(held["v"], v_args[1], v_args[2])
        return held["v"]

    def run_mapped():
        held["m"], _ = m_compiled(held["m"], v_args[1], v_args[2])
        return held["m"]

    def run_looped():
        held["l"], _ = loop(held["l"], batches, l_keys)
        return held["l"]

    def run_sequential():
        for i in range(num_seeds):
            held["s"][i], _ = s_compiled(held["s"][i], batches[i], keys[i])
        return held["s"]

    single = _memory_mb(s_compiled)
    info = {
        "compile_s": {
            "vmapped": round(v_compile_s, 2),
            "mapped": round(m_compile_s, 2),
            "single": round(s_compile_s, 2),
        },
        "memory_mb": {
            "vmapped": _memory_mb(v_compiled),
            "mapped": _memory_mb(m_compiled),
            # S states live at once; the temporaries of one step at a time.
            "sequential": None if single is None else round(single * num_seeds, 2),
        },
    }
    return {"vmapped": run_vmapped, "mapped": run_mapped, "looped": run_looped,
            "sequential": run_sequential}, info  # fmt: skip


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    bc.add_common_args(p, "bench_seeds")
    p.add_argument("--archs", default=",".join(ARCHS))
    p.add_argument("--seeds", default=",".join(map(str, SEEDS)), help="values of S")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--min-seconds", type=float, default=2.0, help="least time per sample")
    args = p.parse_args(argv)
    args.no_torch = True
    archs = bc.csv_list(args.archs, ("mlp", "dcgan28_light", "dcgan28"), "arch")
    counts = [int(s) for s in args.seeds.split(",")]
    repeats, min_s = (2, 0.2) if args.quick else (args.repeats, args.min_seconds)
    if args.quick:
        counts = counts[:2]
    load, torch, info, peak = bc.start(args)
    rows = []
    for arch in archs:
        for s in counts:
            runs, prog = programs(arch, s, args.batch_size)
            t = bc.time_interleaved(runs, repeats, min_s, stat=None)
            v, m, lo, q = (t[k]["median_s"] for k in ("vmapped", "mapped", "looped", "sequential"))
            row = {
                "arch": arch,
                "S": s,
                "vmapped_seed_steps_per_s": s / v,
                "sequential_seed_steps_per_s": s / q,
                "mapped_seed_steps_per_s": s / m,
                "vmapped_over_sequential": q / v,
                "mapped_over_sequential": q / m,
                "looped_over_sequential": q / lo,
                "vmapped_memory_mb": prog["memory_mb"]["vmapped"],
                "sequential_memory_mb": prog["memory_mb"]["sequential"],
                "compile_s": prog["compile_s"],
                "samples_s": {k: t[k]["samples_s"] for k in t},
            }
            rows.append(row)
            shown = ["arch", "S", "vmapped_over_sequential", "mapped_over_sequential"]
            shown.append("looped_over_sequential")
            print(bc.row_line(row, shown), flush=True)
    columns = [
        "arch",
        "S",
        "vmapped_seed_steps_per_s",
        "sequential_seed_steps_per_s",
        "mapped_seed_steps_per_s",
        "vmapped_over_sequential",
        "mapped_over_sequential",
        "looped_over_sequential",
        "vmapped_memory_mb",
        "sequential_memory_mb",
    ]
    payload = {
        **bc.payload_head("bench_seeds", args, load, torch, info, peak),
        "torch_note": None,  # JAX against JAX: no PyTorch rows by design
        "batch_size": args.batch_size,
        "repeats": repeats,
        "min_seconds": min_s,
        "rows": rows,
    }
    text = bc.report(
        "Many seeds in one program vs sequential runs (non-saturating, batch "
        f"{args.batch_size}, median of {repeats} interleaved samples)",
        payload,
        bc.markdown_table(rows, columns),
    )
    stem = bc.out_stem(args.out, "bench_seeds", args.quick)
    json_path, _ = bc.write_results(stem, payload, text)
    print(f"results in {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
