"""The ``anogan-jax`` command's options: one subcommand parser per job, built from the config
dataclasses' fields (``runs.config``), and `given_fields`, which reads back the fields a user set.

An option that sets a config field defaults to "not given" (``argparse.SUPPRESS``), its
dataclass default shown in the help and applied later, so that ``--resume`` continues a run
with its saved settings and refuses a given one that differs.
"""

from __future__ import annotations

import argparse

from anogan_jax.models import SPECS
from anogan_jax.runs.config import ClassifierConfig, EncoderConfig, RunConfig, ScoreConfig
from anogan_jax.runs.identity import ACCEPT_OPTION, ACCEPTS, NOT_ACCEPTED
from anogan_jax.runs.predict import PREDICT_METHODS
from anogan_jax.runs.provenance import version_line

SEEDS_HELP = "the seeds of a `train --seeds` run, trained together, e.g. 0,1,2"


def arch_help() -> str:
    """The ``--arch`` help, from ``models.SPECS``: each arch's sizes and what it is, in the
    order the default is chosen by."""
    listed = "; ".join(f"{s.name} ({s.sizes_text}): {s.description}" for s in SPECS)
    return (
        f"{listed}. Default: the first of these, in this order, built for the images' size "
        "(with --width, the first whose channels it sets)"
    )


def width_help() -> str:
    """The ``--width`` help, from the specs' default channel bases."""
    wide = [s for s in SPECS if s.wide]
    defaults = ", ".join(f"{s.name} {s.width}" for s in wide)
    return f"channel base of {' / '.join(s.name for s in wide)} (0: the published, {defaults})"


def latent_dim_help() -> str:
    """The ``--latent-dim`` help, from the specs' published z sizes."""
    dims = ", ".join(f"{s.name} {s.latent_dim}" for s in SPECS)
    return f"size of z (0: the arch's published, {dims})"


def _field(p, cls, name: str, help: str, *, show_default: bool = True, **kwargs) -> None:
    """An option setting the config field ``name``; its default (shown in the help unless
    ``show_default`` is False, for a default the data decides) is the dataclass's, applied
    later, so that a resumed run can tell given options apart."""
    default = getattr(cls(), name)
    flag = "--" + ("class" if name == "cls" else name.replace("_", "-"))
    if isinstance(default, bool):
        p.add_argument(flag, dest=name, action="store_true", default=argparse.SUPPRESS, help=help)
        return
    kind = kwargs.pop("type", type(default) if default is not None else str)
    shown = "" if default is None or not show_default else f" (default: {default})"
    p.add_argument(
        flag, dest=name, type=kind, default=argparse.SUPPRESS, help=help + shown, **kwargs
    )


def _add_accept(p, command: str) -> None:
    """``--accept-new-data`` of a command in ``identity.ACCEPTS``, with its help from there."""
    p.add_argument(ACCEPT_OPTION, action="store_true", help=ACCEPTS[command])


def _run_parser(sub, name: str, help: str):
    """The parser of a command that uses a trained run without ``--accept-new-data``: its
    description says why (``identity.NOT_ACCEPTED``)."""
    return sub.add_parser(
        name, help=help, description=f"{help[0].upper()}{help[1:]}. {NOT_ACCEPTED}."
    )


def given_fields(cls, args) -> dict:
    """The config fields given on the command line."""
    fields = set(cls.__dataclass_fields__)
    return {k: v for k, v in vars(args).items() if k in fields}


def _add_train(sub) -> None:
    C = RunConfig
    p = sub.add_parser("train", help="train a GAN on one class (resumable)")
    _field(
        p,
        C,
        "dataset",
        "digits (embedded) | mnist | fashion_mnist | a .npz file | folder:PATH (MVTec layout: "
        "PATH/train/good, PATH/test/<good|defect>, optional PATH/ground_truth)",
    )
    _field(p, C, "image_size", "folders: side the images are resized to (0: 64)")
    _field(p, C, "channels", "folders: 1 (grey) or 3 (RGB) (0: as stored)")
    _field(p, C, "protocol", "one_class_normal | one_class_anomalous")
    _field(p, C, "cls", "the one class (0-9): normal, or anomalous with one_class_anomalous")
    _field(p, C, "arch", arch_help(), show_default=False)
    _field(p, C, "width", width_help())
    _field(p, C, "objective", "minimax | non_saturating | wgan_gp | lsgan | hinge")
    _field(p, C, "latent_dim", latent_dim_help(), show_default=False)
    _field(p, C, "prior", "normal | uniform (on [-1, 1])")
    _field(p, C, "steps", "generator updates in total (a resumed run may raise it)")
    _field(p, C, "batch_size", "images per critic update")
    _field(p, C, "seed", "the run's seed: initialisation, data order, every random draw")
    p.add_argument(
        "--seeds",
        default=None,
        help="train several seeds together, one compile (vmapped; conv models on CPU run each "
        "seed's program in turn), e.g. 0,1,2 (results in <out>/seed_<s>/)",
    )
    _field(p, C, "g_lr", "generator learning rate (default: the objective's)", type=float)
    _field(p, C, "d_lr", "critic learning rate, TTUR (default: the objective's)", type=float)
    _field(p, C, "n_critic", "critic updates per step (default: the objective's)", type=int)
    _field(
        p,
        C,
        "update",
        "alternating | merged (one joint backward pass) | reuse (one generator "
        "forward for both updates, as the PyTorch DCGAN example)",
    )
    _field(p, C, "val_fraction", "share of the normal training images held out for validation")
    _field(p, C, "gcn", "Deep SVDD GCN + min-max preprocessing")
    _field(p, C, "conv_impl", "convolution formulation: auto | lax | im2col | tuned")
    _field(p, C, "compute_dtype", "float32 | bfloat16 (parameters stay float32)")
    _field(p, C, "checkpoint_every", "steps between checkpoints")
    _field(p, C, "keep", "checkpoints kept (>= 1)")
    _field(p, C, "sample_every", "steps between sample grids")
    _field(p, C, "log_every", "steps between metrics.jsonl records (and device syncs)")
    p.add_argument(
        "--fid-every",
        type=int,
        default=0,
        help="log FID/KID on normal validation "
        "data every N steps and keep the best checkpoint (needs train-classifier; "
        "default: 0, off)",
    )
    p.add_argument(
        "--classifier-dir",
        default=None,
        help="root of the trained classifiers "
        "(default: $ANOGAN_JAX_CLASSIFIER_DIR or ~/.cache/anogan_jax/classifiers)",
    )
    _add_accept(p, "train")
    _add_common(p)


def _add_devices(p) -> None:
    p.add_argument(
        "--devices",
        default="1",
        help="number of devices to split batches over, or all (default: 1)",
    )
    p.add_argument("--coordinator", default=None, help="multi-host: host:port of process 0")
    p.add_argument("--num-processes", type=int, default=1, help="multi-host: process count")
    p.add_argument("--process-id", type=int, default=0, help="multi-host: this process")


def _add_common(p) -> None:
    _add_devices(p)
    p.add_argument("--out", required=True, help="output folder")
    _add_io(p, "--out")


def _add_io(p, where: str) -> None:
    """The options of every resumable command that writes results: data, resume/overwrite,
    quiet."""
    p.add_argument(
        "--resume",
        action="store_true",
        help=f"continue the results in {where} with their saved settings (where there are "
        "none yet it starts afresh, so a restarted job may always pass --resume)",
    )
    _add_write(p, where)


def _add_data_dir(p) -> None:
    p.add_argument("--data-dir", default=None, help="tfds data folder (default: $TFDS_DATA_DIR)")


def _add_method_fields(p, *, method: bool) -> None:
    """The scoring method's settings (ScoreConfig fields), shared by score, predict, export."""
    C = ScoreConfig
    if method:
        _field(p, C, "method", "anogan (latent search) | fanogan (encoder, one pass)")
        _field(p, C, "init", "prior | encoder (search from E(x): the hybrid)")
    _field(p, C, "num_steps", "latent search steps per image")
    _field(p, C, "batch_size", "images per program call")
    _field(p, C, "lr", "latent search Adam learning rate")
    _field(p, C, "schedule", "constant | cosine")
    _field(p, C, "lam", "weight of the discrimination term (>= 0)")
    _field(p, C, "disc", "feature (matching) | logit (cross-entropy)")
    _field(
        p,
        C,
        "clip_to_prior",
        "project z onto the prior's support after each step (uniform: clip to [-1, 1]; normal: "
        "onto the ball holding 99.9%% of its mass, radius 12.2 for 100 dimensions)",
    )
    _field(p, C, "kappa", "f-AnoGAN feature weight, or 'calibrated'")
    _field(p, C, "encoder", "encoder mode to use: izi | ziz | izi_f")
    _field(p, C, "seed", "seeds the search's starting points and the subsample")
    _field(p, C, "val_images", "normal validation images scored to set the threshold")
    _field(
        p,
        C,
        "micro_batch",
        "images per compiled block: scores are bit-identical for any "
        "--batch-size with the same --micro-batch (raise it on a GPU)",
    )


def _add_score(sub) -> None:
    p = sub.add_parser("score", help="score a run's test split (AnoGAN search or f-AnoGAN)")
    p.add_argument("--run", required=True, help="a run folder written by `train`")
    _add_method_fields(p, method=True)
    _field(p, ScoreConfig, "limit", "stratified test subsample of this many images (0: all)")
    p.add_argument("--seeds", default=None, help=SEEDS_HELP + " (results in <out>/seed_<s>/)")
    _add_accept(p, "score")
    _add_common(p)


def _add_predict_export(sub) -> None:
    p = _run_parser(sub, "predict", "score new images with a trained run")
    p.add_argument("--run", required=True, help="a run folder written by `train`")
    p.add_argument(
        "images",
        nargs="+",
        help="image files (PNG / JPEG) or folders of them, searched recursively: hidden files "
        "and folders skipped, links to folders followed, the --out folder and earlier predict "
        "results left out",
    )
    p.add_argument(
        "--method",
        dest="predict_method",
        default="fanogan",
        choices=PREDICT_METHODS,
        help="fanogan (one pass) | anogan (search from a prior draw) | hybrid (search from "
        "E(x)) (default: fanogan)",
    )
    _add_fpr(p)
    _add_method_fields(p, method=False)
    p.add_argument("--out", required=True, help="output folder")
    _add_write(p, "--out")
    p = _run_parser(sub, "export", "write a run's scorers as jax.export artefacts")
    p.add_argument("--run", required=True, help="a run folder written by `train`")
    _add_fpr(p)
    _add_method_fields(p, method=False)
    p.add_argument("--out", required=True, help="output folder")
    _add_write(p, "--out")
    p = sub.add_parser("make-textures", help="write a synthetic MVTec-style texture folder")
    p.add_argument("out", help="the folder to create (must not exist or be empty)")
    p.add_argument("--channels", type=int, default=1, help="1 (grey) or 3 (RGB) (default: 1)")
    p.add_argument("--size", type=int, default=64, help="image side in pixels (default: 64)")
    p.add_argument("--seed", type=int, default=0, help="seeds every texture and defect")


def _add_fpr(p) -> None:
    p.add_argument(
        "--fpr",
        type=float,
        default=0.05,
        help="threshold: the score exceeded by this share of normal validation images "
        "(default: 0.05)",
    )


def _add_write(p, where: str) -> None:
    """The options of every command that writes results: data, overwrite, quiet."""
    _add_data_dir(p)
    p.add_argument(
        "--overwrite",
        action="store_true",
        help=f"replace the results in {where} (only what this command wrote there)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_train_encoder(sub) -> None:
    C = EncoderConfig
    p = _run_parser(sub, "train-encoder", "train the f-AnoGAN encoder of a run (resumable)")
    p.add_argument("--run", required=True, help="a run folder written by `train`")
    _field(p, C, "mode", "izi | ziz | izi_f")
    _field(p, C, "steps", "encoder updates in total (a resumed run may raise it)")
    _field(p, C, "batch_size", "images per update")
    _field(p, C, "lr", "RMSProp learning rate")
    _field(p, C, "kappa", "izi_f feature weight")
    _field(p, C, "seed", "the encoder's seed (initialisation, data order)")
    p.add_argument("--seeds", default=None, help=SEEDS_HELP + " (--run is their parent folder)")
    _field(p, C, "checkpoint_every", "steps between checkpoints")
    _field(p, C, "keep", "checkpoints kept (>= 1)")
    _field(p, C, "log_every", "steps between metrics.jsonl records (and device syncs)")
    _add_io(p, "the encoder folder")


def _add_classifier_commands(sub) -> None:
    C = ClassifierConfig
    p = sub.add_parser("train-classifier", help="train the feature network of the GAN metrics")
    _field(p, C, "dataset", "digits | mnist | fashion_mnist | a .npz file")
    _field(p, C, "steps", "updates in total (a resumed run may raise it)")
    _field(p, C, "batch_size", "images per update")
    _field(p, C, "seed", "the classifier's seed")
    p.add_argument("--classifier-dir", default=None, help="root folder (default: the cache)")
    _add_io(p, "the classifier folder")
    p = _run_parser(sub, "evaluate", "FID, KID, IS and Parzen log-likelihood of a run")
    p.add_argument("--run", required=True, help="a run folder written by `train`")
    p.add_argument("--num-samples", type=int, default=5000, help="generated images (default: 5000)")
    p.add_argument("--classifier-dir", default=None, help="root of the trained classifiers")
    p.add_argument("--seed", type=int, default=0, help="seeds the samples (default: 0)")
    p.add_argument("--step", type=int, default=None, help="checkpoint step (default: last)")
    _add_data_dir(p)


class _Version(argparse.Action):
    """``--version``: worked out when asked (it runs git), not each time the parser is built."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_line())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anogan-jax", description="GAN-based anomaly detection (AnoGAN, f-AnoGAN) in JAX"
    )
    parser.add_argument(
        "--version", action=_Version, help="print the version, git commit and library versions"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_score(sub)
    _add_train_encoder(sub)
    _add_classifier_commands(sub)
    _add_predict_export(sub)
    return parser
