"""The models axis against the per-class path: C classes x S seeds trained as one program
(``runs.gan.train_gans``) against the same models trained class after class, each class's
seeds as one program (``train_gan(seeds=...)``), per architecture, in the form
``runs.forms.choose_form`` picks on this backend.

    .venv/bin/python -m experiments.bench_models_axis          # mlp, dcgan28_light, dcgan28
    .venv/bin/python -m experiments.bench_models_axis --tiny --out /tmp/bma   # smoke run

Each path runs whole ``train`` commands into fresh folders (``overwrite``): data loading,
compilation, checkpoints and sample grids included, which is what a study pays. The two
paths alternate (A, B, B, A, ...) over ``repeats`` samples each, so that a machine shared
with other work slows both alike; the ratio of medians is what counts. Throughput is
model-steps per second (C x S x steps / wall seconds); ``compiles`` counts XLA backend
compilations during one sample (``jax.monitoring``'s compile event) and ``compile_s`` their
seconds; ``uncompiled_over_per_class`` is the ratio of the samples less those seconds (what
the paths cost once compiled: steps, data, checkpoints, sample grids). After the last sample
each model's final state is compared between the paths: bit-identical where the form is the
loop, max abs diff where it vmaps.

Results: ``experiments/results/bench_models_axis_<backend>.{json,md}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
from jax import monitoring

from anogan_jax.runs.config import RunConfig
from anogan_jax.runs.forms import choose_form
from anogan_jax.runs.gan import train_gan, train_gans
from anogan_jax.runs.models import load_gan
from experiments import bench_common as bc

# resnet64 is not among them: it trains on folder datasets only (64x64), which hold one class
# (cls 0), so there is no (class, seed) axis to compare with the per-class path: its models
# axis is the seeds program, which the per-class path runs too.
ARCHS = ("mlp", "dcgan28_light", "dcgan28")
COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
# Steps per arch, so that each sample lasts a minute or so on 2 contended cores.
SIZES = {
    "full": {
        "classes": (0, 1),
        "seeds": (0, 1),
        "batch": 16,
        "steps": {"mlp": 40, "dcgan28_light": 8, "dcgan28": 4},
        "repeats": 3,
    },
    "tiny": {
        "classes": (0, 1),
        "seeds": (0,),
        "batch": 4,
        "steps": {"mlp": 2, "dcgan28_light": 2, "dcgan28": 2},
        "repeats": 1,
    },
}


class CompileCounter:
    """Counts XLA backend compilations, and their seconds, while installed (``with``)."""

    def __init__(self):
        self.count, self.seconds = 0, 0.0

    def _on(self, event: str, duration: float, **_kw) -> None:
        if event == COMPILE_EVENT:
            self.count += 1
            self.seconds += duration

    def __enter__(self):
        self.count, self.seconds = 0, 0.0
        monitoring.register_event_duration_secs_listener(self._on)
        return self

    def __exit__(self, *exc):
        monitoring.unregister_event_duration_listener(self._on)


def base_config(arch: str, size: dict) -> RunConfig:
    steps = size["steps"][arch]
    return RunConfig(
        dataset="digits",
        arch=arch,
        steps=steps,
        batch_size=size["batch"],
        checkpoint_every=steps,
        sample_every=steps,
        log_every=steps,
    )


def models_axis(config: RunConfig, size: dict, out: Path) -> list[Path]:
    """Every (class, seed) as one ``train_gans`` program. Returns the folders, in pair order."""
    pairs = [(c, s) for c in size["classes"] for s in size["seeds"]]
    folders = [out / f"c{c}_s{s}" for c, s in pairs]
    configs = [dataclasses.replace(config, cls=c, seed=s) for c, s in pairs]
    train_gans(configs, folders, overwrite=True, progress=False)
    return folders


def per_class(config: RunConfig, size: dict, out: Path) -> list[Path]:
    """Class after class, each class's seeds as one ``train_gan(seeds=...)`` program."""
    folders = []
    for c in size["classes"]:
        root = out / f"class_{c}"
        cfg = dataclasses.replace(config, cls=c)
        train_gan(cfg, root, seeds=list(size["seeds"]), overwrite=True, progress=False)
        folders += [root / f"seed_{s}" for s in size["seeds"]]
    return folders


def compare(a: list[Path], b: list[Path]) -> dict:
    """Per pair of folders: whether the final states are bit-identical, and the max abs diff."""
    identical, diff = [], 0.0
    for x, y in zip(a, b, strict=True):
        lx = [np.asarray(v) for v in jax.tree.leaves(load_gan(x)[2])]
        ly = [np.asarray(v) for v in jax.tree.leaves(load_gan(y)[2])]
        identical.append(all(np.array_equal(p, q) for p, q in zip(lx, ly, strict=True)))
        for p, q in zip(lx, ly, strict=True):
            if np.issubdtype(p.dtype, np.floating):
                diff = max(diff, float(np.max(np.abs(p.astype(np.float64) - q))))
    return {"bit_identical_models": sum(identical), "max_abs_diff": diff}


def measure(arch: str, size: dict, work: Path) -> dict:
    """Interleaved samples of both paths for ``arch``; one results row."""
    config = base_config(arch, size)
    paths = {"models_axis": models_axis, "per_class": per_class}
    samples = {k: [] for k in paths}
    compiles = {k: [] for k in paths}
    compile_s = {k: [] for k in paths}
    folders = {}
    names = list(paths)
    for r in range(size["repeats"]):
        for name in names if r % 2 == 0 else names[::-1]:
            with CompileCounter() as counter:
                start = time.perf_counter()
                folders[name] = paths[name](config, size, work / arch / name)
                samples[name].append(time.perf_counter() - start)
            compiles[name].append(counter.count)
            compile_s[name].append(counter.seconds)
    m = len(size["classes"]) * len(size["seeds"])
    model_steps = m * config.steps
    med = {k: statistics.median(v) for k, v in samples.items()}
    # The same samples less their compilation: what the paths cost once compiled.
    rest = {
        k: statistics.median([w - c for w, c in zip(v, compile_s[k], strict=True)])
        for k, v in samples.items()
    }
    choice = choose_form(arch)
    return {
        "arch": arch,
        "form": choice.form,
        "form_source": choice.source,
        "models": m,
        "steps": config.steps,
        "models_axis_model_steps_per_s": model_steps / med["models_axis"],
        "per_class_model_steps_per_s": model_steps / med["per_class"],
        "models_axis_over_per_class": med["per_class"] / med["models_axis"],
        "uncompiled_over_per_class": rest["per_class"] / rest["models_axis"],
        "compiles_models_axis": compiles["models_axis"][-1],
        "compiles_per_class": compiles["per_class"][-1],
        "compile_s_models_axis": statistics.median(compile_s["models_axis"]),
        "compile_s_per_class": statistics.median(compile_s["per_class"]),
        **compare(folders["models_axis"], folders["per_class"]),
        "samples_s": {k: [round(x, 3) for x in v] for k, v in samples.items()},
    }


COLUMNS = [
    "arch",
    "form",
    "models",
    "steps",
    "models_axis_model_steps_per_s",
    "per_class_model_steps_per_s",
    "models_axis_over_per_class",
    "uncompiled_over_per_class",
    "compiles_models_axis",
    "compiles_per_class",
    "compile_s_models_axis",
    "compile_s_per_class",
    "bit_identical_models",
    "max_abs_diff",
]


def markdown(payload: dict) -> str:
    size = payload["sizes"]
    rows = payload["rows"]
    sources = "; ".join(f"{r['arch']}: {r['form']} ({r['form_source']})" for r in rows)
    return bc.report(
        f"Models axis vs per-class path ({len(size['classes'])} classes x {len(size['seeds'])} "
        f"seeds of digits, batch {size['batch']}, median of {size['repeats']} interleaved "
        "samples of whole train commands)",
        payload,
        "The machine is shared with other work: absolute rates vary with its load; the "
        "ratios, from interleaved samples, are what counts.",
        f"Forms (``runs.forms.choose_form``): {sources}. resnet64 is not measured: it trains "
        "on folder datasets only, which hold one class, so it has no (class, seed) axis to "
        "set against the per-class path.",
        "Columns: model-steps/s of whole train commands (data, compilation, checkpoints, "
        "sample grids); `uncompiled_over_per_class` the ratio once the compile seconds are "
        "taken out; `compiles_*` XLA compilations in the last sample; `bit_identical_models` "
        "the models whose final states are equal bit for bit between the paths.",
        bc.markdown_table(rows, COLUMNS),
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    bc.add_common_args(p, "bench_models_axis")
    p.add_argument("--archs", default=",".join(ARCHS))
    p.add_argument("--tiny", action="store_true", help="the same as --quick: a smoke run (tests)")
    args = p.parse_args(argv)
    args.no_torch = True
    args.quick = args.quick or args.tiny
    archs = bc.csv_list(args.archs, ARCHS, "arch")
    size = {**SIZES["tiny" if args.quick else "full"]}
    if not args.quick and "--repeats" in " ".join(argv or sys.argv[1:]):
        size["repeats"] = args.repeats
    load, torch, info, peak = bc.start(args)
    rows = []
    work = Path(tempfile.mkdtemp(prefix="bench_models_axis_"))
    try:
        for arch in archs:
            rows.append(measure(arch, size, work))
            print(bc.row_line(rows[-1], COLUMNS), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    payload = {
        **bc.payload_head("bench_models_axis", args, load, torch, info, peak),
        "torch_note": None,  # JAX against JAX: no PyTorch rows by design
        "command": "python -m experiments.bench_models_axis " + " ".join(argv or sys.argv[1:]),
        "sizes": {**size, "classes": list(size["classes"]), "seeds": list(size["seeds"])},
        "rows": rows,
    }
    name = f"bench_models_axis_{jax.default_backend()}"
    stem = bc.out_stem(args.out, name, args.quick)
    json_path, _ = bc.write_results(stem, payload, markdown(payload))
    print(f"results in {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
