"""AnoGAN latent search throughput: one compiled batch program vs per-image loops vs PyTorch.

Run from the repository root on a quiet machine (PyTorch rows need ``pip install -e '.[bench]'``):

    .venv/bin/python experiments/bench_latent_search.py --num-steps 50   # 500-step figures
                                                                         # extrapolated
    .venv/bin/python experiments/bench_latent_search.py --quick --allow-busy  # smoke test

Per architecture (random-init G and D, BatchNorm in inference mode, lambda 0.1, L1 residual,
feature matching, Adam lr 0.05) and batch size B, images/s of

(a) ``jax batched``: ``anogan_jax.latent_search.make_search``, one jit(vmap(scan(adam)))
    program for the B images, z0 from ``initial_z``;
(b) ``jax loop``: a Python loop over images calling the same search compiled for ONE image
    (how public AnoGAN code works), timed on ``--loop-images`` images;
(c) ``torch batched``: the same networks in PyTorch, z of shape (B, 100) with requires_grad,
    Adam, the loss summed over the batch (each image's gradient is its own, and Adam is
    elementwise, so this is B independent searches); ``torch loop``: the same per image.

Step counts. Images/s are quoted at ``--report-steps`` (500). When ``--num-steps`` is smaller,
every program is timed at num_steps/2 and num_steps and the line time = a + b * steps is fitted
through both; the 500-step figure is extrapolated from it ONLY when the measurements show time
linear in steps: b > 0 and the fixed part a between 0 and one step (the final objective
evaluation), within ``--linear-tol`` of the measured time. Otherwise it is left out. The output
says which figures are measured and which extrapolated. Compile time is reported apart.

FLOPs: XLA's cost analysis counts a ``lax.scan`` body once, so the work of an S-step search is
cost(search program) + (S - 1) * cost(one vmapped value_and_grad step); GFLOP/s divide that by
the measured time (also for PyTorch, which runs the same layers), and the share is of the
measured float32 matmul peak.

Also: f-AnoGAN encoder scoring (``make_fanogan_scorer``) at the largest batch against the
500-step search at that batch, and the encoder-initialised search (z0 = E(x), then
``--encoder-init-steps`` search steps; same cost per step as the plain search).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import jax
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from anogan_jax.encoder import make_fanogan_scorer  # noqa: E402
from anogan_jax.latent_search import initial_z, latent_objective, make_search  # noqa: E402
from anogan_jax.models import make_encoder, make_gan  # noqa: E402
from anogan_jax.ops import xla_cpu  # noqa: E402
from experiments import bench_common as bc  # noqa: E402

NAME = "bench_latent_search"
ARCHS = ("dcgan28", "dcgan28_light")
LAM, LR = 0.1, 0.05  # make_search's defaults, used by the PyTorch search too
# "Where we start" in the issue: 500-step search, best batch, images/s (PyTorch, starting JAX).
ISSUE = {"dcgan28": (0.53, 0.15), "dcgan28_light": (3.5, 1.45)}


# ----------------------------------------------------------------------------- JAX programs


class Setup:
    """Random-init frozen networks, images and starting points for one architecture."""

    def __init__(self, arch: str, conv_impl: str, max_batch: int, seed: int):
        self.arch, self.conv_impl = arch, conv_impl
        self.models = make_gan(arch, conv_impl=conv_impl)
        k_g, k_d, k_x, k_z, self.k_e = jax.random.split(jax.random.key(seed), 5)
        self.g_vars = self.models.generator.init(k_g)
        self.d_vars = self.models.discriminator.init(k_d)
        shape = (max_batch, *self.models.image_shape)
        self.images = np.asarray(jax.random.uniform(k_x, shape, minval=-1.0, maxval=1.0))
        self.z0 = np.asarray(initial_z(k_z, np.arange(max_batch), self.models.latent_dim))


def jax_batched(setup: Setup, batch: int, num_steps: int):
    """(run, compile_s, compiled) for the batch search of the first ``batch`` images."""
    search = make_search(setup.models, num_steps=num_steps, lr=LR, lam=LAM)
    args = (setup.g_vars, setup.d_vars, setup.images[:batch], setup.z0[:batch])
    args = jax.device_put(args)
    compiled, compile_s = bc.compile_timed(search, *args)
    return (lambda: jax.block_until_ready(compiled(*args))), compile_s, compiled


def jax_loop(setup: Setup, num_images: int, num_steps: int):
    """(run, compile_s): a Python loop over images, each one call of a batch-1 program."""
    search = make_search(setup.models, num_steps=num_steps, lr=LR, lam=LAM)
    g, d = jax.device_put((setup.g_vars, setup.d_vars))
    per_image = [
        jax.device_put((setup.images[i : i + 1], setup.z0[i : i + 1])) for i in range(num_images)
    ]
    compiled, compile_s = bc.compile_timed(search, g, d, *per_image[0])

    def run():
        for x, z0 in per_image:
            jax.block_until_ready(compiled(g, d, x, z0))

    return run, compile_s


def step_flops(setup: Setup, batch: int) -> float | None:
    """XLA flops of ONE search step (vmapped value_and_grad of the latent objective)."""
    models, g_vars, d_vars = setup.models, setup.g_vars, setup.d_vars

    def generate(z):
        return models.generator.apply(g_vars, z[None], train=False)[0][0]

    def discriminate(x):
        (logit, features), _ = models.discriminator.apply(d_vars, x[None], train=False)
        return logit[0], features[0]

    def one(x, x_features, z):
        def objective(z):
            return latent_objective(
                z, x, x_features, generate, discriminate, lam=LAM, residual="l1", disc="feature"
            )[0]

        return jax.value_and_grad(objective)(z)

    images = setup.images[:batch]
    features = jax.vmap(lambda x: discriminate(x)[1])(images)
    compiled = xla_cpu.jit(jax.vmap(one)).lower(images, features, setup.z0[:batch]).compile()
    return bc.xla_flops(compiled)


def search_flops(compiled, per_step: float | None, num_steps: int) -> float | None:
    """Total flops of an S-step search: the scan body is counted once by XLA."""
    total = bc.xla_flops(compiled)
    if total is None or per_step is None:
        return None
    return total + (num_steps - 1) * per_step


def encoder_programs(setup: Setup, batch: int, num_steps: int):
    """(score_run, init_search_run, compile_s): f-AnoGAN scoring, and scoring + a search from
    the encoder's z."""
    encoder = make_encoder(setup.arch, conv_impl=setup.conv_impl)
    e_params = encoder.init(setup.k_e)["params"]
    frozen = jax.device_put((setup.g_vars, setup.d_vars))
    images = jax.device_put(setup.images[:batch])
    scorer_fn = make_fanogan_scorer(encoder, setup.models)
    scorer, c1 = bc.compile_timed(scorer_fn, e_params, frozen, images)
    search = make_search(setup.models, num_steps=num_steps, lr=LR, lam=LAM)
    z0 = scorer(e_params, frozen, images)["z"]
    searcher, c2 = bc.compile_timed(search, *frozen, images, z0)

    def score():
        jax.block_until_ready(scorer(e_params, frozen, images))

    def init_search():
        z = scorer(e_params, frozen, images)["z"]
        jax.block_until_ready(searcher(*frozen, images, z))

    return score, init_search, {"scorer": round(c1, 2), "search": round(c2, 2)}


# ----------------------------------------------------------------------------- PyTorch


class TorchSearch:
    """The same search in PyTorch: G and D frozen in eval mode, Adam on z."""

    def __init__(self, torch, setup: Setup, seed: int):
        from experiments import torch_models

        self.torch = torch
        torch.manual_seed(seed)
        self.g, self.d = torch_models.make_gan(setup.arch)
        for net in (self.g, self.d):
            net.eval().requires_grad_(False)
        self.images = torch.from_numpy(setup.images.transpose(0, 3, 1, 2).copy())
        self.z0 = torch.from_numpy(setup.z0.copy())

    def search(self, x, z0, num_steps: int):
        torch = self.torch
        with torch.no_grad():
            x_features = self.d(x)[1]
        z = z0.clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=LR)

        def objective():
            gx = self.g(z)
            res = (x - gx).abs().sum()
            return (1 - LAM) * res + LAM * (x_features - self.d(gx)[1]).abs().sum()

        for _ in range(num_steps):
            loss = objective()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.no_grad():  # the final objective, as the JAX search returns it
            return z.detach(), objective()

    def batched(self, batch: int, num_steps: int):
        x, z0 = self.images[:batch], self.z0[:batch]
        return lambda: self.search(x, z0, num_steps)

    def loop(self, num_images: int, num_steps: int):
        pairs = [(self.images[i : i + 1], self.z0[i : i + 1]) for i in range(num_images)]
        return lambda: [self.search(x, z0, num_steps) for x, z0 in pairs]


# ----------------------------------------------------------------------------- step counts


def step_counts(num_steps: int, report_steps: int) -> list[int]:
    """Both counts of the linearity check when extrapolating, else just num_steps."""
    if num_steps >= report_steps or num_steps < 2:
        return [num_steps]
    return [num_steps // 2, num_steps]


def project(seconds: dict[int, float], report_steps: int, tol: float) -> dict:
    """Seconds at ``report_steps``: measured when run, else extrapolated along the line through
    the two measured step counts when they show time linear in steps (see the module
    docstring), else None."""
    if report_steps in seconds:
        return {"seconds": seconds[report_steps], "how": "measured"}
    if len(seconds) < 2:
        return {"seconds": None, "how": "not measured at two step counts: no extrapolation"}
    (s_lo, t_lo), (s_hi, t_hi) = sorted(seconds.items())[0], sorted(seconds.items())[-1]
    slope = (t_hi - t_lo) / (s_hi - s_lo)
    intercept = t_hi - slope * s_hi
    out = {"slope_s": slope, "intercept_s": intercept}
    out["intercept_steps"] = intercept / slope if slope > 0 else None
    out["per_step_ratio"] = (t_hi / s_hi) / (t_lo / s_lo)
    # Linear: time = a + b * steps where the fixed part a is between 0 and one step (the search
    # evaluates its objective once more after the last step), within tol of the measured time.
    out["linear"] = slope > 0 and -tol * t_hi <= intercept <= slope + tol * t_hi
    if out["linear"]:
        out["seconds"] = intercept + slope * report_steps
        out["how"] = f"extrapolated from {s_lo} and {s_hi} steps"
    else:
        out["seconds"] = None
        out["how"] = (
            f"NOT extrapolated: fixed part {intercept:.3g} s, time per step {slope:.3g} s "
            f"(time/step at {s_hi} vs {s_lo} steps: {out['per_step_ratio']:.2f})"
        )
    return out


def summarize(timings: dict[int, dict], images: int, report_steps: int, tol: float) -> dict:
    """Per step count: median seconds, images/s; and the figure at ``report_steps``."""
    seconds = {s: t["median_s"] for s, t in timings.items()}
    out = {
        "seconds": seconds,
        "samples_s": {s: t["samples_s"] for s, t in timings.items()},
        "first_call_s": {s: t["first_call_s"] for s, t in timings.items()},
        "images_per_s": {s: images / sec for s, sec in seconds.items()},
        "report": project(seconds, report_steps, tol),
    }
    sec = out["report"]["seconds"]
    out["report"]["images_per_s"] = images / sec if sec else None
    return out


# ----------------------------------------------------------------------------- benchmarks


def bench_batch(setup: Setup, batch: int, tsearch, args, peak: float) -> dict:
    per_step = step_flops(setup, batch)
    timings, compile_s, flops = {"jax": {}, "torch": {}}, {}, {}
    for steps in step_counts(args.num_steps, args.report_steps):
        fns = {}
        fns["jax"], compile_s[steps], compiled = jax_batched(setup, batch, steps)
        flops[steps] = search_flops(compiled, per_step, steps)
        if tsearch is not None:
            fns["torch"] = tsearch.batched(batch, steps)
        for name, t in bc.time_interleaved(fns, args.repeats, args.min_seconds).items():
            timings[name][steps] = t
    row = {"batch": batch, "step_flops": per_step, "flops": flops}
    for name, t in timings.items():
        row[name] = summarize(t, batch, args.report_steps, args.linear_tol) if t else None
        if row[name] is not None:
            add_gflops(row[name], flops, peak)
    row["jax"]["compile_s"] = {s: round(c, 2) for s, c in compile_s.items()}
    return row


def add_gflops(summary: dict, flops: dict, peak: float) -> None:
    gf = {s: flops[s] / sec / 1e9 for s, sec in summary["seconds"].items() if flops.get(s)}
    summary["gflops"] = gf
    summary["peak_share"] = {s: g / peak for s, g in gf.items()}


def bench_loop(setup: Setup, tsearch, args) -> dict:
    timings, compile_s = {"jax": {}, "torch": {}}, {}
    for steps in step_counts(args.loop_steps, args.report_steps):
        fns = {}
        fns["jax"], compile_s[steps] = jax_loop(setup, args.loop_images, steps)
        if tsearch is not None:
            fns["torch"] = tsearch.loop(args.loop_images, steps)
        for name, t in bc.time_interleaved(fns, args.repeats, args.min_seconds).items():
            timings[name][steps] = t
    row = {"images": args.loop_images}
    for name, t in timings.items():
        row[name] = summarize(t, row["images"], args.report_steps, args.linear_tol) if t else None
    row["jax"]["compile_s"] = {s: round(c, 2) for s, c in compile_s.items()}
    return row


def bench_encoder(setup: Setup, batch: int, search_row: dict, args) -> dict:
    """Encoder scoring vs the 500-step search at ``batch``; encoder-initialised search."""
    # Same program as the plain search: time it at the fewest steps the plain search was timed at
    # and add that search's measured time per step up to --encoder-init-steps.
    enc_steps = min(args.encoder_init_steps, step_counts(args.num_steps, args.report_steps)[0])
    score, init_search, compile_s = encoder_programs(setup, batch, enc_steps)
    t = bc.time_interleaved({"score": score, "init": init_search}, args.repeats, args.min_seconds)
    score_rate = batch / t["score"]["median_s"]
    search_rate = search_row["jax"]["report"]["images_per_s"]
    out = {"batch": batch, "compile_s": compile_s, "score_images_per_s": score_rate}
    out["score_s"] = t["score"]["samples_s"]
    out["search_report_images_per_s"] = search_rate
    out["speedup_vs_search"] = score_rate / search_rate if search_rate else None
    init = {"steps": args.encoder_init_steps, "measured_steps": enc_steps}
    init["measured_s"] = t["init"]["median_s"]
    seconds, how = t["init"]["median_s"], "measured"
    if enc_steps < args.encoder_init_steps:
        fit = search_row["jax"]["report"]
        if fit.get("linear"):
            seconds += (args.encoder_init_steps - enc_steps) * fit["slope_s"]
            how = f"measured at {enc_steps} steps, + the plain search's time per step"
        else:
            seconds, how = None, "not extrapolated (plain search not shown linear)"
    init.update(seconds=seconds, how=how, images_per_s=batch / seconds if seconds else None)
    out["encoder_init_search"] = init
    return out


def bench_arch(arch: str, args, torch, peak: float) -> dict:
    setup = Setup(arch, args.conv_impl, max(max(args.batches), args.loop_images), args.seed)
    tsearch = TorchSearch(torch, setup, args.seed) if torch is not None else None
    out = {"batched": []}
    for batch in args.batches:
        out["batched"].append(bench_batch(setup, batch, tsearch, args, peak))
        print(batch_line(arch, out["batched"][-1], args), flush=True)
    out["loop"] = bench_loop(setup, tsearch, args)
    print(loop_line(arch, out["loop"]), flush=True)
    out["encoder"] = bench_encoder(setup, max(args.batches), out["batched"][-1], args)
    print(encoder_line(arch, out["encoder"]), flush=True)
    return out


# ----------------------------------------------------------------------------- reporting


def rate_text(summary: dict | None, steps: int) -> str:
    if summary is None:
        return "-"
    return bc.fmt(summary["images_per_s"].get(steps))


def report_text(summary: dict | None) -> str:
    if summary is None:
        return "-"
    rep = summary["report"]
    mark = "" if rep["how"] == "measured" else "*" if rep["images_per_s"] else " (n/a)"
    return bc.fmt(rep["images_per_s"]) + mark


def batch_line(arch: str, row: dict, args) -> str:
    s = max(row["flops"])
    j, t = row["jax"], row["torch"]
    text = (
        f"{arch:14s} B={row['batch']:<4d} {s} steps: JAX {rate_text(j, s)} img/s "
        f"({bc.fmt(j['gflops'].get(s))} GFLOP/s), PyTorch {rate_text(t, s)} img/s | "
        f"{args.report_steps} steps: JAX {report_text(j)}, PyTorch {report_text(t)}"
    )
    return text


def loop_line(arch: str, row: dict) -> str:
    return (
        f"{arch:14s} loop over {row['images']} images: JAX {report_text(row['jax'])} img/s, "
        f"PyTorch {report_text(row['torch'])} img/s (at the report step count)"
    )


def encoder_line(arch: str, enc: dict) -> str:
    init = enc["encoder_init_search"]
    return (
        f"{arch:14s} encoder B={enc['batch']}: {bc.fmt(enc['score_images_per_s'])} img/s, "
        f"{bc.fmt(enc['speedup_vs_search'])}x the search; encoder-init search "
        f"({init['steps']} steps): {bc.fmt(init['images_per_s'])} img/s ({init['how']})"
    )


def ratio(a, b):
    return a / b if a and b else None


def compare(a: dict | None, b: dict | None) -> tuple[float | None, str]:
    """images/s of a over b: at the largest step count both measured (a measured ratio), else
    at the report step count when both have a figure there (measured or extrapolated)."""
    if a is None or b is None:
        return None, "not measured"
    common = set(a["images_per_s"]) & set(b["images_per_s"])
    if common:
        s = max(common)
        return ratio(a["images_per_s"][s], b["images_per_s"][s]), f"measured at {s} steps"
    r = ratio(a["report"]["images_per_s"], b["report"]["images_per_s"])
    return r, f"at report steps ({a['report']['how']} / {b['report']['how']})"


def best_batch(res: dict) -> dict:
    """The batch row with the highest JAX images/s (all batches share their step counts)."""
    return max(res["batched"], key=lambda r: r["jax"]["images_per_s"][max(r["flops"])])


def targets(payload: dict) -> list[dict]:
    out = []
    for arch, res in payload["archs"].items():
        for row in (r for r in res["batched"] if r["batch"] >= 16):
            r, how = compare(row["jax"], row["torch"])
            out.append(target(f"{arch} B={row['batch']}: JAX / batched PyTorch", r, 1.0, "x", how))
    if "dcgan28" in payload["archs"]:
        best = best_batch(payload["archs"]["dcgan28"])
        share = best["jax"]["peak_share"].get(max(best["flops"]))
        name = f"dcgan28 share of matmul peak (best B={best['batch']})"
        out.append(target(name, share, 0.5, "", "XLA-counted flops / measured matmul peak"))
    for arch, res in payload["archs"].items():
        r, how = compare(best_batch(res)["jax"], res["loop"]["jax"])
        tgt = target(f"{arch}: best batched / per-image loop (JAX)", r, 100.0, "x", how)
        if not bc.on_gpu():
            tgt.update(met=None, note=f"GPU figures pending (no GPU here); CPU ratio {how}")
        out.append(tgt)
        enc = res["encoder"]
        name = f"{arch}: encoder scoring / {payload['settings']['report_steps']}-step search"
        note = f"B={enc['batch']}; search {best_batch_how(res, enc['batch'])}"
        out.append(target(name, enc["speedup_vs_search"], 1000.0, "x", note))
    return out


def best_batch_how(res: dict, batch: int) -> str:
    row = next(r for r in res["batched"] if r["batch"] == batch)
    return row["jax"]["report"]["how"]


def report_rate(summary: dict | None) -> float | None:
    return summary["report"]["images_per_s"] if summary else None


def target(name: str, value, goal: float, unit: str, note: str = "") -> dict:
    met = None if value is None else bool(value >= goal)
    return {"name": name, "value": value, "goal": f">= {goal:g}{unit}", "met": met, "note": note}


def markdown(payload: dict) -> str:
    st = payload["settings"]
    lines = bc.header_lines(
        "AnoGAN latent search throughput",
        payload["machine"],
        payload["load"],
        payload["matmul_peak"],
        payload["quick"],
    )
    lines += [
        f"float32, conv_impl={st['conv_impl']}, random-init networks, median of "
        f"{st['repeats']} interleaved samples. Steps timed: {st['step_counts']} (batched), "
        f"{st['loop_step_counts']} (loops, {st['loop_images']} images). Figures at "
        f"{st['report_steps']} steps: plain = measured, * = extrapolated (time linear in steps, "
        f"tolerance {st['linear_tol']:.0%}; fit in the JSON 'report'), n/a = not shown linear, "
        "so not extrapolated. Share of peak = JAX GFLOP/s (XLA-counted) / the higher of the "
        "two measured matmul peaks.",
        "",
    ]
    if payload["torch_note"]:
        lines += [payload["torch_note"], ""]
    if not bc.on_gpu():
        lines += ["No GPU on this machine: GPU figures pending.", ""]
    for arch, res in payload["archs"].items():
        lines += arch_section(arch, res, st)
    lines += ["## Targets", ""]
    rows = [[t["name"], bc.fmt(t.get("value")), t.get("goal", ""),
             {True: "met", False: "NOT met", None: "-"}[t["met"]], t.get("note", "")]
            for t in payload["targets"]]  # fmt: skip
    lines += [bc.md_table(["target", "value", "goal", "status", "note"], rows), ""]
    lines += issue_section(payload)
    return "\n".join(lines)


def arch_section(arch: str, res: dict, st: dict) -> list[str]:
    s_hi, rep = max(st["step_counts"]), st["report_steps"]
    headers = ["B", f"JAX compile s ({s_hi} st)", f"JAX img/s @{s_hi}", f"PyTorch img/s @{s_hi}",
               f"JAX/PyTorch @{s_hi}", f"JAX GFLOP/s @{s_hi}", "share of peak",
               f"JAX img/s @{rep}", f"PyTorch img/s @{rep}"]  # fmt: skip
    rows = []
    for r in res["batched"]:
        j, t = r["jax"], r["torch"]
        rows.append([r["batch"], j["compile_s"][s_hi], rate_text(j, s_hi), rate_text(t, s_hi),
                     bc.fmt(compare(j, t)[0]), bc.fmt(j["gflops"].get(s_hi)),
                     percent(j["peak_share"].get(s_hi)),
                     report_text(j), report_text(t)])  # fmt: skip
    loop, enc = res["loop"], res["encoder"]
    init = enc["encoder_init_search"]
    return [
        f"## {arch}",
        "",
        bc.md_table(headers, rows),
        "",
        f"Per-image loop ({loop['images']} images, batch-1 program per image), @{rep} steps: "
        f"JAX {report_text(loop['jax'])} img/s, PyTorch {report_text(loop['torch'])} img/s.",
        "",
        f"f-AnoGAN encoder scoring at B={enc['batch']}: {bc.fmt(enc['score_images_per_s'])} "
        f"img/s = {bc.fmt(enc['speedup_vs_search'])}x the {rep}-step search at that batch. "
        f"Encoder-initialised search ({init['steps']} steps, encoder pass included): "
        f"{bc.fmt(init['images_per_s'])} img/s ({init['how']}).",
        "",
    ]


def percent(x) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def issue_section(payload: dict) -> list[str]:
    rows = []
    for arch, res in payload["archs"].items():
        if arch not in ISSUE:
            continue
        best_j = max((report_rate(r["jax"]) or 0.0 for r in res["batched"]), default=0.0)
        best_t = max((report_rate(r["torch"]) or 0.0 for r in res["batched"]), default=0.0)
        rows.append([arch, *ISSUE[arch], bc.fmt(best_t or None), bc.fmt(best_j or None)])
    if not rows:
        return []
    headers = ["arch", "issue: PyTorch", "issue: starting JAX", "here: PyTorch", "here: JAX"]
    return [
        f"## Against the issue's starting point (best batch, {payload['settings']['report_steps']}"
        "-step search, images/s)",
        "",
        "Another machine: compare ratios. '-' where no batch has a 500-step figure (measured or "
        "extrapolated). The issue's dcgan28_light may not be this "
        "repository's (here G: Linear(100, 7x7x256)+BN+ReLU, ConvT 256->64 s2 +BN+ReLU, "
        "ConvT 64->1 s2; D: conv 1->32 s2, conv 32->64 s2 +norm, Linear(3136, 1)).",
        "",
        bc.md_table(headers, rows),
    ]


# ----------------------------------------------------------------------------- main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", default=",".join(ARCHS))
    parser.add_argument("--batches", default="1,16,64,256")
    parser.add_argument("--num-steps", type=int, default=500, help="search steps timed")
    parser.add_argument("--report-steps", type=int, default=500, help="steps quoted")
    parser.add_argument("--loop-steps", type=int, default=None, help="default: --report-steps")
    parser.add_argument("--loop-images", type=int, default=2)
    parser.add_argument("--encoder-init-steps", type=int, default=100)
    parser.add_argument("--linear-tol", type=float, default=0.1)
    parser.add_argument("--min-seconds", type=float, default=1.0, help="least time per sample")
    parser.add_argument("--seed", type=int, default=0)
    bc.add_common_args(parser, NAME)
    parser.set_defaults(repeats=3)
    args = parser.parse_args(argv)
    args.archs = bc.csv_list(args.archs, ARCHS, "architecture")
    if args.quick:
        args.batches = "1,16" if args.batches == "1,16,64,256" else args.batches
        args.num_steps, args.loop_images = min(args.num_steps, 4), min(args.loop_images, 2)
        args.repeats, args.min_seconds = min(args.repeats, 2), 0.0
        args.loop_steps = args.loop_steps or args.num_steps
    args.batches = sorted({int(b) for b in args.batches.split(",")})
    args.loop_steps = args.loop_steps or args.report_steps
    return args


def main(argv=None):
    args = parse_args(argv)
    load, torch, info, peak = bc.start(args)
    start = time.perf_counter()
    archs = {arch: bench_arch(arch, args, torch, peak["peak_gflops"]) for arch in args.archs}
    payload = {
        **bc.payload_head(NAME, args, load, torch, info, peak),
        "torch": torch is not None,
        "settings": {
            "conv_impl": args.conv_impl,
            "repeats": args.repeats,
            "min_seconds": args.min_seconds,
            "batches": args.batches,
            "report_steps": args.report_steps,
            "step_counts": step_counts(args.num_steps, args.report_steps),
            "loop_step_counts": step_counts(args.loop_steps, args.report_steps),
            "loop_images": args.loop_images,
            "linear_tol": args.linear_tol,
            "lam": LAM,
            "lr": LR,
        },
        "wall_s": None,
        "archs": archs,
    }
    payload["targets"] = targets(payload)
    payload["wall_s"] = round(time.perf_counter() - start, 1)
    paths = bc.write_results(bc.out_stem(args.out, NAME, args.quick), payload, markdown(payload))
    print(f"wrote {paths[0]} and {paths[1]}")


if __name__ == "__main__":
    main()
