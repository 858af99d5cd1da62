"""AnoGAN latent search throughput: one compiled batch program vs per-image loops vs PyTorch.

Run from the repository root on a quiet machine (PyTorch rows need ``pip install -e '.[bench]'``):

    .venv/bin/python -m experiments.bench_latent_search --num-steps 50   # 500-step figures
                                                                         # extrapolated
    .venv/bin/python -m experiments.bench_latent_search --quick --allow-busy  # smoke test

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
evaluation), within ``--linear-tol`` of the measured time. Otherwise it is left out. The JSON
says which figures are measured and which extrapolated. Compile time is reported apart.

FLOPs: XLA's cost analysis counts a ``lax.scan`` body once, so the work of an S-step search is
cost(search program) + (S - 1) * cost(one vmapped value_and_grad step); GFLOP/s divide that by
the measured time (also for PyTorch, which runs the same layers), and the share is of the
measured float32 matmul peak.

Also: f-AnoGAN encoder scoring (``make_fanogan_scorer``) at the largest batch against the
500-step search at that batch, and the encoder-initialised search (z0 = E(x), then
``--encoder-init-steps`` search steps; same cost per step as the plain search).

64 x 64 rows (``--archs resnet64``, written to ``bench_latent_search_64`` when run alone): the
f-AnoGAN WGAN-GP ResNet (``resnet64``, ``--width-64`` 64 = published, z of 128, 64x64x3 images)
against its PyTorch twin carrying the SAME weights (``torch_models.load_resnet64``), JAX vs
PyTorch images/s of (a) the latent search above (same objective and optimiser) at one batch
``--batch-64`` and ``--steps-64`` steps, no extrapolation: a step costs ~20 GFLOP per image,
so 500-step rounds would not fit a small CPU; (b) f-AnoGAN one-pass scoring as
``make_fanogan_scorer`` computes it (z = E(x), G(z), critic features of x and G(z), E(G(z)),
the img / feature / z MSEs). Rounds interleaved; the ratio's spread is over the rounds.

    taskset -c 1 .venv/bin/python -m experiments.bench_latent_search --archs resnet64 \
        --torch-threads 1    # one core each: on a loaded 2-core machine PyTorch's 2 threads
                             # stall at every op (100x slower), which measures the load
"""

from __future__ import annotations

import argparse
import functools
import sys
import time

import jax
import numpy as np

from anogan_jax.encoder import make_fanogan_scorer
from anogan_jax.latent_search import initial_z, latent_objective, make_search
from anogan_jax.models import default_latent_dim, make_encoder, make_gan
from anogan_jax.ops import xla_cpu
from experiments import bench_common as bc

NAME = "bench_latent_search"
ARCHS = ("dcgan28", "dcgan28_light", "resnet64")
ARCH_64, SHAPE_64 = "resnet64", (64, 64, 3)  # the 64 x 64 rows (see the module docstring)
LAM, LR = 0.1, 0.05  # make_search's defaults, used by the PyTorch search too


# ----------------------------------------------------------------------------- JAX programs


class Setup:
    """Random-init frozen networks, images and starting points for one architecture."""

    def __init__(self, arch: str, conv_impl: str, max_batch: int, seed: int, **gan_kw):
        """``gan_kw``: image_shape, latent_dim, width for ``make_gan`` / ``make_encoder``."""
        self.arch = arch
        self.models = make_gan(arch, conv_impl=conv_impl, **gan_kw)
        self.encoder = make_encoder(arch, conv_impl=conv_impl, **gan_kw)
        k_g, k_d, k_x, k_z, k_e = jax.random.split(jax.random.key(seed), 5)
        self.g_vars = self.models.generator.init(k_g)
        self.d_vars = self.models.discriminator.init(k_d)
        self.e_params = self.encoder.init(k_e)["params"]
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
    scorer, e_params, frozen, images, c1 = jax_scorer(setup, batch)
    search = make_search(setup.models, num_steps=num_steps, lr=LR, lam=LAM)
    z0 = scorer(e_params, frozen, images)["z"]
    searcher, c2 = bc.compile_timed(search, *frozen, images, z0)

    def score():
        jax.block_until_ready(scorer(e_params, frozen, images))

    def init_search():
        z = scorer(e_params, frozen, images)["z"]
        jax.block_until_ready(searcher(*frozen, images, z))

    return score, init_search, {"scorer": round(c1, 2), "search": round(c2, 2)}


def jax_scorer(setup: Setup, batch: int):
    """(compiled f-AnoGAN scorer, e_params, frozen, images, compile_s) on ``batch`` images."""
    e_params, frozen = jax.device_put((setup.e_params, (setup.g_vars, setup.d_vars)))
    images = jax.device_put(setup.images[:batch])
    scorer_fn = make_fanogan_scorer(setup.encoder, setup.models)
    scorer, compile_s = bc.compile_timed(scorer_fn, e_params, frozen, images)
    return scorer, e_params, frozen, images, compile_s


# ----------------------------------------------------------------------------- PyTorch


def torch_search(torch, g, d, x, z0, num_steps: int):
    """``make_search`` in PyTorch for a batch x (N, C, H, W) from z0 (N, latent): G and D
    frozen, Adam on z, the objective summed over the batch (each image's gradient is its own
    and Adam is elementwise: N independent searches). Returns (z, final objective per image)."""
    with torch.no_grad():
        x_features = d(x)[1]
    z = z0.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=LR)

    def objective():
        gx = g(z)
        res = (x - gx).abs().flatten(1).sum(1)
        return (1 - LAM) * res + LAM * (x_features - d(gx)[1]).abs().sum(1)

    for _ in range(num_steps):
        loss = objective().sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():  # the final objective, as the JAX search returns it
        return z.detach(), objective()


def torch_fanogan_score(torch, e, g, d, x) -> dict:
    """``make_fanogan_scorer`` in PyTorch: per-image img_mse, feat_mse, z_mse, and z."""
    with torch.no_grad():
        z = e(x)
        recon = g(z)
        img = ((x - recon) ** 2).flatten(1).mean(1)
        feat = ((d(x)[1] - d(recon)[1]) ** 2).mean(1)
        z_mse = ((e(recon) - z) ** 2).mean(1)
    return {"img_mse": img, "feat_mse": feat, "z_mse": z_mse, "z": z}


class TorchSearch:
    """The same search in PyTorch: G and D frozen in eval mode, Adam on z. The 28x28 archs
    use PyTorch's own initialisers; resnet64 (and its encoder, ``self.e``) carries the JAX
    weights (``torch_models.load_resnet64``)."""

    def __init__(self, torch, setup: Setup, seed: int):
        from experiments import torch_models

        self.torch = torch
        torch.manual_seed(seed)
        if setup.arch == ARCH_64:
            self.g, self.d, self.e = torch_models.load_resnet64(
                setup.g_vars, setup.d_vars, setup.e_params
            )
        else:
            self.g, self.d = torch_models.make_gan(setup.arch)
            for net in (self.g, self.d):
                net.eval().requires_grad_(False)
        self.images = torch.from_numpy(setup.images.transpose(0, 3, 1, 2).copy())
        self.z0 = torch.from_numpy(setup.z0.copy())

    def search(self, x, z0, num_steps: int):
        return torch_search(self.torch, self.g, self.d, x, z0, num_steps)

    def score(self, batch: int):
        x = self.images[:batch]
        return lambda: torch_fanogan_score(self.torch, self.e, self.g, self.d, x)

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
        for name, t in bc.time_interleaved(fns, args.repeats, args.min_seconds, stat=None).items():
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
        for name, t in bc.time_interleaved(fns, args.repeats, args.min_seconds, stat=None).items():
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
    fns = {"score": score, "init": init_search}
    t = bc.time_interleaved(fns, args.repeats, args.min_seconds, stat=None)
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


def bench_arch(arch: str, args, torch, peak: float) -> tuple[dict, list[dict]]:
    """(the measurements in full, the table's rows)."""
    setup = Setup(arch, args.conv_impl, max(max(args.batches), args.loop_images), args.seed)
    tsearch = TorchSearch(torch, setup, args.seed) if torch is not None else None
    out, rows = {"batched": []}, []
    for batch in args.batches:
        out["batched"].append(bench_batch(setup, batch, tsearch, args, peak))
        rows.append(table_row(arch, "batched", batch, out["batched"][-1]))
        print(bc.row_line(rows[-1], COLUMNS), flush=True)
    out["loop"] = bench_loop(setup, tsearch, args)
    rows.append(table_row(arch, "loop", 1, out["loop"]))
    enc = out["encoder"] = bench_encoder(setup, max(args.batches), out["batched"][-1], args)
    init = enc["encoder_init_search"]
    rows += [
        {"arch": arch, "program": "fanogan_score", "batch": enc["batch"],
         "jax_compile_s": enc["compile_s"]["scorer"], "jax_img_s": enc["score_images_per_s"]},
        {"arch": arch, "program": "encoder_init_search", "batch": enc["batch"],
         "steps": init["steps"], "jax_compile_s": enc["compile_s"]["search"],
         "jax_img_s": init["images_per_s"]},
    ]  # fmt: skip
    for row in rows[-3:]:
        print(bc.row_line(row, COLUMNS), flush=True)
    return out, rows


def gan_kw_64(width: int) -> dict:
    return {"image_shape": SHAPE_64, "latent_dim": default_latent_dim(ARCH_64), "width": width}


def compare(programs: dict, images: int, flops: float | None, args, peak: float) -> dict:
    """JAX (and PyTorch) images/s from interleaved rounds; JAX/PyTorch ratio per round."""
    t = bc.time_interleaved(programs, args.repeats, args.min_seconds, stat=None)
    out = {name: {**s, "images_per_s": images / s["median_s"]} for name, s in t.items()}
    if flops:
        out["jax"]["gflops"] = flops / t["jax"]["median_s"] / 1e9
        out["jax"]["peak_share"] = out["jax"]["gflops"] / peak
    if "torch" in t:
        pairs = zip(t["jax"]["samples_s"], t["torch"]["samples_s"], strict=True)
        rounds = [ts / js for js, ts in pairs]
        out["jax_over_torch"] = {"median": t["torch"]["median_s"] / t["jax"]["median_s"]}
        out["jax_over_torch"].update(rounds=rounds, min=min(rounds), max=max(rounds))
    return out


def bench_64(args, torch, peak: float) -> tuple[dict, list[dict]]:
    """The 64 x 64 rows: resnet64 search and f-AnoGAN scoring, JAX vs PyTorch (same weights)."""
    batch, steps = args.batch_64, args.steps_64
    setup = Setup(ARCH_64, args.conv_impl, batch, args.seed, **gan_kw_64(args.width_64))
    tnets = TorchSearch(torch, setup, args.seed) if torch is not None else None
    out, rows = {}, []
    search, search_c, compiled = jax_batched(setup, batch, steps)
    flops = search_flops(compiled, step_flops(setup, batch), steps)
    programs = {"jax": search, **({"torch": tnets.batched(batch, steps)} if tnets else {})}
    out["search"] = {"compile_s": search_c, "flops": flops, "steps": steps}
    out["search"].update(compare(programs, batch, flops, args, peak))
    rows.append(row_64("batched", batch, steps, out["search"]))
    print(bc.row_line(rows[-1], COLUMNS_64), flush=True)
    scorer, e_params, frozen, images, score_c = jax_scorer(setup, batch)
    programs = {"jax": lambda: jax.block_until_ready(scorer(e_params, frozen, images))}
    if tnets:
        programs["torch"] = tnets.score(batch)
    flops = bc.xla_flops(scorer)
    out["score"] = {"compile_s": score_c, "flops": flops}
    out["score"].update(compare(programs, batch, flops, args, peak))
    rows.append(row_64("fanogan_score", batch, None, out["score"]))
    print(bc.row_line(rows[-1], COLUMNS_64), flush=True)
    return out, rows


def row_64(program: str, batch: int, steps: int | None, m: dict) -> dict:
    ratio, torch_m = m.get("jax_over_torch") or {}, m.get("torch") or {}
    return {
        "arch": ARCH_64,
        "program": program,
        "batch": batch,
        "steps": steps,
        "jax_compile_s": m["compile_s"],
        "jax_img_s": m["jax"]["images_per_s"],
        "torch_img_s": torch_m.get("images_per_s"),
        "jax_over_torch": ratio.get("median"),
        "ratio_min": ratio.get("min"),
        "ratio_max": ratio.get("max"),
        "jax_gflops": m["jax"].get("gflops"),
        "peak_share": m["jax"].get("peak_share"),
    }


# ----------------------------------------------------------------------------- reporting

COLUMNS = ["arch", "program", "batch", "steps", "jax_compile_s", "jax_img_s", "torch_img_s",
           "jax_over_torch", "jax_gflops", "peak_share", "jax_img_s_report",
           "torch_img_s_report"]  # fmt: skip
COLUMNS_64 = ["arch", "program", "batch", "steps", "jax_compile_s", "jax_img_s", "torch_img_s",
              "jax_over_torch", "ratio_min", "ratio_max", "jax_gflops", "peak_share"]  # fmt: skip


def table_row(arch: str, program: str, batch: int, row: dict) -> dict:
    """images/s at the most steps timed (JAX, PyTorch, ratio), JAX compile s, GFLOP/s and share
    of the matmul peak there, and images/s at --report-steps."""
    j, t = row["jax"], row["torch"]
    steps = max(j["images_per_s"])
    jr, tr = j["images_per_s"][steps], t["images_per_s"][steps] if t else None
    return {
        "arch": arch,
        "program": program,
        "batch": batch,
        "steps": steps,
        "jax_compile_s": j["compile_s"][steps],
        "jax_img_s": jr,
        "torch_img_s": tr,
        "jax_over_torch": jr / tr if tr else None,
        "jax_gflops": j.get("gflops", {}).get(steps),
        "peak_share": j.get("peak_share", {}).get(steps),
        "jax_img_s_report": j["report"]["images_per_s"],
        "torch_img_s_report": t["report"]["images_per_s"] if t else None,
    }


def markdown(payload: dict) -> str:
    st, sections = payload["settings"], []
    rows_28 = [r for r in payload["rows"] if r["arch"] != ARCH_64]
    rows_64 = [r for r in payload["rows"] if r["arch"] == ARCH_64]
    if rows_28:
        sections += [settings_28(st), bc.markdown_table(rows_28, COLUMNS)]
    if rows_64:
        sections += [settings_64(st), bc.markdown_table(rows_64, COLUMNS_64)]
    sections.append(f"Command: `{payload['command']}`; wall time {payload['wall_s']} s.")
    return bc.report("AnoGAN latent search throughput", payload, *sections)


def settings_64(st: dict) -> str:
    s = st["resnet64"]
    return (
        f"## 64 x 64: resnet64 (width {s['width']}, z {s['latent_dim']}, "
        f"{'x'.join(map(str, s['image_shape']))} images)\n\n"
        f"float32, conv_impl={st['conv_impl']}, random-init JAX networks; the PyTorch twin "
        "carries the same weights (torch_models.load_resnet64; the twins agree to float32 "
        f"rounding, tests/test_bench.py). Median of {st['repeats']} interleaved rounds; "
        "jax_over_torch = PyTorch s / JAX s (> 1: JAX faster), ratio_min / ratio_max its range "
        f"over the rounds. 'batched': the latent search of B={s['batch']} images for "
        f"{s['steps']} steps (lambda {st['lam']}, L1 residual, feature matching, Adam lr "
        f"{st['lr']}; {s['steps']} steps, not 500, to keep a round short on a small CPU: "
        "images/s at 500 steps are about steps/500 of these). 'fanogan_score': one pass of "
        "make_fanogan_scorer (E(x), G(E(x)), critic features of both, E(G(E(x))), MSEs). "
        "jax_gflops: XLA-counted flops (the scan body once + (steps - 1) steps) / JAX time; "
        "peak_share: of the measured float32 matmul peak."
    )


def settings_28(st: dict) -> str:
    return (
        f"float32, conv_impl={st['conv_impl']}, random-init networks, median of {st['repeats']} "
        f"interleaved samples. '*_report' columns: images/s at {st['report_steps']} steps, "
        f"measured or extrapolated (time linear in steps within {st['linear_tol']:.0%}), '-' "
        "where not shown linear; how each was got is in the JSON's 'archs'. peak_share = JAX "
        "GFLOP/s (XLA-counted) / the measured matmul peak. 'loop': a batch-1 program called per "
        "image. encoder_init_search: z0 = E(x) then that many steps."
    )


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
    parser.add_argument("--batch-64", type=int, default=16, help="resnet64 rows: batch")
    parser.add_argument("--steps-64", type=int, default=10, help="resnet64 rows: search steps")
    parser.add_argument("--width-64", type=int, default=64, help="resnet64 rows: width")
    bc.add_common_args(parser, NAME)
    parser.set_defaults(repeats=3)
    args = parser.parse_args(argv)
    args.archs = bc.csv_list(args.archs, ARCHS, "architecture")
    if args.quick:
        args.batches = "1,16" if args.batches == "1,16,64,256" else args.batches
        args.num_steps, args.loop_images = min(args.num_steps, 4), min(args.loop_images, 2)
        args.repeats, args.min_seconds = min(args.repeats, 2), 0.0
        args.loop_steps = args.loop_steps or args.num_steps
        args.batch_64, args.steps_64 = min(args.batch_64, 2), min(args.steps_64, 2)
        args.width_64 = min(args.width_64, 8)
    args.batches = sorted({int(b) for b in args.batches.split(",")})
    args.loop_steps = args.loop_steps or args.report_steps
    return args


def main(argv=None):
    args = parse_args(argv)
    command = " ".join(["python -m experiments.bench_latent_search", *(argv or sys.argv[1:])])
    load, torch, info, peak = bc.start(args)
    start = time.perf_counter()
    archs, rows = {}, []
    for arch in args.archs:
        bench = bench_64 if arch == ARCH_64 else functools.partial(bench_arch, arch)
        archs[arch], arch_rows = bench(args, torch, peak["peak_gflops"])
        rows += arch_rows
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
            "resnet64": {
                "batch": args.batch_64,
                "steps": args.steps_64,
                **gan_kw_64(args.width_64),
            },
        },
        "command": command,
        "wall_s": round(time.perf_counter() - start, 1),
        "rows": rows,
        "archs": archs,
    }
    # The 64 x 64 rows alone go to their own file, next to the 28 x 28 results.
    name = f"{NAME}_64" if args.archs == [ARCH_64] else NAME
    paths = bc.write_results(bc.out_stem(args.out, name, args.quick), payload, markdown(payload))
    print(f"wrote {paths[0]} and {paths[1]}")


if __name__ == "__main__":
    main()
