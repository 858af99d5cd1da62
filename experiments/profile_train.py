"""Where the jitted GAN training step spends its time, per HLO op and per component.

Run from the repository root (PyTorch rows need ``pip install -e '.[bench]'``):

    .venv/bin/python -m experiments.profile_train                      # all, batch 64
    .venv/bin/python -m experiments.profile_train --archs dcgan28_light --objectives wgan_gp
    git show HEAD~1:anogan_jax/ops/conv.py > /tmp/conv_before.py   # an older formulation
    taskset -c 1 .venv/bin/python -m experiments.profile_train --no-trace --no-components \
        --before-conv /tmp/conv_before.py --out /tmp/before_after

Two views of the step that ``experiments/bench_train.py`` times (``make_gan_step`` with the
CLI's optimisers, batch 64, float32):

1. **Per HLO op**: a ``jax.profiler`` trace of ``--trace-steps`` compiled steps, each executed
   op's time summed by the instruction name, then mapped through the compiled HLO text to its
   layer (``op_name`` metadata: network, ``_Conv_1`` / ``BatchNorm_0`` ...), its pass (forward,
   ``transpose(...)`` = backward, twice = the WGAN-GP double backward) and its kind
   (``convolution`` with its window, YNNPACK fusion, elementwise/reduce fusion, copy). XLA:CPU
   runs independent ops on its thread pool concurrently, so op times can add up to more than
   the step's wall time.
2. **Per component**, JAX vs the same PyTorch layers (``experiments/torch_models.py``), samples
   interleaved in one process: G forward (train mode), G forward + backward, D forward +
   backward on one batch, the gradient penalty with its gradient, one critic update, one
   generator update, the whole step.

Writes ``--out``.json and ``--out``.md (default ``experiments/results/train_profile``).
"""

from __future__ import annotations

import argparse
import collections
import glob
import os
import re
import tempfile
import time

import jax
import jax.numpy as jnp

from anogan_jax.models import make_gan
from anogan_jax.objectives import get_objective, gradient_penalty
from anogan_jax.ops import xla_cpu
from anogan_jax.runs.config import RunConfig
from anogan_jax.runs.models import build_optimizers
from anogan_jax.state import init_gan_state
from anogan_jax.train import make_gan_step
from experiments import bench_common as bc
from experiments import bench_train

NAME = "train_profile"
ARCHS = ("dcgan28", "dcgan28_light")
OBJECTIVES = ("non_saturating", "wgan_gp")
_SKIP_EVENT = re.compile(r"^(ThunkExecutor|end: |ThreadpoolListener)")
_INSTR = re.compile(r"^\s*(?:ROOT )?%(\S+) = (\S+) (\S+?)\(")


# ----------------------------------------------------------------------------- HLO trace


def hlo_index(hlo_text: str) -> dict[str, dict]:
    """Instruction name -> {"shape", "opcode", "window", "op_name"} of a compiled HLO text."""
    index, body_op_name, computation = {}, {}, None
    for line in hlo_text.splitlines():
        if line.startswith("%") or line.startswith("ENTRY"):
            computation = line.split()[1 if line.startswith("ENTRY") else 0].lstrip("%")
        meta = re.search(r'op_name="([^"]*)"', line)
        if computation and meta and computation not in body_op_name:
            body_op_name[computation] = meta.group(1)
    for line in hlo_text.splitlines():
        m = _INSTR.match(line)
        if not m:
            continue
        name, shape, opcode = m.groups()
        meta = re.search(r'op_name="([^"]*)"', line)
        op_name = meta.group(1) if meta else ""
        # A library fusion may carry no metadata itself: take its fused computation's.
        calls = re.search(r"calls=%([\w.\-]+)", line)
        if not op_name and calls:
            op_name = body_op_name.get(calls.group(1), "")
        window = re.search(r"window=\{([^}]*)\}", line)
        kind = re.search(r'"kind":"(__\w+)"', line)
        index[name] = {
            "shape": shape,
            "opcode": kind.group(1).strip("_") if kind else opcode,
            "window": window.group(1) if window else "",
            "op_name": op_name,
        }
    return index


def describe_op(info: dict) -> dict:
    """(network, layer, pass, kind) of one instruction, from its op_name metadata."""
    op_name = info.get("op_name", "")
    net = re.search(r"DCGAN28\w*?(Generator|Discriminator)", op_name)
    layer = re.findall(r"/(_Conv_\d+|BatchNorm_\d+|LayerNorm_\d+|Dense_\d+)", op_name)
    # A custom_vjp backward's own inner vjp shows as "transpose(jvp())": not another pass.
    depth = op_name.count("transpose(") - op_name.count("transpose(jvp())")
    passes = {0: "forward", 1: "backward"}.get(depth, "double backward")
    if "while/body" not in op_name and net:
        passes += " (G update)"
    kind = info.get("opcode", "?")
    if kind == "convolution":
        window = info.get("window", "")
        kind += "[" + ",".join(w for w in ("stride", "lhs_dilate", "rhs_dilate") if w in window)
        kind += "]"
    if not net:
        network = "optimizer/other" if op_name else "unattributed"
    else:
        network = "G" if net.group(1) == "Generator" else "D"
    return {
        "network": network,
        "layer": layer[-1] if layer else "-",
        "pass": passes,
        "kind": kind,
    }


def trace_op_times(run, steps: int) -> tuple[dict[str, float], float]:
    """(instruction name -> ms per step, wall ms per step) from a jax.profiler trace: on a CPU
    the XLA thunk lines; on an accelerator the kernels of its stream lines, named by their
    ``hlo_op`` stat where the trace has one."""
    run()
    with tempfile.TemporaryDirectory() as tmp:
        with jax.profiler.trace(tmp):
            start = time.perf_counter()
            for _ in range(steps):
                run()
            wall = (time.perf_counter() - start) / steps
        (path,) = glob.glob(os.path.join(tmp, "**", "*.xplane.pb"), recursive=True)
        data = jax.profiler.ProfileData.from_file(path)
    totals = collections.Counter()
    for plane in data.planes:
        device = plane.name.startswith("/device:")
        for line in plane.lines:
            if device and "stream" in line.name.lower():
                for event in line.events:
                    name = dict(event.stats).get("hlo_op") or event.name
                    totals[str(name)] += event.duration_ns / 1e6 / steps
            elif line.name.startswith("tf_XLA"):
                for event in line.events:
                    if not _SKIP_EVENT.match(event.name):
                        totals[event.name] += event.duration_ns / 1e6 / steps
    return dict(totals), wall * 1e3


def profile_ops(arch: str, objective: str, args) -> dict:
    run, info = bench_train.jax_program(
        arch, objective, args.batch_size, args.conv_impl, args.seed, keep_compiled=True
    )
    index = hlo_index(info["compiled"].as_text())
    times, wall_ms = trace_op_times(run, args.trace_steps)
    ops = []
    for name, ms in times.items():
        meta = index.get(name, {})
        ops.append({"name": name, "ms": ms, "shape": meta.get("shape", "?"), **describe_op(meta)})
    ops.sort(key=lambda o: -o["ms"])
    groups = collections.Counter()
    for o in ops:
        groups[(o["network"], o["layer"], o["pass"], o["kind"])] += o["ms"]
    grouped = [
        {"network": k[0], "layer": k[1], "pass": k[2], "kind": k[3], "ms": ms}
        for k, ms in groups.most_common()
    ]
    return {"wall_ms": wall_ms, "op_ms_sum": sum(times.values()), "ops": ops, "groups": grouped}


# ----------------------------------------------------------------------------- components


def jax_components(arch: str, objective: str, batch_size: int, conv_impl: str, seed: int):
    """name -> blocking callable, for the pieces of one training step."""
    config = RunConfig(arch=arch, objective=objective, batch_size=batch_size, conv_impl=conv_impl)
    g_tx, d_tx, n_critic = build_optimizers(config)
    models = make_gan(arch, objective=objective, conv_impl=conv_impl)
    obj = get_objective(objective)
    gen, disc = models.generator, models.discriminator
    k_init, k_data, k_z, k_gp = jax.random.split(jax.random.key(seed), 4)
    state = init_gan_state(models, g_tx, d_tx, k_init)
    g_vars = {"params": state.g_params, "batch_stats": state.g_batch_stats}
    d_vars = {"params": state.d_params, "batch_stats": state.d_batch_stats}
    z = jax.random.normal(k_z, (batch_size, models.latent_dim))
    real = jax.random.uniform(k_data, (batch_size, *models.image_shape), minval=-1.0, maxval=1.0)

    def g_fwd(g_vars, z):
        return gen.apply(g_vars, z, train=True)

    def g_fwd_bwd(g_vars, z):
        def loss(p):
            x, _ = gen.apply({**g_vars, "params": p}, z, train=True)
            return jnp.sum(x)

        return jax.grad(loss)(g_vars["params"])

    def d_logits(p, bs, x):
        return disc.apply({"params": p, "batch_stats": bs}, x, train=True)[0][0]

    def d_fwd_bwd(d_vars, x):
        return jax.grad(lambda p: jnp.sum(d_logits(p, d_vars["batch_stats"], x)))(d_vars["params"])

    def gp_grad(d_vars, real, fake):
        def penalty(p):
            return gradient_penalty(
                lambda x: d_logits(p, d_vars["batch_stats"], x[None])[0], real, fake, k_gp
            )

        return jax.grad(penalty)(d_vars["params"])

    fake = xla_cpu.jit(g_fwd)(g_vars, z)[0]
    step = make_gan_step(obj, models, g_tx, d_tx, n_critic=n_critic, jit=False)
    one_critic = make_gan_step(obj, models, g_tx, d_tx, n_critic=1, jit=False)
    batch = jnp.broadcast_to(real, (n_critic, *real.shape))
    programs = {
        "G forward (train mode)": (g_fwd, g_vars, z),
        "G forward + backward": (g_fwd_bwd, g_vars, z),
        "D forward + backward (1 batch)": (d_fwd_bwd, d_vars, real),
    }
    if obj.gp_weight:
        programs["gradient penalty + its gradient"] = (gp_grad, d_vars, real, fake)
    programs["1 critic + 1 generator update"] = (one_critic, state, batch[:1], k_gp)
    programs[f"whole step ({n_critic} critic + 1 G)"] = (step, state, batch, k_gp)
    fns = {}
    for name, (fn, *fn_args) in programs.items():
        compiled, _ = bc.compile_timed(xla_cpu.jit(fn), *fn_args)
        fns[name] = (compiled, fn_args)
    return fns


def torch_components(torch, arch: str, objective: str, batch_size: int, seed: int):
    """The PyTorch equivalents of ``jax_components`` (same names)."""
    from experiments import torch_models

    torch.manual_seed(seed)
    g, d = torch_models.make_gan(arch, objective=objective)
    n_critic = bench_train.TORCH_ADAM.get(objective, bench_train.TORCH_ADAM_DEFAULT)[2]
    z = torch.randn(batch_size, 100)
    real = torch.rand(batch_size, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        fake = g(z)

    def g_fwd():
        with torch.no_grad():
            g(z)

    def g_fwd_bwd():
        g.zero_grad(set_to_none=True)
        g(z).sum().backward()

    def d_fwd_bwd():
        d.zero_grad(set_to_none=True)
        d(real)[0].sum().backward()

    def gp_grad():
        d.zero_grad(set_to_none=True)
        bench_train.torch_gradient_penalty(torch, d, real, fake).backward()

    step, _ = bench_train.torch_program(torch, arch, objective, batch_size, seed)
    fns = {
        "G forward (train mode)": g_fwd,
        "G forward + backward": g_fwd_bwd,
        "D forward + backward (1 batch)": d_fwd_bwd,
    }
    if objective == "wgan_gp":
        fns["gradient penalty + its gradient"] = gp_grad
    one, _ = bench_train.torch_program(torch, arch, objective, batch_size, seed, n_critic=1)
    fns["1 critic + 1 generator update"] = one
    fns[f"whole step ({n_critic} critic + 1 G)"] = step
    return fns


def profile_components(arch: str, objective: str, args, torch) -> list[dict]:
    jfns = jax_components(arch, objective, args.batch_size, args.conv_impl, args.seed)
    tfns = torch_components(torch, arch, objective, args.batch_size, args.seed) if torch else {}
    rows = []
    for name, jfn in jfns.items():
        fns = {"jax": jfn, **({"torch": tfns[name]} if name in tfns else {})}
        t = bc.time_interleaved(fns, args.repeats, args.min_seconds)
        jms = t["jax"] * 1e3
        tms = t["torch"] * 1e3 if "torch" in t else None
        rows.append({"component": name, "jax_ms": jms, "torch_ms": tms,
                     "torch_over_jax": tms / jms if tms else None})  # fmt: skip
        print(f"  {name:36s} JAX {jms:8.2f} ms  PyTorch {bc.fmt(tms)} ms", flush=True)
    return rows


# ----------------------------------------------------------------------------- before / after


def before_after(arch: str, objective: str, args, torch) -> dict:
    """The step with ``--before-conv`` (an older conv.py), with this one, and PyTorch's,
    interleaved in one process. ``models.layers`` looks ``conv`` up when the step is traced, so
    pointing it at the old module for one compilation swaps the formulation for that program."""
    import importlib.util

    from anogan_jax.models import layers as model_layers
    from anogan_jax.ops import conv as conv_now

    spec = importlib.util.spec_from_file_location("conv_before", args.before_conv)
    conv_before = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conv_before)
    fns = {}
    try:
        model_layers.conv = conv_before
        fns["jax_before"], _ = bench_train.jax_program(
            arch, objective, args.batch_size, args.conv_impl, args.seed
        )
    finally:
        model_layers.conv = conv_now
    fns["jax_after"], _ = bench_train.jax_program(
        arch, objective, args.batch_size, args.conv_impl, args.seed
    )
    if torch is not None:
        fns["torch"], _ = bench_train.torch_program(
            torch, arch, objective, args.batch_size, args.seed
        )
    times = bc.time_interleaved(fns, args.repeats, args.min_seconds, stat=None)
    ms = {k: t["median_s"] * 1e3 for k, t in times.items()}
    row = {"ms": ms, "samples_s": {k: t["samples_s"] for k, t in times.items()}}
    if "torch" in ms:
        row["before_x"] = ms["torch"] / ms["jax_before"]
        row["after_x"] = ms["torch"] / ms["jax_after"]
    print(f"  before/after ms {bc.fmt(ms['jax_before'])} / {bc.fmt(ms['jax_after'])}, "
          f"PyTorch {bc.fmt(ms.get('torch'))}", flush=True)  # fmt: skip
    return row


# ----------------------------------------------------------------------------- report


def markdown(payload: dict) -> str:
    lines = [
        "# Training step profile: per HLO op and per component, JAX vs PyTorch",
        "",
        f"Machine: {bc.describe_machine(payload['machine'])}. Load before: "
        f"{payload['load']['loadavg']}, after: {payload['load'].get('after')}.",
        "",
        f"Batch {payload['batch_size']}, float32, conv_impl={payload['conv_impl']}. Component "
        f"times: median of {payload['repeats']} interleaved samples (each >= "
        f"{payload['min_seconds']} s); 'PyTorch / JAX' > 1 means JAX is faster.",
        "",
    ]
    for row in payload["rows"]:
        lines += [f"## {row['arch']} {row['objective']}", ""]
        ba = row.get("before_after")
        if ba:
            ms = ba["ms"]
            lines += [
                f"Step with --before-conv: {bc.fmt(ms['jax_before'])} ms, with this conv.py: "
                f"{bc.fmt(ms['jax_after'])} ms, PyTorch {bc.fmt(ms.get('torch'))} ms; JAX / "
                f"PyTorch {bc.fmt(ba.get('before_x'))}x -> {bc.fmt(ba.get('after_x'))}x.",
                "",
            ]
        if row.get("components"):
            cols = ["component", "jax_ms", "torch_ms", "torch_over_jax"]
            lines += [bc.markdown_table(row["components"], cols), ""]
        ops = row.get("ops")
        if ops:
            lines += [
                f"Trace: {bc.fmt(ops['wall_ms'])} ms wall per step, op times sum to "
                f"{bc.fmt(ops['op_ms_sum'])} ms (concurrent ops overlap). By layer, pass and "
                "kind (top 15), then the top 10 single ops, ms per step:",
                "",
                bc.markdown_table(ops["groups"][:15], ["network", "layer", "pass", "kind", "ms"]),
                "",
                bc.markdown_table(
                    ops["ops"][:10], ["name", "network", "layer", "pass", "kind", "shape", "ms"]
                ),
                "",
            ]
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", default=",".join(ARCHS))
    parser.add_argument("--objectives", default=",".join(OBJECTIVES))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--min-seconds", type=float, default=1.0)
    parser.add_argument("--trace-steps", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-components", action="store_true", help="trace only")
    parser.add_argument("--no-trace", action="store_true", help="components only")
    parser.add_argument(
        "--before-conv", default=None, help="an older conv.py: time its step against this one's"
    )
    parser.add_argument("--top-ops", type=int, default=100, help="ops kept per row in the JSON")
    bc.add_common_args(parser, NAME)
    args = parser.parse_args(argv)
    args.archs = bc.csv_list(args.archs, ARCHS, "architecture")
    args.objectives = bc.csv_list(args.objectives, OBJECTIVES, "objective")
    return args


def main(argv=None):
    args = parse_args(argv)
    load = bc.check_load(True)
    torch = bc.load_torch(not args.no_torch, args.torch_threads)
    info = bc.machine_info(torch)
    print(bc.describe_machine(info))
    rows = []
    for arch in args.archs:
        for objective in args.objectives:
            print(f"{arch} {objective}", flush=True)
            row = {"arch": arch, "objective": objective}
            if args.before_conv:
                row["before_after"] = before_after(arch, objective, args, torch)
            if not args.no_trace:
                row["ops"] = profile_ops(arch, objective, args)
                row["ops"]["ops"] = row["ops"]["ops"][: args.top_ops]
                print(f"  trace: {row['ops']['wall_ms']:.1f} ms/step", flush=True)
            if not args.no_components:
                row["components"] = profile_components(arch, objective, args, torch)
            rows.append(row)
    load["after"] = bc.load_after()
    payload = {"benchmark": NAME, "machine": info, "load": load, "batch_size": args.batch_size,
               "conv_impl": args.conv_impl, "repeats": args.repeats,
               "min_seconds": args.min_seconds, "rows": rows}  # fmt: skip
    paths = bc.write_results(bc.out_stem(args.out, NAME, False), payload, markdown(payload))
    print(f"wrote {paths[0]} and {paths[1]}")


if __name__ == "__main__":
    main()
