"""Is a calibrated kappa steadier than kappa = 1 over encoder training lengths?

Trains the izi_f encoder of one GAN run and scores f-AnoGAN after several training lengths,
reporting the AUROC of A (img_mse + 1 x feat_mse) and of A_cal (each term divided by its mean
on normal training images) at each, plus the ratio of the two terms' means (the scale drift
that makes a fixed kappa weigh the feature term differently at every length).

    python -m experiments.kappa_stability --run runs/studies/mnist_one_class_normal/class_0/seed_0
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from anogan_jax.files import atomic_write_text, write_json
from anogan_jax.runs.config import EncoderConfig, ScoreConfig
from anogan_jax.runs.encoder_run import encoder_dir, train_encoder
from anogan_jax.runs.scoring import score_run
from experiments.bench_common import markdown_table

COLUMNS = ["encoder_steps", "auroc_kappa1", "auroc_calibrated", "auroc_img_only",
           "auroc_feat_only", "feat_to_img_ratio"]  # fmt: skip


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--run", required=True)
    p.add_argument("--lengths", default="50,200,800,3200", help="encoder steps to score at")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--out", default="experiments/results/kappa_stability")
    args = p.parse_args(argv)
    lengths = [int(x) for x in args.lengths.split(",")]
    run, out = Path(args.run), Path(args.out)
    work = run.parent / f"{run.name}_kappa"  # a copy, so the study's own encoder is untouched
    if not work.exists():
        shutil.copytree(run, work, ignore=shutil.ignore_patterns("encoder_*", "scores"))
    rows = []
    config = EncoderConfig(mode="izi_f", lr=args.lr, checkpoint_every=max(lengths))
    for steps in lengths:
        train_encoder(work, dataclasses.replace(config, steps=steps), resume=True, progress=False)
        score = ScoreConfig(method="fanogan", batch_size=500, val_images=0)
        report = score_run(work, work / f"fanogan_{steps}", score, overwrite=True, progress=False)
        img, feat = _term_means(work / f"fanogan_{steps}")
        rows.append(
            {
                "encoder_steps": steps,
                "auroc_kappa1": report["scores"]["A"]["auroc"],
                "auroc_calibrated": report["scores"]["A_cal"]["auroc"],
                "auroc_img_only": report["scores"]["img_mse"]["auroc"],
                "auroc_feat_only": report["scores"]["feat_mse"]["auroc"],
                "feat_to_img_ratio": feat / img,
            }
        )
        print(json.dumps(rows[-1]))
    write_json(out / "kappa_stability.json", {"run": str(run), "rows": rows})
    atomic_write_text(out / "kappa_stability.md", _table(run, rows))
    shutil.copy(encoder_dir(work, "izi_f") / "loss_curve.png", out / "encoder_loss_curve.png")
    return 0


def _term_means(folder: Path):
    lines = (folder / "scores.csv").read_text().splitlines()
    header = lines[0].split(",")
    body = [r.split(",") for r in lines[1:] if r.split(",")[1] == "test"]
    normal = [r for r in body if r[2] == "0"]
    i, f = header.index("img_mse"), header.index("feat_mse")
    return np.mean([float(r[i]) for r in normal]), np.mean([float(r[f]) for r in normal])


def _table(run, rows) -> str:
    a1 = [r["auroc_kappa1"] for r in rows]
    ac = [r["auroc_calibrated"] for r in rows]
    lines = [
        "# Calibrated kappa vs kappa = 1 over encoder training lengths",
        "",
        f"GAN run: `{run}` (its izi_f encoder retrained from scratch in a copy). AUROC on the "
        "full test set of A (kappa = 1), A_cal, img_mse and feat_mse alone; feat_to_img_ratio: "
        "mean feat_mse / mean img_mse on the normal test images.",
        "",
        markdown_table(rows, COLUMNS, digits=4),
        "",
        f"Spread (max - min) of AUROC over the lengths: kappa=1 {max(a1) - min(a1):.4f}, "
        f"calibrated {max(ac) - min(ac):.4f}.",
        "",
        "Command: `python -m experiments.kappa_stability --run " + str(run) + "`",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
