"""The ``anogan-jax`` command: parses arguments, calls the library, writes artefacts.

User errors (bad names, missing folders, bad checkpoints, non-finite training) print one
``error:`` line and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import sys

from anogan_jax.errors import UserError


def _add_train(sub) -> None:
    from anogan_jax.runner import RunConfig

    d = RunConfig()
    p = sub.add_parser("train", help="train a GAN on one class (resumable)")
    p.add_argument("--dataset", default=d.dataset, help="digits (embedded) | mnist | fashion_mnist")
    p.add_argument("--protocol", default=d.protocol, help="one_class_normal | one_class_anomalous")
    p.add_argument("--class", dest="cls", type=int, default=d.cls, help="the one class (0-9)")
    p.add_argument("--arch", default=d.arch, help="dcgan28 | dcgan28_light | mlp")
    p.add_argument(
        "--objective", default=d.objective, help="minimax|non_saturating|wgan_gp|lsgan|hinge"
    )
    p.add_argument("--latent-dim", type=int, default=d.latent_dim)
    p.add_argument("--prior", default=d.prior, help="normal | uniform (on [-1, 1])")
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--g-lr", type=float, default=None, help="generator learning rate")
    p.add_argument("--d-lr", type=float, default=None, help="critic learning rate (TTUR)")
    p.add_argument("--n-critic", type=int, default=None, help="critic updates per step")
    p.add_argument("--update", default=d.update, help="alternating | merged")
    p.add_argument("--val-fraction", type=float, default=d.val_fraction)
    p.add_argument("--gcn", action="store_true", help="Deep SVDD GCN + min-max preprocessing")
    p.add_argument("--conv-impl", default=d.conv_impl, help="auto | lax | patches | subpixel")
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every)
    p.add_argument("--keep", type=int, default=d.keep, help="checkpoints kept")
    p.add_argument("--sample-every", type=int, default=d.sample_every)
    p.add_argument("--log-every", type=int, default=d.log_every)
    _add_common(p)


def _add_common(p) -> None:
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--data-dir", default=None, help="tfds data folder (else $TFDS_DATA_DIR)")
    p.add_argument("--resume", action="store_true", help="continue the results in --out")
    p.add_argument("--overwrite", action="store_true", help="replace the results in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _run_train(args) -> int:
    from anogan_jax.runner import RunConfig, train_gan

    fields = {f for f in RunConfig.__dataclass_fields__}
    config = RunConfig(**{k: v for k, v in vars(args).items() if k in fields})
    state = train_gan(
        config,
        args.out,
        resume=args.resume,
        overwrite=args.overwrite,
        data_dir=args.data_dir,
        progress=not args.quiet,
    )
    print(f"trained to step {int(state.step)}; results in {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anogan-jax", description="GAN-based anomaly detection (AnoGAN, f-AnoGAN) in JAX"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    return parser


COMMANDS = {"train": _run_train}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun with --resume to continue", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
