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
    p.add_argument(
        "--seeds",
        default=None,
        help="train several seeds in one vmapped program, e.g. 0,1,2 (results in <out>/seed_<s>/)",
    )
    p.add_argument("--g-lr", type=float, default=None, help="generator learning rate")
    p.add_argument("--d-lr", type=float, default=None, help="critic learning rate (TTUR)")
    p.add_argument("--n-critic", type=int, default=None, help="critic updates per step")
    p.add_argument("--update", default=d.update, help="alternating | merged")
    p.add_argument("--val-fraction", type=float, default=d.val_fraction)
    p.add_argument("--gcn", action="store_true", help="Deep SVDD GCN + min-max preprocessing")
    p.add_argument("--conv-impl", default=d.conv_impl, help="convolution formulation (auto)")
    p.add_argument("--compute-dtype", default=d.compute_dtype, help="float32 | bfloat16")
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every)
    p.add_argument("--keep", type=int, default=d.keep, help="checkpoints kept")
    p.add_argument("--sample-every", type=int, default=d.sample_every)
    p.add_argument("--log-every", type=int, default=d.log_every)
    p.add_argument(
        "--fid-every",
        type=int,
        default=0,
        help="log FID/KID on normal validation data every N "
        "steps and keep the best checkpoint (needs train-classifier)",
    )
    p.add_argument("--classifier-dir", default=None, help="root of the trained classifiers")
    _add_common(p)


def _add_devices(p) -> None:
    p.add_argument("--devices", default="1", help="number of devices to split batches over, or all")
    p.add_argument("--coordinator", default=None, help="multi-host: host:port of process 0")
    p.add_argument("--num-processes", type=int, default=1, help="multi-host: process count")
    p.add_argument("--process-id", type=int, default=0, help="multi-host: this process")


def _devices(args):
    if args.coordinator:
        from anogan_jax.devices import initialize_distributed

        initialize_distributed(args.coordinator, args.num_processes, args.process_id)
    if args.devices == "all":
        return "all"
    if not args.devices.isdigit():
        from anogan_jax.devices import DeviceError

        raise DeviceError(f"--devices {args.devices!r}: give a positive number or 'all'")
    return int(args.devices)


def _add_common(p) -> None:
    _add_devices(p)
    p.add_argument("--out", required=True, help="output folder")
    _add_io(p, "--out")


def _add_io(p, where: str) -> None:
    """The options of every command that writes results: data, resume/overwrite, quiet."""
    _add_data_dir(p)
    p.add_argument("--resume", action="store_true", help=f"continue the results in {where}")
    p.add_argument("--overwrite", action="store_true", help=f"replace the results in {where}")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _io(args) -> dict:
    """The keyword arguments of the options added by ``_add_io``."""
    return dict(
        resume=args.resume,
        overwrite=args.overwrite,
        data_dir=args.data_dir,
        progress=not args.quiet,
    )


def _config(cls, args):
    """A config dataclass from the parsed options of the same names."""
    fields = set(cls.__dataclass_fields__)
    return cls(**{k: v for k, v in vars(args).items() if k in fields})


def _add_data_dir(p) -> None:
    p.add_argument("--data-dir", default=None, help="tfds data folder (else $TFDS_DATA_DIR)")


def _run_train(args) -> int:
    from anogan_jax.runner import RunConfig, train_gan

    config = _config(RunConfig, args)
    if args.seeds:
        from anogan_jax.seeds import train_gan_seeds

        seeds = _seeds(args)
        train_gan_seeds(
            config,
            seeds,
            args.out,
            **_io(args),
        )
        print(f"trained seeds {seeds}; results in {args.out}/seed_<s>")
        return 0
    state = train_gan(
        config,
        args.out,
        **_io(args),
        devices=_devices(args),
        fid_every=args.fid_every,
        classifier_root=args.classifier_dir,
    )
    print(f"trained to step {int(state.step)}; results in {args.out}")
    return 0


def _add_score(sub) -> None:
    from anogan_jax.scoring import ScoreConfig

    d = ScoreConfig()
    p = sub.add_parser("score", help="score a run's test split (AnoGAN search or f-AnoGAN)")
    p.add_argument("--run", required=True, help="a run folder written by `train`")
    p.add_argument("--method", default=d.method, help="anogan | fanogan")
    p.add_argument("--num-steps", type=int, default=d.num_steps, help="latent search steps")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr, help="latent search Adam learning rate")
    p.add_argument("--schedule", default=d.schedule, help="constant | cosine")
    p.add_argument("--lam", type=float, default=d.lam, help="weight of the discrimination term")
    p.add_argument("--disc", default=d.disc, help="feature (matching) | logit (cross-entropy)")
    p.add_argument("--clip-to-prior", action="store_true", help="project z onto the support")
    p.add_argument("--init", default=d.init, help="prior | encoder (search from E(x))")
    p.add_argument("--kappa", default=d.kappa, help="f-AnoGAN feature weight or 'calibrated'")
    p.add_argument("--encoder", default=d.encoder, help="encoder mode to use: izi | ziz | izi_f")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--limit", type=int, default=d.limit, help="stratified test subsample")
    p.add_argument("--val-images", type=int, default=d.val_images)
    p.add_argument("--seeds", default=None, help=SEEDS_HELP + " (results in <out>/seed_<s>/)")
    _add_common(p)


SEEDS_HELP = "the seeds of a `train --seeds` run, all in one vmapped program, e.g. 0,1,2"


def _seeds(args):
    """The parsed --seeds, after checking that they go with one device."""
    from anogan_jax.seeds import parse_seeds

    seeds = parse_seeds(args.seeds)
    if getattr(args, "devices", "1") != "1":
        from anogan_jax.devices import DeviceError

        raise DeviceError(
            "--seeds runs on one device; drop --devices, or use --devices without --seeds"
        )
    return seeds


def _run_score(args) -> int:
    from anogan_jax.scoring import ScoreConfig, score_run, score_seeds

    config = _config(ScoreConfig, args)
    if args.seeds:
        seeds = _seeds(args)
        reports = score_seeds(
            args.run,
            args.out,
            config,
            seeds,
            **_io(args),
        )
        for s, report in zip(seeds, reports, strict=True):
            aurocs = ", ".join(f"{k} {v['auroc']:.4f}" for k, v in report["scores"].items())
            print(f"seed {s}: AUROC {aurocs}")
        print(f"results in {args.out}/seed_<s>")
        return 0
    report = score_run(
        args.run,
        args.out,
        config,
        **_io(args),
        devices=_devices(args),
    )
    aurocs = ", ".join(f"{k} {v['auroc']:.4f}" for k, v in report["scores"].items())
    print(f"AUROC: {aurocs}; results in {args.out}")
    return 0


def _add_train_encoder(sub) -> None:
    from anogan_jax.encoder_run import EncoderConfig

    d = EncoderConfig()
    p = sub.add_parser("train-encoder", help="train the f-AnoGAN encoder of a run (resumable)")
    p.add_argument("--run", required=True, help="a run folder written by `train`")
    p.add_argument("--mode", default=d.mode, help="izi | ziz | izi_f")
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr, help="RMSProp learning rate")
    p.add_argument("--kappa", type=float, default=d.kappa, help="izi_f feature weight")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--seeds", default=None, help=SEEDS_HELP + " (--run is their parent folder)")
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every)
    p.add_argument("--log-every", type=int, default=d.log_every)
    _add_io(p, "the encoder folder")


def _run_train_encoder(args) -> int:
    from anogan_jax.encoder_run import (
        EncoderConfig,
        encoder_dir,
        train_encoder,
        train_encoder_seeds,
    )

    config = _config(EncoderConfig, args)
    if args.seeds:
        seeds = _seeds(args)
        state = train_encoder_seeds(
            args.run,
            config,
            seeds,
            **_io(args),
        )
        print(
            f"encoders of seeds {seeds} trained to step {int(state.step[0])}; in "
            f"{args.run}/seed_<s>/encoder_{args.mode}"
        )
        return 0
    state = train_encoder(
        args.run,
        config,
        **_io(args),
    )
    print(f"encoder trained to step {int(state.step)}; in {encoder_dir(args.run, args.mode)}")
    return 0


def _add_classifier_commands(sub) -> None:
    p = sub.add_parser("train-classifier", help="train the feature network of the GAN metrics")
    p.add_argument("--dataset", default="mnist", help="digits | mnist | fashion_mnist")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--classifier-dir", default=None, help="root folder (default: the cache)")
    _add_io(p, "the classifier folder")
    p = sub.add_parser("evaluate", help="FID, KID, IS and Parzen log-likelihood of a run")
    p.add_argument("--run", required=True, help="a run folder written by `train`")
    p.add_argument("--num-samples", type=int, default=5000)
    p.add_argument("--classifier-dir", default=None, help="root of the trained classifiers")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--step", type=int, default=None, help="checkpoint step (default: last)")
    _add_data_dir(p)


def _run_train_classifier(args) -> int:
    from anogan_jax.classifier import classifier_dir, train_classifier

    c = train_classifier(
        args.dataset,
        args.classifier_dir,
        steps=args.steps,
        batch_size=args.batch_size,
        seed=args.seed,
        **_io(args),
    )
    where = classifier_dir(args.dataset, args.classifier_dir)
    print(f"test accuracy {c.info['test_accuracy']:.4f}; in {where}")
    return 0


def _run_evaluate(args) -> int:
    from anogan_jax.evaluate import evaluate_run

    r = evaluate_run(
        args.run,
        num_samples=args.num_samples,
        classifier_root=args.classifier_dir,
        data_dir=args.data_dir,
        seed=args.seed,
        step=args.step,
    )
    print(
        f"FID {r['fid']:.3f}  KID {r['kid_mean']:.4g} ± {r['kid_std']:.2g}  "
        f"IS {r['is_mean']:.3f} ± {r['is_std']:.2g}  "
        f"Parzen log-likelihood {r['parzen']['log_likelihood']:.2f} (n_val {r['num_val']})"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anogan-jax", description="GAN-based anomaly detection (AnoGAN, f-AnoGAN) in JAX"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_score(sub)
    _add_train_encoder(sub)
    _add_classifier_commands(sub)
    return parser


COMMANDS = {
    "train": _run_train,
    "score": _run_score,
    "train-encoder": _run_train_encoder,
    "train-classifier": _run_train_classifier,
    "evaluate": _run_evaluate,
}


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
