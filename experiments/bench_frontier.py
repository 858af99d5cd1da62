"""Quiet throughput of a study's frontier methods: the x axis of its quality-cost plot.

    .venv/bin/python -m experiments.bench_frontier \\
        experiments/configs/mnist_one_class_normal_fanogan_mlp.py

A study's cell timings are wall time on a machine shared with other work, compile and the
threshold's validation images included, so its images/s are indicative only. This script loads
one trained run of the study (``<runs>/class_<c>/seed_<s>``, default the first class and seed
that are trained), builds each method of ``study.frontier`` exactly as the study scores it
(same ``ScoreConfig``: steps, batch size, row block), and times one full batch of test images
per call: compile apart, interleaved samples, the median kept (``bench_common`` rules). The
figure is images per second of ONE model, steady state. It writes
``experiments/results/<study>/frontier_speed.{json,md}``; the study's report uses those rates
for its frontier when the file is there (``study_numbers.frontier_points``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from anogan_jax.latent_search import pad_batch
from anogan_jax.runs.checkpoint import latest_step
from anogan_jax.runs.encoder_run import encoder_dir
from anogan_jax.runs.gan import load_data
from anogan_jax.runs.models import load_gan
from anogan_jax.runs.predict import Scorer
from anogan_jax.studies.layout import FRONTIER_SPEED, default_runs, seed_run
from experiments import bench_common as bc
from experiments.run_study import ROOT, load_config


def trained_run(study, runs: Path, cls: int | None, seed: int | None) -> Path:
    """The run folder to time: the given class/seed, else the first trained one."""
    classes = [cls] if cls is not None else list(study.classes)
    seeds = [seed] if seed is not None else list(study.seeds)
    for c in classes:
        for s in seeds:
            run = seed_run(runs, c, s)
            done = (latest_step(run / "checkpoints") or 0) >= study.run.steps
            if study.needs_encoder():
                done = done and (encoder_dir(run, study.encoder.mode) / "summary.json").exists()
            if done:
                return run
    raise SystemExit(
        f"no trained run of {study.name} under {runs} (class {classes}, seed {seeds}): run the "
        "study first, or give --runs / --class / --seed of a finished run"
    )


def programs(study, run: Path, data_dir) -> tuple[dict, dict]:
    """name -> (batch_fn, (images, indices)) for each frontier method, and name -> batch size."""
    run_config, models, state = load_gan(run)
    data = load_data(run_config, data_dir, run=run)
    loaded = (run_config, models, state, data)
    methods = {m.name: m for m in study.methods}
    progs, sizes = {}, {}
    for name in study.frontier:
        config = methods[name].score
        scorer = Scorer(run, config, loaded=loaded)
        n = min(config.batch_size, len(data.test))
        size = -(-config.batch_size // config.micro_batch) * config.micro_batch
        images, indices, _ = pad_batch(data.test[:n], np.arange(n, dtype=np.int64), size)
        progs[name] = (scorer.batch_fn, (images, indices))
        sizes[name] = n
    return progs, sizes


def measure(study, run: Path, data_dir, repeats: int, min_seconds: float) -> list[dict]:
    """One row per frontier method: images/s of one batch (median of interleaved samples)."""
    progs, sizes = programs(study, run, data_dir)
    times = bc.time_interleaved(progs, repeats, min_seconds, stat=None)
    return [
        {
            "method": name,
            "batch_size": sizes[name],
            "images_per_s": sizes[name] / t["median_s"],
            "seconds_per_batch": t["median_s"],
            "first_call_s": t["first_call_s"],
            "samples_s": t["samples_s"],
        }
        for name, t in times.items()
    ]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("config", help="a study config (a Python file defining STUDY)")
    p.add_argument("--runs", default=None, help="default runs/studies/<study>")
    p.add_argument("--results", default=None, help="default experiments/results/<study>")
    p.add_argument("--class", dest="cls", type=int, default=None, help="class of the run timed")
    p.add_argument("--seed", type=int, default=None, help="seed of the run timed")
    p.add_argument("--data-dir", default=None, help="tfds data folder (else $TFDS_DATA_DIR)")
    p.add_argument("--min-seconds", type=float, default=2.0, help="least time per sample")
    bc.add_common_args(p, "frontier_speed")
    args = p.parse_args(argv)
    args.no_torch = True
    study = load_config(args.config)
    if not study.frontier:
        raise SystemExit(f"{study.name} has no frontier methods (Study.frontier is empty)")
    runs = Path(args.runs or default_runs(ROOT, study.name))
    run = trained_run(study, runs, args.cls, args.seed)
    repeats, min_s = (2, 0.2) if args.quick else (args.repeats, args.min_seconds)
    load, torch, info, peak = bc.start(args)
    rows = measure(study, run, args.data_dir, repeats, min_s)
    for row in rows:
        print(bc.row_line(row, ["method", "batch_size", "images_per_s"]), flush=True)
    payload = {
        **bc.payload_head("frontier_speed", args, load, torch, info, peak),
        "torch_note": None,
        "study": study.name,
        "run": str(run.relative_to(runs)),
        "repeats": repeats,
        "min_seconds": min_s,
        "rows": rows,
    }
    text = bc.report(
        f"{study.name}: throughput of the frontier methods (one model, steady state)",
        payload,
        f"Run timed: `{payload['run']}`; each call scores one batch of test images with the "
        "method's own settings (compile apart; median of interleaved samples).",
        bc.markdown_table(rows, ["method", "batch_size", "images_per_s", "first_call_s"]),
    )
    results = Path(args.results or bc.RESULTS_DIR / study.name)
    stem = bc.out_stem(args.out, "", False) if args.out else results / FRONTIER_SPEED
    if args.quick and not args.out:
        stem = stem.with_name(stem.name + "_quick")
    json_path, md_path = bc.write_results(stem, payload, text)
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
