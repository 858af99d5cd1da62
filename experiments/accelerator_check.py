"""One prepared accelerator check: what the training step, the latent search and f-AnoGAN's
one pass achieve on this device, in every form the models axis can take, against PyTorch on
the same device, in at most ``--budget-s`` seconds (compilation included).

    python -m experiments.accelerator_check                  # the full check (a GPU: ~5 min)
    python -m experiments.accelerator_check --tiny --out /tmp/acc   # CPU smoke run (tests)

Sections, in order of importance; each is written to the results as soon as it is done, and
a section that would start after the budget is spent is recorded as skipped, so a cut-off run
still returns what it measured:

1. the device: name, driver, jax / jaxlib / flax / torch versions, the chip's datasheet dense
   peaks (``PEAKS``) and a measured matmul peak in float32 (JAX's default precision, TF32 on
   NVIDIA tensor cores) and bfloat16;
2. training, per architecture (dcgan28 first) and M models that differ only in seed: model
   steps/s (M x steps/s) and achieved TFLOP/s in each form of the models axis (``FORMS``):
   ``grouped`` (``jit(vmap(step))`` with XLA's convolution: per-model kernels become one
   grouped convolution), ``batched_matmul`` (the same with ``conv_impl="im2col"``: each
   convolution becomes slices and one matmul with a models batch dimension, a batched GEMM)
   and ``loop`` (the single-model program called for each model in turn, as
   ``runs.seeds.seeds_step(mode="loop")`` runs it); PyTorch's same step on the same device at
   M = 1 and a PyTorch loop over M models; all forms of one (arch, M) interleaved;
3. the latent search (``make_search``, ``--search-steps`` Adam steps) and f-AnoGAN's one pass
   (``make_fanogan_scorer``) in images/s and TFLOP/s at batch B = 256 ... 16384;
4. the ten most expensive ops of the dcgan28 step at M = 1 and M = 30 from a profiler trace;
5. bfloat16 compute rows beside float32 (training at M = 1 and 30, search and one pass).

FLOPs are the model's dot and convolution flops counted on the jaxpr
(``bench_common.model_flops``: the n_critic critic updates of a WGAN-GP step each count,
which XLA's cost analysis, counting a scan body once, would not). The training step is the
f-AnoGAN recipe's (``--objective``, by default WGAN-GP with n_critic 5, batch 64).

Writes ``experiments/results/accelerator_<device>.{json,md}`` (``--out`` for another stem).
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

# JAX would take 75 % of the GPU's memory at start; PyTorch runs beside it here.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from anogan_jax.encoder import make_fanogan_scorer  # noqa: E402
from anogan_jax.latent_search import initial_z, make_search  # noqa: E402
from anogan_jax.models import default_latent_dim, make_encoder, make_gan  # noqa: E402
from anogan_jax.objectives import default_optimizers, get_objective  # noqa: E402
from anogan_jax.runs.seeds import seeds_input, seeds_step  # noqa: E402
from anogan_jax.state import init_gan_state  # noqa: E402
from anogan_jax.train import make_gan_step  # noqa: E402
from experiments import bench_common as bc  # noqa: E402
from experiments import profile_train  # noqa: E402

NAME = "accelerator"
ARCHS = ("dcgan28", "dcgan28_light", "mlp", "resnet64")
CONV_FORMS = ("grouped", "batched_matmul", "loop")
MLP_FORMS = ("vmap", "loop")
# Datasheet dense (no sparsity) TFLOP/s by device kind: float32 on CUDA cores, TF32 and
# bfloat16 on tensor cores (NVIDIA's H100 / H200 / A100 data sheets). First match wins.
PEAKS = (
    ("H100 PCIe", {"fp32": 51.2, "tf32": 378.0, "bf16": 756.0}),
    ("H100 NVL", {"fp32": 60.0, "tf32": 417.5, "bf16": 835.5}),
    ("H100", {"fp32": 66.9, "tf32": 494.7, "bf16": 989.4}),
    ("H200", {"fp32": 66.9, "tf32": 494.7, "bf16": 989.4}),
    ("A100", {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0}),
)
SIZES = {
    "full": {
        "name": "full",
        "models": (1, 30, 3, 10),
        "batch": 64,
        "search_batches": (256, 1024, 4096, 16384),
        "search_steps": 20,
        "profile_models": (1, 30),
        "bf16_models": (1, 30),
        "bf16_batch": 4096,
        "repeats": 3,
        "min_seconds": 0.2,
        "resnet_width": None,
    },
    "tiny": {
        "name": "tiny",
        "models": (2,),
        "batch": 4,
        "search_batches": (8,),
        "search_steps": 2,
        "profile_models": (2,),
        "bf16_models": (2,),
        "bf16_batch": 8,
        "repeats": 1,
        "min_seconds": 0.0,
        "resnet_width": 4,
    },
}


# ----------------------------------------------------------------------------- device


def device_slug() -> str:
    kind = jax.devices()[0].device_kind if jax.default_backend() != "cpu" else "cpu"
    return re.sub(r"[^a-z0-9]+", "_", kind.lower()).strip("_")


def chip_peaks() -> dict | None:
    kind = jax.devices()[0].device_kind
    return next((dict(p, match=name) for name, p in PEAKS if name in kind), None)


def driver() -> str | None:
    if shutil.which("nvidia-smi") is None:
        return None
    query = ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]
    try:
        return subprocess.run(query, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError) as err:
        return f"nvidia-smi failed: {err}"


def load_torch(enabled: bool):
    """(torch, device) for PyTorch on JAX's device kind, or (None, None) with the reason."""
    torch = bc.load_torch(enabled)
    if torch is None:
        return None, None
    if jax.default_backend() == "gpu":
        if not torch.cuda.is_available():
            print("PyTorch has no CUDA here: torch rows omitted.")
            return None, None
        # The same arithmetic as JAX's default float32 precision on tensor cores (TF32).
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
        return torch, "cuda"
    return torch, "cpu"


def measured_peaks(tiny: bool) -> dict:
    """Matmul TFLOP/s at JAX's default float32 precision and in bfloat16."""
    n = 256 if tiny else (8192 if jax.default_backend() != "cpu" else 2048)
    out = {"n": n}
    for dtype in ("float32", "bfloat16"):
        x = jnp.ones((n, n), dtype)
        dot, _ = bc.compile_timed(jax.jit(jnp.dot), x, x)
        sec = bc.time_interleaved({"dot": (dot, (x, x))}, 3, 0.05 if tiny else 0.3)["dot"]
        out[f"{dtype}_tflops"] = round(2.0 * n**3 / sec / 1e12, 2)
    return out


def device_section(torch, tiny: bool) -> dict:
    info = bc.machine_info(torch)
    info["device_kind"] = jax.devices()[0].device_kind
    info["driver"] = driver()
    info["versions"]["flax"] = bc._version("flax")
    if torch is not None:
        info["torch_cuda"] = getattr(torch.version, "cuda", None)
        info["torch_tf32"] = bool(torch.backends.cuda.matmul.allow_tf32)
    return {"machine": info, "chip_peak_tflops": chip_peaks(), "measured": measured_peaks(tiny)}


# ----------------------------------------------------------------------------- training


def _gan(arch: str, conv_impl: str, dtype, size: dict, objective: str):
    width = size["resnet_width"] if arch == "resnet64" else None
    return make_gan(
        arch,
        image_shape=(64, 64, 3) if arch == "resnet64" else (28, 28, 1),
        latent_dim=default_latent_dim(arch),
        objective=objective,
        conv_impl=conv_impl,
        compute_dtype=dtype,
        width=width,
    )


@functools.cache
def step_flops(arch: str, size_name: str, objective: str, dtype) -> float:
    """The flops of one model's training step, counted on the plain-convolution program, so
    that every form is credited with the same work (im2col's products with the zeros of a
    dilated input, or a formulation that skips them, do not change it)."""
    size = SIZES[size_name]
    models = _gan(arch, "lax", dtype, size, objective)
    g_tx, d_tx, n_critic = default_optimizers(objective)
    raw = make_gan_step(get_objective(objective), models, g_tx, d_tx, n_critic=n_critic, jit=False)
    state = init_gan_state(models, g_tx, d_tx, jax.random.key(0))
    batch = jnp.zeros((n_critic, size["batch"], *models.image_shape))
    return bc.model_flops(raw, state, batch, jax.random.key(1))


def jax_training(arch: str, form: str, m: int, size: dict, objective: str, dtype):
    """(run, flops per call): ``run()`` makes one training step of each of ``m`` models."""
    conv_impl = {"grouped": "lax", "batched_matmul": "im2col"}.get(form, "auto")
    models = _gan(arch, conv_impl, dtype, size, objective)
    g_tx, d_tx, n_critic = default_optimizers(objective)
    raw = make_gan_step(get_objective(objective), models, g_tx, d_tx, n_critic=n_critic, jit=False)
    states = [init_gan_state(models, g_tx, d_tx, jax.random.key(i)) for i in range(m)]
    shape = (n_critic, size["batch"], *models.image_shape)
    batch = jax.random.uniform(jax.random.key(10_000), shape, minval=-1.0, maxval=1.0)
    keys = [jax.random.key(20_000 + i) for i in range(m)]
    flops = m * step_flops(arch, size["name"], objective, dtype)
    mode = "loop" if form == "loop" else "vmap"
    step = seeds_step(raw, mode, m, None)
    held, _, held_keys = seeds_input(mode, states, [], keys)
    batches = jnp.stack([batch] * m) if mode == "vmap" else [batch] * m
    box = {"states": held}

    def run():
        box["states"], metrics = step(box["states"], batches, held_keys)
        return metrics

    return run, flops


def torch_training(torch, device: str, arch: str, m: int, size: dict, objective: str):
    """``run()`` makes one PyTorch training step of each of ``m`` models in turn."""
    from experiments import bench_train

    runs = [
        bench_train.torch_program(
            torch, arch, objective, size["batch"], seed=i, device=device,
            width=size["resnet_width"],
        )[0]
        for i in range(m)
    ]  # fmt: skip

    def run():
        for r in runs:
            r()
        if device == "cuda":
            torch.cuda.synchronize()

    return run


def _forms(arch: str) -> tuple:
    return MLP_FORMS if arch == "mlp" else CONV_FORMS


def training_rows(arch: str, m: int, size: dict, args, torch, device, dtype=jnp.float32):
    """One row per form (and PyTorch) of ``m`` models of ``arch``, timed interleaved."""
    programs, flops, first = {}, {}, {}
    for form in _forms(arch):
        start = time.perf_counter()
        programs[form], flops[form] = jax_training(arch, form, m, size, args.objective, dtype)
        jax.block_until_ready(programs[form]())  # compiles
        first[form] = time.perf_counter() - start
    if torch is not None and dtype == jnp.float32 and m in (1, max(size["models"])):
        programs["torch"] = torch_training(torch, device, arch, m, size, args.objective)
        flops["torch"] = flops[_forms(arch)[0]]
    times = bc.time_interleaved(programs, size["repeats"], size["min_seconds"], stat=None)
    dtype_name = jnp.dtype(dtype).name
    rows = []
    for name, t in times.items():
        sec = t["median_s"]
        rows.append({
            "arch": arch, "models": m, "form": name, "dtype": dtype_name,
            "model_steps_per_s": m / sec, "tflops": flops[name] / sec / 1e12,
            "gflop_per_model_step": flops[name] / m / 1e9,
            "compile_s": round(first[name], 2) if name in first else None,
            "step_s": {k: t[k] for k in ("median_s", "min_s", "max_s")},
        })  # fmt: skip
    return rows


# ----------------------------------------------------------------------------- inference


def inference_rows(arch: str, batches, size: dict, dtype=jnp.float32) -> list[dict]:
    """The latent search and f-AnoGAN's one pass at each batch size: images/s, TFLOP/s."""
    models = _gan(arch, "auto", dtype, size, "wgan_gp")
    encoder = make_encoder(arch, latent_dim=models.latent_dim, compute_dtype=dtype)
    k_g, k_d, k_e, k_x, k_z = jax.random.split(jax.random.key(0), 5)
    g_vars, d_vars = models.generator.init(k_g), models.discriminator.init(k_d)
    e_params = encoder.init(k_e)["params"]
    steps = size["search_steps"]
    search = make_search(models, num_steps=steps)
    scorer = make_fanogan_scorer(encoder, models)
    rows = []
    for b in batches:
        x = jax.random.uniform(k_x, (b, *models.image_shape), minval=-1.0, maxval=1.0)
        z0 = initial_z(k_z, np.arange(b), models.latent_dim)
        work = {
            "search": (search, (g_vars, d_vars, x, z0)),
            "fanogan": (scorer, (e_params, (g_vars, d_vars), x)),
        }
        flops = {k: bc.model_flops(fn, *a) for k, (fn, a) in work.items()}
        compile_s = {}
        for k, (fn, a) in work.items():
            start = time.perf_counter()
            jax.block_until_ready(fn(*a))
            compile_s[k] = round(time.perf_counter() - start, 2)
        times = bc.time_interleaved(work, size["repeats"], size["min_seconds"])
        for k, sec in times.items():
            rows.append({
                "method": k, "batch": b, "dtype": jnp.dtype(dtype).name,
                "search_steps": steps if k == "search" else None,
                "images_per_s": b / sec, "tflops": flops[k] / sec / 1e12,
                "compile_s": compile_s[k],
            })  # fmt: skip
    return rows


# ----------------------------------------------------------------------------- profile


def top_ops(arch: str, m: int, size: dict, args, count: int = 10) -> dict:
    """The ``count`` ops of the training step of ``m`` models (the single-model program for
    m = 1, the grouped vmapped one for more) that take the most device time in a trace."""
    form = "loop" if m == 1 else "grouped"
    run, _ = jax_training(arch, form, m, size, args.objective, jnp.float32)
    jax.block_until_ready(run())
    steps = 2 if args.tiny else 5
    times, wall_ms = profile_train.trace_op_times(lambda: jax.block_until_ready(run()), steps)
    total = sum(times.values())
    ops = sorted(times.items(), key=lambda kv: -kv[1])[:count]
    return {
        "arch": arch,
        "models": m,
        "form": form,
        "wall_ms_per_step": wall_ms,
        "op_ms_sum_per_step": total,
        "ops": [{"op": name, "ms": ms, "share": ms / total if total else None} for name, ms in ops],
    }


# ----------------------------------------------------------------------------- report


def summary(payload: dict) -> dict:
    """Per (arch, M): the fastest JAX form, its share of the chip's peak, JAX / PyTorch."""
    peak = (payload["device"].get("chip_peak_tflops") or {}).get("tf32")
    best = {}
    for row in payload["training"]:
        if row["form"] == "torch" or row["dtype"] != "float32":
            continue
        key = (row["arch"], row["models"])
        if key not in best or row["model_steps_per_s"] > best[key]["model_steps_per_s"]:
            best[key] = row
    torch_rows = {(r["arch"], r["models"]): r for r in payload["training"] if r["form"] == "torch"}
    out = []
    for (arch, m), row in best.items():
        t = torch_rows.get((arch, m))
        out.append({
            "arch": arch, "models": m, "best_form": row["form"],
            "model_steps_per_s": row["model_steps_per_s"], "tflops": row["tflops"],
            "share_of_tf32_peak": row["tflops"] / peak if peak else None,
            "jax_over_torch": row["model_steps_per_s"] / t["model_steps_per_s"] if t else None,
        })  # fmt: skip
    return {"chosen_forms": out, "table_forms": table_forms(out)}


def table_forms(chosen: list[dict]) -> dict:
    """{arch: {"form", "models"}}: the fastest form of each architecture at the most models
    measured (M = 30 in the full check), named as ``runs.forms.FORMS`` names it ("grouped" is
    its "vmap"), for ``runs.forms.MEASURED`` (its docstring says how)."""
    out = {}
    for row in chosen:
        if row["arch"] not in out or row["models"] > out[row["arch"]]["models"]:
            form = "vmap" if row["best_form"] == "grouped" else row["best_form"]
            out[row["arch"]] = {"form": form, "models": row["models"]}
    return out


def markdown(payload: dict) -> str:
    dev = payload["device"]
    m = dev["machine"]
    lines = [
        f"# Accelerator check: {m['device_kind']}",
        "",
        *(
            ["**TINY SMOKE RUN (--tiny): tiny sizes, not a benchmark.**", ""]
            if payload["tiny"]
            else []
        ),
        f"Command: `{payload['command']}`",
        "",
        f"Device: {bc.describe_machine(m)}; driver: {m.get('driver') or '-'}.",
        "",
        f"Datasheet dense peak (TFLOP/s): {dev.get('chip_peak_tflops') or 'unknown device'}; "
        f"measured matmul: {dev['measured']}.",
        "",
        f"Training step: {payload['objective']}, batch {payload['sizes']['batch']} per model; "
        f"FLOPs from the jaxpr (dots and convolutions). Elapsed {payload['elapsed_s']:.0f} s of "
        f"a {payload['budget_s']:.0f} s budget.",
        "",
        "## Fastest form per architecture and number of models",
        "",
        bc.markdown_table(
            payload["summary"]["chosen_forms"],
            [
                "arch",
                "models",
                "best_form",
                "model_steps_per_s",
                "tflops",
                "share_of_tf32_peak",
                "jax_over_torch",
            ],
        ),  # fmt: skip
        "",
        "## Training, every form",
        "",
        bc.markdown_table(
            payload["training"],
            [
                "arch",
                "models",
                "form",
                "dtype",
                "model_steps_per_s",
                "tflops",
                "gflop_per_model_step",
                "compile_s",
            ],
        ),  # fmt: skip
        "",
        f"## Latent search and f-AnoGAN one pass ({payload['archs'][0]})",
        "",
        bc.markdown_table(
            payload["inference"],
            ["method", "batch", "dtype", "search_steps", "images_per_s", "tflops", "compile_s"],
        ),
        "",
        "## Most expensive ops of the training step",
        "",
    ]
    for prof in payload["profiles"]:
        lines += [
            f"{prof['arch']}, M = {prof['models']} ({prof['form']}): wall "
            f"{prof['wall_ms_per_step']:.2f} ms per step, op time "
            f"{prof['op_ms_sum_per_step']:.2f} ms",
            "",
            bc.markdown_table(prof["ops"], ["op", "ms", "share"]),
            "",
        ]
    if payload["skipped"]:
        lines += ["## Not measured", "", *[f"- {s}" for s in payload["skipped"]], ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="tiny sizes: a CPU smoke run of every path")
    p.add_argument("--archs", default=",".join(ARCHS), help="architectures, in order")
    p.add_argument("--objective", default="wgan_gp", help="training objective (f-AnoGAN's)")
    p.add_argument("--budget-s", type=float, default=280.0, help="stop starting new work after")
    p.add_argument("--no-torch", action="store_true", help="omit the PyTorch rows")
    p.add_argument(
        "--out",
        default=None,
        help="output stem (.json and .md are written), or a folder to write "
        "accelerator_<device>.{json,md} into",
    )
    args = p.parse_args(argv)
    args.archs = bc.csv_list(args.archs, ARCHS, "arch")
    get_objective(args.objective)
    return args


class Budget:
    def __init__(self, seconds: float):
        self.start, self.seconds, self.skipped = time.perf_counter(), seconds, []

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def allows(self, what: str) -> bool:
        if self.elapsed() < self.seconds:
            return True
        self.skipped.append(f"{what}: budget of {self.seconds:.0f} s spent")
        print(f"skipped {what} (budget spent)", flush=True)
        return False


def main(argv=None) -> int:
    args = parse_args(argv)
    size = SIZES["tiny" if args.tiny else "full"]
    budget = Budget(args.budget_s)
    torch, device = load_torch(not args.no_torch)
    name = f"{NAME}_{device_slug()}"
    into_dir = args.out is not None and Path(args.out).is_dir()
    stem = Path(args.out) / name if into_dir else bc.out_stem(args.out, name, args.tiny)
    payload = {
        "benchmark": NAME,
        "tiny": args.tiny,
        "command": "python -m experiments.accelerator_check " + " ".join(argv or sys.argv[1:]),
        "objective": args.objective,
        "archs": args.archs,
        "sizes": {k: v for k, v in size.items()},
        "budget_s": args.budget_s,
        "device": device_section(torch, args.tiny),
        "training": [],
        "inference": [],
        "profiles": [],
        "skipped": budget.skipped,
    }
    print(bc.describe_machine(payload["device"]["machine"]), flush=True)

    def save():
        payload["elapsed_s"] = budget.elapsed()
        payload["summary"] = summary(payload)
        bc.write_results(stem, payload, markdown(payload))

    def train(arch, m, dtype=jnp.float32):
        what = f"training {arch} M={m} {jnp.dtype(dtype).name}"
        if budget.allows(what):
            rows = training_rows(arch, m, size, args, torch, device, dtype)
            payload["training"].extend(rows)
            print(what, *(f"{r['form']}={r['model_steps_per_s']:.1f}/s" for r in rows), flush=True)
            save()

    def infer(arch, batches, dtype=jnp.float32):
        what = f"inference {arch} B={batches} {jnp.dtype(dtype).name}"
        if budget.allows(what):
            payload["inference"].extend(inference_rows(arch, batches, size, dtype))
            print(what, "done", flush=True)
            save()

    # Most important first: the first arch at one and at the most models, then inference,
    # the profile and bfloat16, then the other model counts and architectures.
    first, most = args.archs[0], max(size["models"])
    for m in sorted({size["models"][0], most}):
        train(first, m)
    for b in size["search_batches"]:
        infer(first, (b,))
    for m in size["profile_models"]:
        if budget.allows(f"profile M={m}"):
            payload["profiles"].append(top_ops(first, m, size, args))
            save()
    for m in size["bf16_models"]:
        train(first, m, jnp.bfloat16)
    infer(first, (size["bf16_batch"],), jnp.bfloat16)
    for m in size["models"]:
        if m not in (size["models"][0], most):
            train(first, m)
    for arch in args.archs[1:]:
        for m in size["models"]:
            train(arch, m)
    save()
    print(f"results in {stem}.json ({budget.elapsed():.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
