"""Profiles every conv formulation on every DCGAN layer shape, forward and forward + vjp.

Run from the repository root:

    .venv/bin/python -m experiments.profile_conv                 # all layers, N = 64
    .venv/bin/python -m experiments.profile_conv --batch 256 --layers g28.ct1,d28.c2
    .venv/bin/python -m experiments.profile_conv --flags         # XLA_FLAGS sweep (subprocesses)
    .venv/bin/python -m experiments.profile_conv --networks --impls subpixel,tuned  # conv stacks

Timings interleave the formulations of one layer in one process (the machine is shared), take
the median of ``--repeats`` samples of >= ``--min-seconds`` each, and report per-call ms.
"Useful" GFLOP/s count only multiplications that meet a real input pixel (2 flops each), so
formulations that multiply inserted zeros do not look faster than they are; "xla" GFLOP/s use
XLA's own cost analysis of the compiled program.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from typing import NamedTuple

import jax
import jax.numpy as jnp

from anogan_jax.ops import xla_cpu
from experiments import conv_variants
from experiments.bench_common import time_interleaved


class Layer(NamedTuple):
    name: str
    transpose: bool
    size: int
    cin: int
    cout: int
    stride: int
    padding: int = 1
    output_padding: int = 0


LAYERS = (
    Layer("g28.ct1", True, 7, 512, 256, 2, 1, 1),
    Layer("g28.ct2", True, 14, 256, 128, 1),
    Layer("g28.ct3", True, 14, 128, 64, 1),
    Layer("g28.ct4", True, 14, 64, 1, 2, 1, 1),
    Layer("d28.c1", False, 28, 1, 8, 1),
    Layer("d28.c2", False, 28, 8, 16, 2),
    Layer("d28.c3", False, 14, 16, 32, 2),
    Layer("d28.c4", False, 7, 32, 64, 1),
    Layer("g28l.ct1", True, 7, 256, 64, 2, 1, 1),
    Layer("g28l.ct2", True, 14, 64, 1, 2, 1, 1),
    Layer("d28l.c1", False, 28, 1, 32, 2),
    Layer("d28l.c2", False, 14, 32, 64, 2),
)


def layer_fn(layer: Layer, impl: str):
    if layer.transpose:
        kw = dict(stride=layer.stride, padding=layer.padding, output_padding=layer.output_padding)
        return lambda x, w: conv_variants.conv_transpose2d(x, w, impl=impl, **kw)
    return lambda x, w: conv_variants.conv2d(
        x, w, stride=layer.stride, padding=layer.padding, impl=impl
    )


# Formulations whose compiled program does this many times the useful flops are not timed
# (conv_general_dilated_patches is itself a convolution with a one-hot kernel: its cost grows
# with Cin^2 * k^4, which takes minutes per call on the wide generator layers).
MAX_FLOP_RATIO = 8.0
PASSES = {"fwd": 1, "fwd+dx": 2, "fwd+bwd": 3}


def distinct_impls(layer: Layer) -> list[str]:
    """Formulations that lower differently for this layer (at stride 1 subpixel* == engine)."""
    if layer.stride > 1:
        return list(conv_variants.IMPLS)
    return [impl for impl in conv_variants.IMPLS if not impl.startswith("subpixel")]


def useful_flops(layer: Layer, batch: int) -> float:
    """2 * N * Cin * Cout * #(output, tap) pairs that read a real (not padded/inserted) pixel."""
    k, s, p, n_in = 3, layer.stride, layer.padding, layer.size
    if layer.transpose:
        lo = k - 1 - p
        n_out = (n_in - 1) * s - 2 * p + k + layer.output_padding
        pairs = sum(
            (o + t - lo) % s == 0 and 0 <= (o + t - lo) // s < n_in
            for o in range(n_out)
            for t in range(k)
        )
    else:
        n_out = (n_in + 2 * p - k) // s + 1
        pairs = sum(0 <= s * o + t - p < n_in for o in range(n_out) for t in range(k))
    return 2.0 * batch * layer.cin * layer.cout * pairs**2


def make_programs(layer: Layer, impl: str, batch: int, modes=tuple(PASSES)):
    f = layer_fn(layer, impl)

    def fwd_bwd(x, w, ct):
        y, vjp_fn = jax.vjp(f, x, w)
        return (y, *vjp_fn(ct))

    def fwd_dx(x, w, ct):  # latent search: kernels are frozen
        y, vjp_fn = jax.vjp(lambda x: f(x, w), x)
        return (y, *vjp_fn(ct))

    keys = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(keys[0], (batch, layer.size, layer.size, layer.cin))
    w = jax.random.normal(keys[1], (3, 3, layer.cin, layer.cout)) * 0.05
    y = jax.eval_shape(f, x, w)
    ct = jax.random.normal(keys[2], y.shape)
    fns = {"fwd": (f, (x, w)), "fwd+dx": (fwd_dx, (x, w, ct)), "fwd+bwd": (fwd_bwd, (x, w, ct))}
    return {
        mode: (xla_cpu.jit(fn).lower(*args).compile(), args)
        for mode, (fn, args) in fns.items()
        if mode in modes
    }


def hlo_summary(compiled) -> str:
    """Heavy ops in the optimised entry computation: convs (with dilations), dots, YNN fusions."""
    text = compiled.as_text()
    entry = text[text.index("ENTRY") :]
    ops = []
    for line in entry.splitlines():
        if " convolution(" in line:
            dil = re.findall(r"(lhs_dilate|rhs_dilate|stride)=(\S+?)[,}\s]", line)
            ops.append("conv" + "".join(f"[{a}={b}]" for a, b in dil))
        elif " dot(" in line:
            ops.append("dot")
        elif "__ynn_fusion" in line or "__xnn_fusion" in line:
            inner = re.search(r"calls=(%[\w.\-]+)", line).group(1)
            body = text[text.index(inner + " ") :].split("\n}\n")[0]
            kind = "conv" if " convolution(" in body else "dot" if " dot(" in body else "ew"
            ops.append(f"ynn-{kind}")
    return " ".join(ops)


def profile_layer(
    layer: Layer, batch: int, repeats: int, min_seconds: float, impls: list[str], modes
) -> list[dict]:
    flops = useful_flops(layer, batch)
    programs, meta, skipped = {}, {}, []
    for impl in (i for i in distinct_impls(layer) if i in impls):
        for mode, (compiled, args) in make_programs(layer, impl, batch, modes).items():
            cost = compiled.cost_analysis()
            cost = cost[0] if isinstance(cost, list) else cost
            xla_flops = cost.get("flops", float("nan"))
            meta[(impl, mode)] = (xla_flops, hlo_summary(compiled))
            programs[(impl, mode)] = (compiled, args)
            if impl != "lax" and xla_flops > MAX_FLOP_RATIO * flops * PASSES[mode]:
                skipped.append(impl)
    programs = {key: prog for key, prog in programs.items() if key[0] not in skipped}
    times = time_interleaved(programs, repeats, min_seconds)
    for impl in dict.fromkeys(skipped):
        times.update({(impl, mode): float("nan") for mode in modes})
    rows = []
    for (impl, mode), sec in times.items():
        useful = flops * PASSES[mode]
        xla_flops, ops = meta[(impl, mode)]
        base = times[("lax", mode)]
        rows.append(
            dict(layer=layer.name, impl=impl, mode=mode, batch=batch, ms=sec * 1e3,
                 speedup=base / sec, useful_gflops=useful / sec / 1e9,
                 xla_gflops=xla_flops / sec / 1e9, xla_flop_ratio=xla_flops / useful, ops=ops)
        )  # fmt: skip
    return rows


def markdown(rows: list[dict]) -> str:
    """One table per layer: per mode ms (speedup vs "lax", useful GFLOP/s); the last mode's
    XLA flop count relative to the useful one and its heavy HLO ops."""
    out = []
    modes = list(dict.fromkeys(r["mode"] for r in rows))
    for name in dict.fromkeys(r["layer"] for r in rows):
        layer = next(ly for ly in LAYERS if ly.name == name)
        kind = "ConvT" if layer.transpose else "conv"
        out += [
            f"\n### {name}: {kind} {layer.cin}->{layer.cout} s{layer.stride} p{layer.padding}"
            f" op{layer.output_padding}, {layer.size}x{layer.size} in, N={rows[0]['batch']}\n",
            "| impl | " + " | ".join(f"{m} ms (speedup, GFLOP/s)" for m in modes)
            + f" | XLA flops / useful | {modes[-1]} heavy ops |",
            "|---" * (len(modes) + 3) + "|",
        ]  # fmt: skip
        for impl in dict.fromkeys(r["impl"] for r in rows if r["layer"] == name):
            by_mode = {r["mode"]: r for r in rows if (r["layer"], r["impl"]) == (name, impl)}
            cells = [
                "not timed" if r["ms"] != r["ms"] else
                f"{r['ms']:.2f} ({r['speedup']:.2f}x, {r['useful_gflops']:.0f})"
                for r in (by_mode[m] for m in modes)
            ]  # fmt: skip
            last = by_mode[modes[-1]]
            out.append(
                f"| {impl} | {' | '.join(cells)} | {last['xla_flop_ratio']:.2f} | {last['ops']} |"
            )
    return "\n".join(out)


NETWORKS = {
    "g28": ("g28.ct1", "g28.ct2", "g28.ct3", "g28.ct4"),
    "d28": ("d28.c1", "d28.c2", "d28.c3", "d28.c4"),
    "g28l": ("g28l.ct1", "g28l.ct2"),
    "d28l": ("d28l.c1", "d28l.c2"),
}


def network_programs(net: str, impl: str, batch: int) -> dict:
    """The conv stack of one network (leaky ReLU between layers, no norm, no dense layers).

    "train": gradients of <out, r> w.r.t. all kernels. "latent": the latent-search pattern, a
    per-sample input gradient vmapped over the batch. "gp" (critics): gradients w.r.t. the
    kernels of the WGAN-GP penalty, a gradient of per-sample input gradients.
    """
    layers = [next(ly for ly in LAYERS if ly.name == name) for name in NETWORKS[net]]
    keys = jax.random.split(jax.random.key(1), len(layers) + 1)
    kernels = [
        jax.random.normal(k, (3, 3, ly.cin, ly.cout)) / (3 * ly.cin**0.5)
        for k, ly in zip(keys[1:], layers, strict=True)
    ]
    x = jax.random.normal(keys[0], (batch, layers[0].size, layers[0].size, layers[0].cin))

    def net_fn(kernels, x):
        for i, (layer, kernel) in enumerate(zip(layers, kernels, strict=True)):
            x = layer_fn(layer, impl)(x, kernel)
            x = x if i == len(layers) - 1 else jax.nn.leaky_relu(x, 0.2)
        return jnp.sum(jnp.tanh(x))

    def latent(kernels, x):
        return jax.vmap(jax.grad(lambda xi: net_fn(kernels, xi[None]), argnums=0))(x)

    def gp(kernels, x):
        grads = latent(kernels, x)
        return jnp.mean((jnp.sqrt(jnp.sum(grads**2, axis=(1, 2, 3))) - 1.0) ** 2)

    fns = {"train": jax.grad(net_fn), "latent": latent}
    if net.startswith("d"):
        fns["gp"] = jax.grad(gp)
    compiled = {mode: xla_cpu.jit(fn).lower(kernels, x).compile() for mode, fn in fns.items()}
    return {mode: (c, (kernels, x)) for mode, c in compiled.items()}


def profile_networks(batch: int, repeats: int, min_seconds: float, impls: list[str]) -> list:
    rows = []
    for net in NETWORKS:
        programs = {
            (impl, mode): prog
            for impl in impls
            for mode, prog in network_programs(net, impl, batch).items()
        }
        times = time_interleaved(programs, repeats, min_seconds)
        for (impl, mode), sec in times.items():
            base = times[("lax", mode)]
            rows.append(dict(net=net, impl=impl, mode=mode, batch=batch, ms=sec * 1e3,
                             speedup=base / sec))  # fmt: skip
            print(
                f"{net:5s} {mode:7s} {impl:10s} {sec * 1e3:9.2f} ms  {base / sec:6.2f}x", flush=True
            )
    return rows


FLAG_SETS = (
    "",
    "--xla_cpu_experimental_ynn_fusion_type=",  # YNNPACK off: XLA's own conv / dot emitters
    "--xla_cpu_multi_thread_eigen=false",
    "--xla_cpu_experimental_onednn_fusion_type=dot",
    "--xla_cpu_experimental_xnn_fusion_type=dot",
)


def flag_sweep(args) -> list[dict]:
    """Re-runs this script per XLA_FLAGS value (flags are read once, at backend start)."""
    results = []
    for flags in FLAG_SETS:
        cmd = [sys.executable, "-m", "experiments.profile_conv", "--batch", str(args.batch),
               "--layers", args.layers, "--impls", args.impls, "--repeats", str(args.repeats),
               "--min-seconds", str(args.min_seconds), "--json"]  # fmt: skip
        env = {**os.environ, "XLA_FLAGS": flags}
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"XLA_FLAGS={flags!r} failed: {proc.stderr.strip().splitlines()[-1:]}")
            continue
        for row in json.loads(proc.stdout.strip().splitlines()[-1]):
            results.append({**row, "flags": flags or "(default)"})
            print(f"{flags or '(default)':50s} {row['layer']:9s} {row['impl']:16s} "
                  f"{row['mode']:8s} {row['ms']:8.2f} ms  {row['ops']}")  # fmt: skip
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--layers", default=",".join(ly.name for ly in LAYERS))
    parser.add_argument("--impls", default=",".join(conv_variants.IMPLS))
    parser.add_argument("--modes", default=",".join(PASSES))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--min-seconds", type=float, default=0.05)
    parser.add_argument("--flags", action="store_true", help="sweep XLA_FLAGS in subprocesses")
    parser.add_argument("--networks", action="store_true", help="whole conv stacks instead")
    parser.add_argument("--json", action="store_true", help="print rows as one JSON line")
    parser.add_argument("--out", help="write rows as JSON here")
    args = parser.parse_args()
    if args.flags:
        rows = flag_sweep(args)
    elif args.networks:
        impls = [i for i in args.impls.split(",") if i != "lax"]
        rows = profile_networks(args.batch, args.repeats, args.min_seconds, ["lax", *impls])
    else:
        names = args.layers.split(",")
        rows = []
        for layer in (ly for ly in LAYERS if ly.name in names):
            impls = args.impls.split(",")
            modes = args.modes.split(",")
            rows += profile_layer(layer, args.batch, args.repeats, args.min_seconds, impls, modes)
            if not args.json:
                print(markdown([r for r in rows if r["layer"] == layer.name]), flush=True)
        if args.json:
            print(json.dumps(rows))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
