"""Shared pieces of the benchmark scripts: machine description, load check, matmul peak,
timing and result writers.

Timing rules used by every benchmark here: compilation (and PyTorch's first call) is timed
apart from steady state; a timed sample runs its unit of work ``inner`` times (calibrated so a
sample lasts at least ``min_seconds``) and blocks on the result; the reported figure is the
median of the samples; when several programs are compared, their samples are interleaved
(A, B, B, A, A, B, ...) so that load changes on a shared machine hit all of them alike.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
from jax.extend import core as jax_core

from anogan_jax.files import atomic_write_text, write_json
from anogan_jax.runs.provenance import SETTINGS, settings

RESULTS_DIR = Path(__file__).resolve().parent / "results"
# Above this 1-minute load average per core, timings on a shared machine are not trustworthy.
BUSY_LOAD_PER_CORE = 0.5


# ----------------------------------------------------------------------------- machine


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _version(module: str) -> str | None:
    try:
        return importlib.import_module(module).__version__
    except Exception:  # any import failure means "not available"
        return None


def cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def machine_info(torch=None) -> dict:
    """CPU, cores, RAM, library versions, JAX backend and devices (and PyTorch's threads)."""
    mem_kb = next(
        (
            int(line.split()[1])
            for line in _read("/proc/meminfo").splitlines()
            if "MemTotal" in line
        ),
        0,
    )
    devices = jax.devices()
    info = {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cores": usable_cores(),
        "cgroup_cpu_max": _read("/sys/fs/cgroup/cpu.max").strip() or None,
        "ram_gib": round(mem_kb / 2**20, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {m: _version(m) for m in ("jax", "jaxlib", "flax", "optax", "numpy", "torch")},
        "jax_backend": jax.default_backend(),
        "jax_devices": [f"{d.platform}:{d.device_kind}" for d in devices],
        # provenance.SETTINGS decide how XLA computes (and so a timing); OMP_NUM_THREADS how
        # many threads PyTorch's baseline gets. ``settings`` adds non-default jax options.
        "env": {k: os.environ[k] for k in (*SETTINGS, "OMP_NUM_THREADS") if k in os.environ},
        "settings": settings(),
    }
    if torch is not None:
        info["torch_threads"] = torch.get_num_threads()
    return info


def describe_machine(info: dict) -> str:
    v = info["versions"]
    if info.get("torch_threads"):
        torch = f", torch {v['torch']} ({info['torch_threads']} threads)"
    else:
        torch = f", torch {v['torch']} installed, not used" if v["torch"] else ""
    # Older result files have no "settings"; an empty one means XLA's and jax's defaults.
    chosen = f"; settings: {info['settings']}" if info.get("settings") else ""
    return (
        f"{info['cpu_model']}, {info['usable_cores']} usable cores, {info['ram_gib']} GiB RAM; "
        f"jax {v['jax']} / jaxlib {v['jaxlib']} on {info['jax_backend']} "
        f"({', '.join(info['jax_devices'])}){torch}{chosen}"
    )


def on_gpu() -> bool:
    return jax.default_backend() == "gpu"


def torch_note(torch) -> str | None:
    """A line for the results when the PyTorch rows need one."""
    if torch is None:
        return "PyTorch not available: torch columns are empty."
    if jax.default_backend() != "cpu":
        return (
            f"PyTorch rows run on the CPU (the pinned CPU wheel) while JAX runs on "
            f"{jax.default_backend()}: JAX / PyTorch compares different devices."
        )
    return None


# ----------------------------------------------------------------------------- load


def busy_probe(seconds: float = 0.3) -> float:
    """Share of one core this process gets while spinning for ``seconds`` (1.0 = uncontended)."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    while time.perf_counter() - wall0 < seconds:
        sum(range(1000))
    return (time.process_time() - cpu0) / (time.perf_counter() - wall0)


def check_load(allow_busy: bool) -> dict:
    """Measures the load before benchmarking; exits with status 3 on a busy machine unless
    ``allow_busy``. Returns what was measured (recorded in the results either way)."""
    load1, load5, load15 = os.getloadavg()
    cores = usable_cores()
    load = {
        "loadavg": [round(load1, 2), round(load5, 2), round(load15, 2)],
        "load1_per_core": round(load1 / cores, 2),
        "busy_probe_cpu_share": round(busy_probe(), 3),
        "threshold_per_core": BUSY_LOAD_PER_CORE,
    }
    load["busy"] = load["load1_per_core"] > BUSY_LOAD_PER_CORE
    load["allowed_busy"] = bool(allow_busy)
    if load["busy"]:
        msg = (
            f"machine is busy: 1-minute load average {load1:.2f} on {cores} cores "
            f"({load['load1_per_core']:.2f} per core > {BUSY_LOAD_PER_CORE}); "
            f"a spinning thread got {load['busy_probe_cpu_share']:.0%} of a core."
        )
        if not allow_busy:
            print(f"{msg}\nTimings would not be trustworthy. Wait until the machine is quiet, "
                  "or pass --allow-busy to measure anyway (the load is recorded in the "
                  "results).", file=sys.stderr)  # fmt: skip
            sys.exit(3)
        print(f"WARNING: {msg} Measuring anyway (--allow-busy).", file=sys.stderr)
    return load


def load_after() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ----------------------------------------------------------------------------- torch


def load_torch(enabled: bool = True, threads: int | None = None):
    """PyTorch if installed (and ``enabled``), else None with a message saying why."""
    if not enabled:
        print("PyTorch baselines disabled (--no-torch): torch rows omitted.")
        return None
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: torch rows omitted. For the baselines run .venv/bin/pip "
              "install -e '.[bench]' (pins the CPU wheel torch==2.13.0).")  # fmt: skip
        return None
    if threads:
        torch.set_num_threads(threads)
    return torch


# ----------------------------------------------------------------------------- timing


def gan_step(arch: str, batch_size: int):
    """The GAN step that ``train`` runs for ``arch`` (default RunConfig otherwise, not jitted):
    (step, models, g_tx, d_tx, shape of one step's batch (n_critic, batch, H, W, C)). The
    step benchmarks build on it."""
    from anogan_jax.runs.config import RunConfig
    from anogan_jax.runs.models import build_models, build_optimizers, build_step

    config = RunConfig(arch=arch, batch_size=batch_size)
    models = build_models(config)
    g_tx, d_tx, n_critic = build_optimizers(config)
    step = build_step(config, models, g_tx, d_tx, n_critic, jit=False)
    return step, models, g_tx, d_tx, (n_critic, batch_size, *models.image_shape)


def compile_timed(jitted, *args):
    """(compiled executable, seconds spent tracing + lowering + compiling)."""
    start = time.perf_counter()
    compiled = jitted.lower(*args).compile()
    return compiled, time.perf_counter() - start


def xla_flops(compiled) -> float | None:
    """XLA's flop count of a compiled program (a ``lax.scan`` body is counted ONCE)."""
    try:
        cost = compiled.cost_analysis()
    except Exception:  # some backends do not implement it
        return None
    if isinstance(cost, list | tuple):
        cost = cost[0] if cost else {}
    flops = (cost or {}).get("flops")
    return float(flops) if flops is not None and flops >= 0 else None


def time_interleaved(
    programs: dict, repeats: int, min_seconds: float, stat: Callable | None = statistics.median
) -> dict:
    """Seconds per call of each program, from samples interleaved across the programs.

    A program is a zero-argument callable or a ``(fn, args)`` pair called as ``fn(*args)``. A
    sample makes ``inner`` calls, then passes the last output to ``jax.block_until_ready`` (a
    callable that blocks by itself, such as a PyTorch one, may return anything). The first call
    of each program is a warm-up; ``inner`` is the least that makes a sample last
    ``min_seconds``, calibrated by one more call when the warm-up was shorter than that. The
    order of the programs alternates between repeats (A, B, B, A, ...).

    Returns:
      name -> ``stat(samples)`` (by default the median seconds per call); with ``stat=None``
      name -> {"median_s", "min_s", "max_s", "samples_s", "inner", "first_call_s"}.
    """
    calls = {k: p if callable(p) else functools.partial(p[0], *p[1]) for k, p in programs.items()}

    def sample(call, n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            out = call()
        jax.block_until_ready(out)
        return time.perf_counter() - start

    first = {name: sample(call, 1) for name, call in calls.items()}
    inner = {}
    for name, call in calls.items():
        # A warm-up call that already lasts min_seconds needs no calibration call.
        one = first[name] if first[name] >= min_seconds else sample(call, 1)
        inner[name] = max(1, math.ceil(min_seconds / max(one, 1e-9)))
    samples = {name: [] for name in calls}
    names = list(calls)
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            samples[name].append(sample(calls[name], inner[name]) / inner[name])
    if stat is not None:
        return {name: stat(s) for name, s in samples.items()}
    return {
        name: {
            "median_s": statistics.median(s),
            "min_s": min(s),
            "max_s": max(s),
            "samples_s": [round(x, 6) for x in s],
            "inner": inner[name],
            "first_call_s": round(first[name], 4),
        }
        for name, s in samples.items()
    }


# ----------------------------------------------------------------------------- matmul peak


def matmul_peak(torch=None, *, n: int | None = None, repeats: int = 7) -> dict:
    """Measured float32 matmul GFLOP/s (2 n^3 flops per call), median of ``repeats``.

    This is the practical peak the benchmarks compare against (a jitted ``jnp.dot``; and
    ``torch.mm`` on CPU when PyTorch is given), not a datasheet number.
    """
    n = n or (8192 if on_gpu() else 2048)
    kx, ky = jax.random.split(jax.random.key(0))
    x = jax.random.normal(kx, (n, n), jnp.float32)
    y = jax.random.normal(ky, (n, n), jnp.float32)
    dot, _ = compile_timed(jax.jit(jnp.dot), x, y)
    programs = {"jax": (dot, (x, y))}
    if torch is not None:
        tx, ty = torch.randn(n, n), torch.randn(n, n)
        programs["torch"] = lambda: torch.mm(tx, ty)
    times = time_interleaved(programs, repeats, min_seconds=0.2)
    flops = 2.0 * n**3
    out = {"n": n, "dtype": "float32", "repeats": repeats}
    out["jax_gflops"] = round(flops / times["jax"] / 1e9, 1)
    if on_gpu():
        out["jax_precision"] = str(jax.config.jax_default_matmul_precision or "default")
    if "torch" in times:
        out["torch_gflops"] = round(flops / times["torch"] / 1e9, 1)
        out["torch_device"] = "cpu"
    out["peak_gflops"] = max(out["jax_gflops"], out.get("torch_gflops", 0.0))
    return out


# ----------------------------------------------------------------------------- arguments


def add_common_args(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--repeats", type=int, default=5, help="timed samples per program")
    parser.add_argument("--quick", action="store_true", help="smoke test: tiny sizes, repeats")
    parser.add_argument("--conv-impl", default="auto", help="make_gan's conv_impl")
    parser.add_argument("--allow-busy", action="store_true", help="measure on a busy machine")
    parser.add_argument("--no-torch", action="store_true", help="omit PyTorch rows")
    parser.add_argument(
        "--torch-threads", type=int, default=None, help="torch.set_num_threads (default: its own)"
    )
    parser.add_argument(
        "--out",
        default=None,
        help=f"output path stem, .json and .md are written (default "
        f"experiments/results/{name}; with --quick experiments/results/{name}_quick)",
    )


def csv_list(text: str, allowed, what: str) -> list:
    items = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in items if s not in allowed]
    if bad:
        raise SystemExit(f"unknown {what} {', '.join(bad)}; choose from {', '.join(allowed)}")
    return items


def out_stem(out: str | None, name: str, quick: bool) -> Path:
    if out is None:
        return RESULTS_DIR / (f"{name}_quick" if quick else name)
    path = Path(out)
    return path.with_suffix("") if path.suffix in (".json", ".md") else path


# ----------------------------------------------------------------------------- writers


def write_results(stem: Path, payload: dict, markdown: str) -> tuple[Path, Path]:
    """Writes ``stem``.json and ``stem``.md, each atomically."""
    json_path, md_path = stem.with_suffix(".json"), stem.with_suffix(".md")
    write_json(json_path, payload)
    atomic_write_text(md_path, markdown.rstrip() + "\n")
    return json_path, md_path


def fmt(x, digits: int = 3) -> str:
    """A number for a table: ints and strings as they are, floats to ``digits`` significant
    digits (no exponent from 10**(digits - 1) up); '-' for None/NaN."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if not isinstance(x, float):
        return str(x)
    if x == 0 or abs(x) >= 10 ** (digits - 1):
        return f"{x:.0f}"
    return f"{x:.{digits}g}"


def lookup(row: dict, key: str):
    """``row[key]``, a dotted key looking into nested dicts ("jax.steps_per_s"); None if absent."""
    for part in key.split("."):
        if not isinstance(row, dict):
            return None
        row = row.get(part)
    return row


def markdown_table(rows: list[dict], columns: list[str], digits: int = 3) -> str:
    """A Markdown table with one column per key of ``columns`` (see ``lookup``), cells by
    ``fmt``."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(fmt(lookup(row, c), digits) for c in columns) + " |")
    return "\n".join(lines)


def row_line(row: dict, columns: list[str]) -> str:
    """One progress line: ``key=value`` for ``columns`` of ``row``."""
    return "  ".join(f"{c}={fmt(lookup(row, c))}" for c in columns)


def header_lines(title: str, info: dict, load: dict, peak: dict, quick: bool) -> list[str]:
    lines = [f"# {title}", ""]
    if quick:
        lines += ["**QUICK SMOKE RUN (--quick): tiny sizes and repeats, not a benchmark.**", ""]
    if load["busy"]:
        lines += [
            f"**Measured on a BUSY machine** (1-minute load {load['loadavg'][0]} on "
            f"{info['usable_cores']} cores, --allow-busy): treat the timings as rough."
            + (
                " PyTorch with more than one thread is hit hardest (its threads wait for each "
                "other at every op while a core is taken), so JAX / PyTorch ratios are inflated."
                if (info.get("torch_threads") or 1) > 1
                else ""
            ),
            "",
        ]
    peak_txt = f"JAX {peak['jax_gflops']} GFLOP/s"
    if "torch_gflops" in peak:
        peak_txt += f", torch.mm {peak['torch_gflops']} GFLOP/s"
    lines += [
        f"Machine: {describe_machine(info)}.",
        "",
        f"Load before: {load['loadavg']} (1/5/15 min), spinning thread got "
        f"{load['busy_probe_cpu_share']:.0%} of a core; load after: {load.get('after')}.",
        "",
        f"float32 matmul peak ({peak['n']}x{peak['n']}, median of {peak['repeats']}): {peak_txt}.",
        "",
    ]
    return lines


def report(title: str, payload: dict, *sections: str) -> str:
    """A benchmark's Markdown: machine, load and matmul-peak header, the PyTorch note, then
    ``sections`` (paragraphs or tables)."""
    lines = header_lines(
        title, payload["machine"], payload["load"], payload["matmul_peak"], payload["quick"]
    )
    if payload.get("torch_note"):
        lines += [payload["torch_note"], ""]
    for section in sections:
        lines += [section, ""]
    return "\n".join(lines)


def start(args) -> tuple[dict, object, dict, dict]:
    """What every benchmark does first: refuse a busy machine, load PyTorch (checking that its
    models match ours), describe the machine and measure the matmul peak.

    Returns:
      (load, torch or None, machine info, matmul peak).
    """
    load = check_load(args.allow_busy)
    torch = load_torch(not args.no_torch, args.torch_threads)
    if torch is not None:
        from experiments import torch_models

        torch_models.check_param_counts()
    info = machine_info(torch)
    print(describe_machine(info))
    peak = matmul_peak(torch, repeats=3 if args.quick else 7)
    print(f"matmul peak: {peak}")
    return load, torch, info, peak


def payload_head(name: str, args, load: dict, torch, info: dict, peak: dict) -> dict:
    """The fields every benchmark's JSON starts with (the load after the run included)."""
    load["after"] = load_after()
    return {
        "benchmark": name,
        "quick": args.quick,
        "machine": info,
        "load": load,
        "matmul_peak": peak,
        "torch_note": torch_note(torch),
    }


# ----------------------------------------------------------------------------- model flops


def _eqn_flops(eqn) -> float:
    """Multiply-add flops (2 per MAC) of one dot or convolution equation; 0 for the rest."""
    name = eqn.primitive.name
    out = eqn.outvars[0].aval.shape
    if name == "dot_general":
        (lhs_contract, _), _ = eqn.params["dimension_numbers"]
        lhs = eqn.invars[0].aval.shape
        return 2.0 * math.prod(out) * math.prod(lhs[d] for d in lhs_contract)
    if name == "conv_general_dilated":
        rhs_spec = eqn.params["dimension_numbers"].rhs_spec  # (out, in, *spatial) axes
        rhs = eqn.invars[1].aval.shape
        window = math.prod(rhs[d] for d in rhs_spec[2:])
        # Each output element sums over the kernel's input features and its window; of an
        # input dilated by d (a transposed convolution), one tap in d is a real pixel.
        dilated = math.prod(eqn.params["lhs_dilation"])
        return 2.0 * math.prod(out) * rhs[rhs_spec[1]] * window / dilated
    return 0.0


def _jaxpr_flops(jaxpr) -> float:
    total = 0.0
    for eqn in jaxpr.eqns:
        total += _eqn_flops(eqn)
        times = eqn.params.get("length", 1) if eqn.primitive.name == "scan" else 1
        for sub in jax_core.jaxprs_in_params(eqn.params):
            total += times * _jaxpr_flops(sub)
    return total


def model_flops(fn: Callable, *args) -> float:
    """The dot and convolution flops (2 per multiply-add) of one call of ``fn(*args)``, counted
    on its jaxpr: a ``lax.scan`` body counts once per iteration, which XLA's cost analysis
    (``xla_flops``) does not do, so a WGAN-GP step's n_critic critic updates all count.
    Elementwise work is left out, and so are the products with the zeros a transposed
    convolution inserts between its input pixels (XLA counts those)."""
    return _jaxpr_flops(jax.make_jaxpr(fn)(*args).jaxpr)
