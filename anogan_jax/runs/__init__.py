"""Run folders: the floor above the library that reads and writes a run on disk.

One function per command, each taking a typed config and an output folder; every one resumes
with ``resume=True`` (bit-identical to an uninterrupted run), refuses to mix settings or data
with a folder's saved ones, and writes atomically::

    from anogan_jax import runs

    config = runs.RunConfig(dataset="digits", cls=0, arch="mlp", steps=2000)
    runs.train_gan(config, "runs/digits0")
    runs.train_encoder("runs/digits0", runs.EncoderConfig(mode="izi_f", steps=2000))
    report = runs.score_run("runs/digits0", "runs/digits0/fanogan",
                            runs.ScoreConfig(method="fanogan"))
    print(report["scores"])

``train_gan``, ``train_encoder`` and ``score_run`` take ``seeds=[...]`` to run several seeds
in one program, each into ``<out>/seed_<s>/``; ``train_gans``, ``train_encoders`` and
``score_runs`` train and score models of several classes and seeds as one program, each into
its own folder. ``load_gan`` /
``load_encoder`` / ``load_run`` give a folder's states back for use with the library's functions.
"""

from anogan_jax.runs.classifier import load_classifier, train_classifier
from anogan_jax.runs.config import (
    ClassifierConfig,
    EncoderConfig,
    RunConfig,
    RunError,
    ScoreConfig,
    load_config,
)
from anogan_jax.runs.encoder_run import encoder_dir, load_encoder, train_encoder, train_encoders
from anogan_jax.runs.evaluate import evaluate_run
from anogan_jax.runs.export import export_run
from anogan_jax.runs.folders import seed_dir
from anogan_jax.runs.gan import train_gan, train_gans
from anogan_jax.runs.models import build_models, build_optimizers, build_step, load_gan
from anogan_jax.runs.predict import load_run, predict
from anogan_jax.runs.scoring import score_run, score_runs
from anogan_jax.runs.textures import make_texture_folder

__all__ = [
    # configs
    "RunConfig",
    "EncoderConfig",
    "ScoreConfig",
    "ClassifierConfig",
    "load_config",
    "RunError",
    # the commands
    "train_gan",
    "train_encoder",
    "train_gans",
    "train_encoders",
    "score_run",
    "score_runs",
    "predict",
    "export_run",
    "evaluate_run",
    "train_classifier",
    "make_texture_folder",
    # a folder's models and states
    "build_models",
    "build_optimizers",
    "build_step",
    "load_gan",
    "load_encoder",
    "load_run",
    "load_classifier",
    "encoder_dir",
    "seed_dir",
]
