"""``make demo``: train a small GAN on the embedded digits (class 0 normal), then score it.

Runs on a CPU and needs no download.
"""

from __future__ import annotations

import argparse
import sys

from anogan_jax.runs.config import RunConfig, ScoreConfig
from anogan_jax.runs.gan import train_gan
from anogan_jax.runs.scoring import score_run

SEARCH = ScoreConfig(method="anogan", num_steps=100, batch_size=64, limit=300, val_images=64)
DEMO = RunConfig(
    dataset="digits",
    cls=0,
    arch="dcgan28_light",
    objective="non_saturating",
    steps=400,
    batch_size=64,
    checkpoint_every=100,
    sample_every=100,
    log_every=25,
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="runs/demo")
    parser.add_argument("--steps", type=int, default=DEMO.steps)
    args = parser.parse_args(argv)
    config = RunConfig(**{**DEMO.__dict__, "steps": args.steps})
    train_gan(config, args.out, resume=True)
    report = score_run(args.out, f"{args.out}/anogan", SEARCH, resume=True)
    a = report["scores"]["A"]
    print(
        f"demo: AnoGAN on digits (class 0 normal, {report['num_test']} test images, "
        f"{SEARCH.num_steps}-step search): AUROC {a['auroc']:.4f}, AUPRC {a['auprc']:.4f}\n"
        f"samples: {args.out}/samples  loss curve: {args.out}/loss_curve.png  "
        f"scores and plots: {args.out}/anogan"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
