"""Encoder training into a run folder (``<run>/encoder_<mode>/``) and the f-AnoGAN batch
functions used by ``score --method fanogan`` and ``score --method anogan --init encoder``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jax
import numpy as np

from anogan_jax import data as data_lib
from anogan_jax import models as models_lib
from anogan_jax import plotting
from anogan_jax.checkpoint import Checkpointer, atomic_write_text, read_json, write_json
from anogan_jax.encoder import (
    MODES,
    encoder_tx,
    make_encoder_step,
    make_fanogan_scorer,
    near_bound_share,
)
from anogan_jax.runner import (
    RunError,
    folder_lock,
    load_data,
    load_gan,
    prepare_output,
    read_jsonl,
)
from anogan_jax.state import init_encoder_state
from anogan_jax.train import fit


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    mode: str = "izi_f"
    steps: int = 2000
    batch_size: int = 64
    lr: float = 5e-5
    kappa: float = 1.0
    seed: int = 0
    checkpoint_every: int = 500
    keep: int = 3
    log_every: int = 50

    def validate(self) -> EncoderConfig:
        if self.mode not in MODES:
            raise RunError(f"unknown encoder mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.steps <= 0 or self.batch_size <= 0:
            raise RunError("--steps and --batch-size must be positive")
        return self


def encoder_dir(run, mode: str) -> Path:
    return Path(run) / f"encoder_{mode}"


def _build(run_config, config: EncoderConfig):
    encoder = models_lib.make_encoder(
        run_config.arch,
        latent_dim=run_config.latent_dim,
        bounded=run_config.prior == "uniform",
        conv_impl=run_config.conv_impl,
    )
    tx = encoder_tx(config.lr)
    key = jax.random.fold_in(jax.random.key(config.seed), 2)
    return encoder, tx, jax.random.split(key, 3)  # init, data, train keys


def _frozen(state):
    g_vars = {"params": state.g_params, "batch_stats": state.g_batch_stats}
    d_vars = {"params": state.d_params, "batch_stats": state.d_batch_stats}
    return g_vars, d_vars


def train_encoder(
    run, config: EncoderConfig, *, resume=False, overwrite=False, data_dir=None, progress=True
):
    """Trains the f-AnoGAN encoder of a GAN run; G and D stay frozen. Returns EncoderState."""
    config = config.validate()
    out = encoder_dir(run, config.mode)
    run_config, models, gan_state = load_gan(run)
    with folder_lock(out):
        prepare_output(out, resume=resume, overwrite=overwrite, marker="encoder_config.json")
        if resume and (out / "encoder_config.json").exists():
            saved = EncoderConfig(**read_json(out / "encoder_config.json"))
            config = dataclasses.replace(saved, steps=config.steps)
        write_json(out / "encoder_config.json", dataclasses.asdict(config))
        data = load_data(run_config, data_dir)
        encoder, tx, (k_init, k_data, k_train) = _build(run_config, config)
        frozen = _frozen(gan_state)
        step = make_encoder_step(
            config.mode, encoder, models, tx, kappa=config.kappa, prior=run_config.prior
        )

        def init():
            return init_encoder_state(encoder, tx, k_init)

        ckpt = Checkpointer(out / "checkpoints", keep=config.keep, every=config.checkpoint_every)
        state = init()
        if ckpt.latest_step() is not None:
            state = ckpt.restore(jax.eval_shape(init))
        sampler = data_lib.BatchSampler(data.train, config.batch_size, k_data)
        records = [r for r in read_jsonl(out / "metrics.jsonl") if r["step"] <= int(state.step)]

        def on_log(s, metrics, rate):
            records.append({"step": s, "steps_per_s": rate, **metrics})
            lines = "".join(json.dumps(r) + "\n" for r in records)
            atomic_write_text(out / "metrics.jsonl", lines)

        try:
            state = fit(
                state,
                lambda s, b, k: step(s, frozen, b, k),
                sampler,
                k_train,
                num_steps=config.steps,
                log_every=config.log_every,
                on_log=on_log,
                on_step_end=ckpt.save,
                nonfinite_hint="a lower --lr",
                progress=progress,
                desc=f"encoder {config.mode}",
            )
            ckpt.save(state, force=True)
        finally:
            ckpt.close()
        _encoder_report(out, encoder, models, frozen, state, data, run_config, records)
        return state


def _encoder_report(out, encoder, models, frozen, state, data, run_config, records):
    scorer = make_fanogan_scorer(encoder, models)
    x = data.train[:64]
    res = jax.device_get(scorer(state.e_params, frozen, x))
    recon = np.asarray(models.generator.apply(frozen[0], res["z"], train=False)[0])
    pairs = np.stack([x, recon], axis=1).reshape(-1, *x.shape[1:])
    plotting.image_grid(out / "reconstructions.png", pairs[:64], ncols=8, title="x | G(E(x))")
    keys = [k for k in ("loss", "img_mse", "feat_mse", "z_mse") if records and k in records[-1]]
    if records:
        plotting.loss_curves(out / "loss_curve.png", records, keys, title=out.name)
    share = near_bound_share(res["z"], run_config.prior == "uniform")
    write_json(out / "summary.json", {"step": int(state.step), "near_bound_share": share})


def load_encoder(run, mode: str, run_config):
    """(encoder network, EncoderState) of ``<run>/encoder_<mode>``."""
    out = encoder_dir(run, mode)
    if not (out / "encoder_config.json").exists():
        raise RunError(
            f"{out} holds no trained encoder; run `anogan-jax train-encoder --run {run} "
            f"--mode {mode}` first"
        )
    config = EncoderConfig(**read_json(out / "encoder_config.json"))
    encoder, tx, (k_init, _, _) = _build(run_config, config)
    ckpt = Checkpointer(out / "checkpoints", keep=config.keep)
    try:
        state = ckpt.restore(jax.eval_shape(lambda: init_encoder_state(encoder, tx, k_init)))
    finally:
        ckpt.close()
    return encoder, state


def fanogan_factory(run, score_config):
    """A ``batch_fn_factory`` for ``score_run``: f-AnoGAN one-pass scores.

    Columns: img_mse, feat_mse, z_mse, A = img_mse + kappa * feat_mse (kappa from the score
    config, 1 by default), and A_cal = img_mse / m_img + feat_mse / m_feat, with m the means over
    (up to 1,024) normal TRAINING images: a kappa calibrated without test labels.
    """

    def factory(run_config, models, gan_state, data, mesh):
        from anogan_jax.scoring import to_mesh

        encoder, e_state = load_encoder(run, score_config.encoder, run_config)
        scorer = make_fanogan_scorer(encoder, models)
        frozen = _frozen(gan_state)
        put = to_mesh(mesh)
        ref = jax.device_get(scorer(e_state.e_params, frozen, data.train[:1024]))
        m_img, m_feat = float(np.mean(ref["img_mse"])), float(np.mean(ref["feat_mse"]))
        kappa = 1.0 if score_config.kappa == "calibrated" else float(score_config.kappa)

        def batch_fn(images, indices):
            r = scorer(e_state.e_params, frozen, put(images))
            return {
                **r,
                "A": r["img_mse"] + kappa * r["feat_mse"],
                "A_cal": r["img_mse"] / m_img + r["feat_mse"] / m_feat,
            }

        return batch_fn

    return factory


def encoder_init_factory(run, score_config):
    """A ``batch_fn_factory`` for AnoGAN search started from E(x) instead of a prior draw."""
    from anogan_jax.scoring import anogan_batch_fn

    def factory(run_config, models, gan_state, data, mesh):
        encoder, e_state = load_encoder(run, score_config.encoder, run_config)

        @jax.jit
        def z0_fn(images):
            return encoder.apply(
                {"params": e_state.e_params, "batch_stats": {}}, images, train=False
            )[0]

        return anogan_batch_fn(models, gan_state, score_config, run_config.prior, z0_fn, mesh=mesh)

    return factory
