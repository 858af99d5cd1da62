"""The ``anogan-jax`` command: parses arguments (``cli_parser``, where options are "not given"
unless set, for ``--resume``), calls ``runs/``, prints where results went. User errors print
one ``error:`` line and exit with status 2, without a traceback.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import sys
from pathlib import Path

import jax

from anogan_jax import hosts
from anogan_jax.cli_parser import build_parser, given_fields
from anogan_jax.devices import DeviceError, initialize_distributed
from anogan_jax.errors import UserError
from anogan_jax.files import WriteError
from anogan_jax.models import ARCHS
from anogan_jax.ops import xla_cpu
from anogan_jax.runs.classifier import classifier_dir, train_classifier
from anogan_jax.runs.config import ClassifierConfig, EncoderConfig, RunConfig, ScoreConfig
from anogan_jax.runs.encoder_run import encoder_dir, train_encoder
from anogan_jax.runs.evaluate import evaluate_run
from anogan_jax.runs.export import export_run
from anogan_jax.runs.folders import seed_dir, settings_for
from anogan_jax.runs.gan import checked_config, train_gan
from anogan_jax.runs.predict import predict
from anogan_jax.runs.scoring import score_run
from anogan_jax.runs.seeds import parse_seeds
from anogan_jax.runs.textures import make_texture_folder


def _devices(args):
    if args.devices != "all" and (not args.devices.isdigit() or int(args.devices) < 1):
        raise DeviceError(f"--devices {args.devices!r}: give a positive number or 'all'")
    if args.coordinator:
        if getattr(args, "fid_every", 0):
            raise DeviceError(
                "--fid-every is not supported in a multi-host run (--coordinator): train "
                "without it, then run `anogan-jax evaluate` on the run folder"
            )
        initialize_distributed(args.coordinator, args.num_processes, args.process_id)
        if args.devices != "all" and int(args.devices) != jax.device_count():
            # A mesh of the first N devices leaves some processes without a device of it.
            raise DeviceError(
                f"--devices {args.devices} with --coordinator: a multi-host run uses the "
                f"devices of all {args.num_processes} processes ({jax.device_count()} in all); "
                "give --devices all"
            )
    elif args.num_processes != 1 or args.process_id != 0:
        raise DeviceError(
            "--num-processes and --process-id belong to a multi-host run: give --coordinator "
            "host:port of process 0 as well, or drop them"
        )
    return "all" if args.devices == "all" else int(args.devices)


def _io(args) -> dict:
    """The keyword arguments of the options added by ``_add_io``."""
    return dict(
        resume=args.resume,
        overwrite=args.overwrite,
        data_dir=args.data_dir,
        progress=not args.quiet,
    )


def _seeds(args, refused: dict) -> list[int] | None:
    """The parsed --seeds (None without it). ``refused``: option -> whether it was given;
    options a multi-seed run does not honour are refused, not ignored. (``train``'s --seed is
    the run's seed and is refused with --seeds; ``score``'s and ``train-encoder``'s --seed seed
    their own draws, the same for every seed, and go with it.)"""
    if args.seeds is None:
        return None
    seeds = parse_seeds(args.seeds)
    given = [name for name, on in refused.items() if on]
    if given:
        raise DeviceError(
            f"--seeds runs on one device, all seeds in one program, and does not support "
            f"{', '.join(given)}; drop {'it' if len(given) == 1 else 'them'}, or run each seed "
            "alone with --seed"
        )
    if args.command == "train" and "seed" in vars(args):
        raise UserError("--seed and --seeds exclude each other; give one of them")
    return seeds


def _multi_refused(args) -> dict:
    return {
        "--devices": args.devices != "1",
        "--coordinator": bool(args.coordinator),
        "--fid-every": bool(getattr(args, "fid_every", 0)),
        "--classifier-dir": bool(getattr(args, "classifier_dir", None)),
    }


def _saved_seeds_of(path: Path) -> list | None:
    """The seeds a multi-seed score folder's score_config.json records (None if it is not
    one, or cannot be read: the usual checks then name the problem)."""
    try:
        seeds = json.loads(path.read_text()).get("seeds")
    except (OSError, ValueError, AttributeError):
        return None
    return seeds if isinstance(seeds, list) else None


def _saved_seed(root, seeds: list[int], name: str) -> int:
    """The first of ``seeds`` whose folder under ``root`` holds ``name`` (a resume takes its
    settings from there: a seed not yet started has none), else the first seed."""
    return next((s for s in seeds if (seed_dir(root, s) / name).exists()), seeds[0])


def _run_train(args) -> int:
    seeds = _seeds(args, _multi_refused(args))
    given = given_fields(RunConfig, args)
    saved = Path(args.out) / "config.json"
    if seeds is not None:
        first = _saved_seed(args.out, seeds, "config.json")
        saved = seed_dir(args.out, first) / "config.json"
        given["seed"] = first
    config = settings_for(RunConfig, saved, given, resume=args.resume)
    if "arch" not in given and not (args.resume and saved.exists()):
        side = checked_config(config).default_side  # a bad setting is named first
        print(
            f"arch {config.arch}: the first of {', '.join(ARCHS)} built for {side}x{side} "
            "images (--arch picks another)"
        )
    fit = {"fit_batch": "batch_size" not in given, "accept_new_data": args.accept_new_data}
    if seeds is not None:
        train_gan(config, args.out, seeds=seeds, **_io(args), **fit)
        print(f"trained seeds {seeds}; results in {args.out}/seed_<s>")
        return 0
    state = train_gan(
        config,
        args.out,
        **_io(args),
        devices=_devices(args),
        fid_every=args.fid_every,
        classifier_root=args.classifier_dir,
        **fit,
    )
    print(f"trained to step {int(state.step)}; results in {args.out}")
    return 0


def _run_score(args) -> int:
    seeds = _seeds(args, _multi_refused(args))
    if seeds is None:
        out = Path(args.out)
        multi = _saved_seeds_of(out / "score_config.json") if args.resume else None
        if multi is not None:
            raise UserError(
                f"{out} holds a score of several seeds; resume it with --seeds "
                f"{','.join(map(str, multi))} and the --run it scored (the root of seed_<s>)"
            )
    else:
        out = seed_dir(args.out, _saved_seed(args.out, seeds, "score_config.json"))
    given = given_fields(ScoreConfig, args)
    config = settings_for(ScoreConfig, out / "score_config.json", given, resume=args.resume)
    accept = {"accept_new_data": args.accept_new_data}
    if seeds is not None:
        reports = score_run(args.run, args.out, config, **_io(args), seeds=seeds, **accept)
        for s, report in zip(seeds, reports, strict=True):
            print(f"seed {s}: AUROC {_aurocs(report)}")
        print(f"results in {args.out}/seed_<s>")
        return 0
    report = score_run(args.run, args.out, config, **_io(args), devices=_devices(args), **accept)
    pixel = report.get("pixel")
    if pixel and pixel["auroc"] is not None:
        print(f"pixel AUROC {pixel['auroc']:.4f}, AUPRO (FPR <= 0.3) {pixel['aupro']:.4f}")
    print(f"AUROC: {_aurocs(report)}; results in {args.out}")
    return 0


def _run_predict(args) -> int:
    rows = predict(
        args.run,
        args.images,
        args.out,
        method=args.predict_method,
        fpr=args.fpr,
        settings=given_fields(ScoreConfig, args),
        overwrite=args.overwrite,
        data_dir=args.data_dir,
        progress=not args.quiet,
    )
    flagged = sum(r["anomalous"] == "yes" for r in rows)
    print(f"{flagged} of {len(rows)} images anomalous; results in {args.out}/predictions.csv")
    return 0


def _run_export(args) -> int:
    record = export_run(
        args.run,
        args.out,
        fpr=args.fpr,
        settings=given_fields(ScoreConfig, args),
        overwrite=args.overwrite,
        data_dir=args.data_dir,
        progress=not args.quiet,
    )
    names = ", ".join(record["functions"])
    print(f"exported {names} to {args.out} (see scorer.json)")
    return 0


def _run_make_textures(args) -> int:
    counts = make_texture_folder(args.out, channels=args.channels, size=args.size, seed=args.seed)
    print(f"wrote {counts} to {args.out}")
    return 0


def _aurocs(report: dict) -> str:
    def shown(v):
        return "n/a" if v["auroc"] is None else f"{v['auroc']:.4f}"

    return ", ".join(f"{k} {shown(v)}" for k, v in report["scores"].items())


def _run_train_encoder(args) -> int:
    args.devices, args.coordinator = "1", None
    seeds = _seeds(args, {})
    given = given_fields(EncoderConfig, args)
    mode = given.get("mode", EncoderConfig.mode)
    run = Path(args.run)
    if seeds is not None:
        saved_name = f"{encoder_dir(Path(), mode)}/encoder_config.json"
        run = seed_dir(args.run, _saved_seed(args.run, seeds, saved_name))
    saved = encoder_dir(run, mode) / "encoder_config.json"
    config = settings_for(EncoderConfig, saved, given, resume=args.resume)
    fit = {"fit_batch": "batch_size" not in given}
    if seeds is not None:
        states = train_encoder(args.run, config, seeds=seeds, **_io(args), **fit)
        print(
            f"encoders of seeds {seeds} trained to step {int(states[0].step)}; in "
            f"{args.run}/seed_<s>/encoder_{config.mode}"
        )
        return 0
    state = train_encoder(args.run, config, **_io(args), **fit)
    print(f"encoder trained to step {int(state.step)}; in {encoder_dir(args.run, config.mode)}")
    return 0


def _run_train_classifier(args) -> int:
    given = given_fields(ClassifierConfig, args)
    dataset = given.get("dataset", ClassifierConfig.dataset)
    saved = classifier_dir(dataset, args.classifier_dir) / "config.json"
    config = settings_for(ClassifierConfig, saved, given, resume=args.resume)
    settings = dataclasses.asdict(config)
    c = train_classifier(settings.pop("dataset"), args.classifier_dir, **settings, **_io(args))
    where = classifier_dir(config.dataset, args.classifier_dir)
    print(f"test accuracy {c.info['test_accuracy']:.4f}; in {where}")
    return 0


def _run_evaluate(args) -> int:
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


COMMANDS = {
    "train": _run_train,
    "score": _run_score,
    "train-encoder": _run_train_encoder,
    "train-classifier": _run_train_classifier,
    "evaluate": _run_evaluate,
    "predict": _run_predict,
    "export": _run_export,
    "make-textures": _run_make_textures,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    finally:
        hosts.leave()  # a multi-host run's processes leave together, or after its timeout


def _run(args) -> int:
    """Runs the command; a user error is one ``error:`` line (status 2), published to the
    other processes of a multi-host run (``hosts.fail``) so that they stop too."""
    try:
        xla_cpu.conv_engine()  # a mistyped setting is named before anything runs
        return COMMANDS[args.command](args)
    except hosts.HostError as err:  # another process failed and published its error
        print(f"error: {err}", file=sys.stderr)
        return 2
    except WriteError as err:
        return _error(f"{err}; {_after_write_error(args)}")
    except UserError as err:
        return _error(str(err))
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT):
            hosts.fail(f"{type(err).__name__}: {err}")
            raise
        where = f" {err.filename}" if err.filename else ""
        message = f"could not write{where}: {err.strerror}; {_after_write_error(args)}"
        return _error(message)
    except KeyboardInterrupt:
        hosts.fail("interrupted")
        print(f"interrupted; {_after_interrupt(args)}", file=sys.stderr)
        return 130
    except BaseException as err:
        hosts.fail(f"{type(err).__name__}: {str(err)[:300]}")
        raise


def _error(message: str) -> int:
    hosts.fail(message)
    print(f"error: {message}", file=sys.stderr)
    return 2


def _after_write_error(args) -> str:
    return (
        "what was written before is intact: make room (or fix the permissions), then "
        f"{_after_interrupt(args)}"
    )


def _after_interrupt(args) -> str:
    """What to do after Ctrl-C: continue (the commands that take --resume), or redo (those
    that write results but cannot continue them: their folder says it is unfinished)."""
    if "resume" in vars(args):
        return "rerun with --resume to continue"
    if "overwrite" in vars(args):
        return f"{args.out} is unfinished: rerun with --overwrite to redo it"
    return "run the command again"


if __name__ == "__main__":
    sys.exit(main())
