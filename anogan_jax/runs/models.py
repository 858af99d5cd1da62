"""A GAN run's models: built from its RunConfig (networks, optimisers, training step, keys),
and loaded trained from its folder (``load_gan``), with the checks that a folder and its
checkpoints belong to the config, and the identity (``gan_identity``) that encoders and score
folders record of the GAN they were made with."""

from __future__ import annotations

import hashlib
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from anogan_jax import models as models_lib
from anogan_jax import objectives
from anogan_jax.files import read_json
from anogan_jax.keys import named_keys
from anogan_jax.runs.checkpoint import Checkpointer, CheckpointError
from anogan_jax.runs.config import (
    SIGNATURE_DEFAULTS,
    RunConfig,
    RunError,
    load_config,
    signature,
)
from anogan_jax.runs.folders import seed_dir, seeds_holding
from anogan_jax.state import d_variables, g_variables, init_gan_state
from anogan_jax.train import make_gan_step


def build_models(config: RunConfig):
    """Parameters stay float32; convolutions and matmuls run in ``config.compute_dtype``."""
    return models_lib.make_gan(
        config.arch,
        image_shape=config.image_shape,
        width=config.width or None,
        latent_dim=config.latent_dim,
        objective=config.objective,
        conv_impl=config.conv_impl,
        compute_dtype=jnp.dtype(config.compute_dtype),
    )


def build_optimizers(config: RunConfig):
    g_tx, d_tx, n_critic = objectives.default_optimizers(
        config.objective, g_lr=config.g_lr, d_lr=config.d_lr
    )
    return g_tx, d_tx, config.n_critic or n_critic


def build_step(config: RunConfig, models, g_tx, d_tx, n_critic: int, **kwargs):
    """The config's training step (``train.make_gan_step``; kwargs: mesh, jit)."""
    return make_gan_step(
        objectives.get_objective(config.objective),
        models,
        g_tx,
        d_tx,
        n_critic=n_critic,
        update=config.update,
        prior=config.prior,
        **kwargs,
    )


def run_keys(seed: int) -> dict:
    """Named keys of a GAN run, split once from the root key of ``seed``."""
    return named_keys(seed, ("init", "data", "train", "sample"))


def check_signature(ckpt_dir: Path, config: RunConfig) -> None:
    """Raises CheckpointError naming the fields in which the checkpoints and config differ."""
    path = Path(ckpt_dir) / "model.json"
    if not path.exists():
        return
    saved, wanted = read_json(path), signature(config)
    diff = {k: (saved.get(k, SIGNATURE_DEFAULTS.get(k)), v) for k, v in wanted.items()}
    diff = {k: ab for k, ab in diff.items() if ab[0] != ab[1]}
    if diff:
        shown = ", ".join(f"{k}: checkpoint {a!r} vs config {b!r}" for k, (a, b) in diff.items())
        raise CheckpointError(
            f"the checkpoints in {ckpt_dir} were written by another model ({shown}); "
            "point --run at the matching run folder or retrain"
        )


def gan_identity(state) -> dict:
    """What a GAN's encoders and score folders record to know it again: its step and a
    fingerprint of its weights (sha256 of G's and D's variables, 16 hex digits). The step
    alone does not tell a run retrained with --overwrite (another seed, say) from the one an
    encoder was trained against or a score folder began with; the same config and seed
    retrained give the same weights, so the same fingerprint."""
    digest = hashlib.sha256()
    for leaf in jax.tree.leaves((g_variables(state), d_variables(state))):
        value = np.asarray(jax.device_get(leaf))
        digest.update(f"{value.dtype}{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    return {"gan_step": int(state.step), "gan_fingerprint": digest.hexdigest()[:16]}


def same_gan(saved: dict, now: dict) -> bool:
    """Whether a recorded ``gan_identity`` is the GAN ``now``; a record from before the
    fingerprint (no "gan_fingerprint") is judged by its step alone."""
    keys = [k for k in ("gan_step", "gan_fingerprint") if k in saved]
    return all(saved[k] == now[k] for k in keys)


def check_run_folder(run) -> Path:
    """``run`` as a Path; RunError unless it is a run folder written by ``train``."""
    run = Path(run)
    if not run.is_dir():
        raise RunError(f"run folder {run} does not exist; train one with `anogan-jax train`")
    if not (run / "config.json").exists():
        seeds = seeds_holding(run, "config.json")
        if seeds:
            raise RunError(
                f"{run} holds the runs of seeds {', '.join(map(str, seeds))} (`train --seeds`), "
                f"not one run: point --run at one of them ({seed_dir(run, seeds[0])}), or give "
                f"`score` and `train-encoder` --seeds {','.join(map(str, seeds))} to use them all"
            )
        raise RunError(f"{run} holds no config.json: it is not a run folder from `train`")
    return run


def load_gan(run, *, step: int | None = None):
    """Loads a trained run: (config, models, state). Raises RunError / CheckpointError."""
    run = check_run_folder(run)
    config = load_config(RunConfig, run / "config.json")
    models = build_models(config)
    g_tx, d_tx, _ = build_optimizers(config)
    keys = run_keys(config.seed)
    check_signature(run / "checkpoints", config)
    ckpt = Checkpointer(run / "checkpoints", keep=config.keep)
    try:
        abstract = jax.eval_shape(lambda: init_gan_state(models, g_tx, d_tx, keys["init"]))
        state = ckpt.restore(abstract, step)
    finally:
        ckpt.close()
    return config, models, state
