"""Which update trains the better generator? `alternating` against `reuse`, judged on normal
data only: FID / KID of samples against the run's NORMAL validation images (the in-project
classifier's features, `train --fid-every`), never a test label.

    .venv/bin/anogan-jax train-classifier --dataset mnist        # once (the FID features)
    .venv/bin/python -m experiments.compare_updates              # dcgan28_light and mlp, class 3
    .venv/bin/python -m experiments.compare_updates --quick      # a smoke run

Every (arch, class, update, seed) is one ordinary `train` run under ``--runs`` (resumed or
skipped on a rerun). FID is logged every ``--fid-every`` steps; the report compares the final
and the best FID, mean ± standard error over seeds, and draws FID against steps and against
training seconds (reuse does less work per step, so equal time is the fair comparison; the
seconds are each run's logged steps/s, not counting the FID probes).
Results: ``experiments/results/compare_updates.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from anogan_jax import cli
from anogan_jax.files import atomic_write_text, read_jsonl, write_json
from anogan_jax.runs import plotting
from experiments import bench_common as bc

RESULTS = Path(__file__).resolve().parent / "results"


def train_one(out: Path, arch: str, cls: int, update: str, seed: int, args) -> None:
    """Trains (or resumes, or skips when finished) one run with the FID probe."""
    fid = read_jsonl(out / "fid.jsonl")
    if fid and fid[-1]["step"] >= args.steps:
        return
    argv = ["train", "--dataset", args.dataset, "--class", str(cls), "--arch", arch,
            "--objective", "non_saturating", "--update", update, "--seed", str(seed),
            "--steps", str(args.steps), "--fid-every", str(args.fid_every),
            "--checkpoint-every", str(args.fid_every), "--sample-every", str(args.steps),
            "--out", str(out), "--quiet"]  # fmt: skip
    if args.data_dir:
        argv += ["--data-dir", args.data_dir]
    if args.classifier_dir:
        argv += ["--classifier-dir", args.classifier_dir]
    if (out / "config.json").exists():
        argv.append("--resume")
    if cli.main(argv) != 0:
        raise SystemExit(f"training {out} failed; see the message above")


def summarise(out: Path) -> dict:
    fid = read_jsonl(out / "fid.jsonl")
    rates = [r["steps_per_s"] for r in read_jsonl(out / "metrics.jsonl")]
    rate = statistics.median(rates)
    return {
        "steps": [r["step"] for r in fid],
        "fid": [r["fid"] for r in fid],
        "kid": [r["kid"] for r in fid],
        "steps_per_s": rate,
        "seconds": [r["step"] / rate for r in fid],
    }


def _mean_se(values: list[float]) -> tuple[float, float]:
    se = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else float("nan")
    return statistics.fmean(values), se


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--archs", default="dcgan28_light,mlp")
    p.add_argument("--classes", default="3")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--updates", default="alternating,reuse")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--fid-every", type=int, default=250)
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--classifier-dir", default=None, help="default: train's default")
    p.add_argument("--runs", default="runs/compare_updates")
    p.add_argument("--out", default=None, help="results stem (default experiments/results/...)")
    p.add_argument("--quick", action="store_true", help="smoke run: 40 steps, one seed")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.fid_every, args.seeds = 40, 20, args.seeds.split(",")[0]
    archs = args.archs.split(",")
    classes = [int(c) for c in args.classes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    updates = args.updates.split(",")
    stem = (
        Path(args.out)
        if args.out
        else RESULTS / ("compare_updates_quick" if args.quick else "compare_updates")
    )
    runs, rows, panels = {}, [], []
    for arch in archs:
        for cls in classes:
            series_step, series_time = {}, {}
            for update in updates:
                summaries = []
                for seed in seeds:
                    out = Path(args.runs) / arch / f"class_{cls}" / update / f"seed_{seed}"
                    print(f"{arch} class {cls} {update} seed {seed}", flush=True)
                    train_one(out, arch, cls, update, seed, args)
                    summaries.append(summarise(out))
                runs[f"{arch}/class_{cls}/{update}"] = summaries
                final = _mean_se([s["fid"][-1] for s in summaries])
                best = _mean_se([min(s["fid"]) for s in summaries])
                kid = _mean_se([s["kid"][-1] for s in summaries])
                rows.append({
                    "arch": arch, "class": cls, "update": update, "seeds": len(seeds),
                    "final_fid": f"{final[0]:.2f} ± {final[1]:.2f}",
                    "best_fid": f"{best[0]:.2f} ± {best[1]:.2f}",
                    "final_kid": f"{kid[0]:.3g} ± {kid[1]:.2g}",
                    "steps_per_s": round(statistics.fmean(s["steps_per_s"] for s in summaries), 2),
                })  # fmt: skip
                series_step[update] = [(s["steps"], s["fid"]) for s in summaries]
                series_time[update] = [(s["seconds"], s["fid"]) for s in summaries]
            panels.append((f"{arch}, class {cls}", "generator steps", series_step))
            panels.append(
                (f"{arch}, class {cls}", "training seconds (logged steps/s)", series_time)
            )
    machine = bc.machine_info()
    payload = {
        "command": "python -m experiments.compare_updates " + " ".join(argv or sys.argv[1:]),
        "machine": machine,
        "settings": {k: getattr(args, k) for k in ("steps", "fid_every", "dataset")},
        "rows": rows,
        "runs": runs,
    }
    write_json(stem.with_suffix(".json"), payload)
    plotting.curve_panels(
        stem.with_suffix(".png"),
        panels,
        ylabel="FID (log scale)",
        logy=True,
        title="alternating vs reuse: FID against the normal validation images (lower is better)",
    )
    columns = ["arch", "class", "update", "seeds", "final_fid", "best_fid", "final_kid",
               "steps_per_s"]  # fmt: skip
    text = (
        "# Which update trains the better generator (non-saturating, label-free)\n\n"
        f"`{payload['command']}`, {args.steps} generator steps, FID every {args.fid_every} on "
        "the class's NORMAL validation images (1,000 samples, the in-project classifier's "
        "features); ± is the standard error over seeds. steps/s are logged training rates "
        "with the FID probes running beside them, on a machine shared with background studies: "
        "compare them within a row pair, not with the benchmarks.\n\n"
        f"{bc.markdown_table(rows, columns)}\n\n![FID curves]({stem.with_suffix('.png').name})\n"
    )
    atomic_write_text(stem.with_suffix(".md"), text)
    print(f"results in {stem.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
