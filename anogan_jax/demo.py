"""``make demo``: train a small GAN on the embedded digits (class 0 normal), then score it.

Runs on a 2-core laptop CPU in a few minutes and needs no download.
"""

from __future__ import annotations

import argparse
import sys

from anogan_jax.runner import RunConfig, train_gan

DEMO = RunConfig(
    dataset="digits",
    cls=0,
    arch="dcgan28_light",
    objective="non_saturating",
    steps=600,
    batch_size=64,
    checkpoint_every=200,
    sample_every=200,
    log_every=25,
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="runs/demo")
    parser.add_argument("--steps", type=int, default=DEMO.steps)
    args = parser.parse_args(argv)
    config = RunConfig(**{**DEMO.__dict__, "steps": args.steps})
    train_gan(config, args.out, resume=True)
    print(f"demo: samples in {args.out}/samples, loss curve in {args.out}/loss_curve.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
