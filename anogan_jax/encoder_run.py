"""Encoder training into a run folder (``<run>/encoder_<mode>/``) and the f-AnoGAN batch
functions used by ``score --method fanogan`` and ``score --method anogan --init encoder``."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from anogan_jax import data as data_lib
from anogan_jax import models as models_lib
from anogan_jax import plotting, xla_cpu
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
    check_same_settings,
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


class _EncoderRun:
    """One GAN run's encoder folder: config, data sampler, checkpoints, metrics log."""

    def __init__(self, run, config: EncoderConfig, *, resume, overwrite, data_dir):
        self.out = out = encoder_dir(run, config.mode)
        self.run_config, self.models, gan_state = load_gan(run)
        prepare_output(out, resume=resume, overwrite=overwrite, marker="encoder_config.json")
        if resume and (out / "encoder_config.json").exists():
            saved = EncoderConfig(**read_json(out / "encoder_config.json"))
            config = dataclasses.replace(saved, steps=config.steps)
        self.config = config
        write_json(out / "encoder_config.json", dataclasses.asdict(config))
        self.data = load_data(self.run_config, data_dir)
        self.encoder, self.tx, (k_init, k_data, self.train_key) = _build(self.run_config, config)
        self.frozen = _frozen(gan_state)
        self.ckpt = Checkpointer(
            out / "checkpoints", keep=config.keep, every=config.checkpoint_every
        )

        def init():
            return init_encoder_state(self.encoder, self.tx, k_init)

        self.state = init()
        if self.ckpt.latest_step() is not None:
            self.state = self.ckpt.restore(jax.eval_shape(init))
        self.sampler = data_lib.BatchSampler(self.data.train, config.batch_size, k_data)
        step = int(self.state.step)
        self.records = [r for r in read_jsonl(out / "metrics.jsonl") if r["step"] <= step]

    def make_step(self, jit: bool = True):
        c = self.config
        return make_encoder_step(
            c.mode,
            self.encoder,
            self.models,
            self.tx,
            kappa=c.kappa,
            prior=self.run_config.prior,
            jit=jit,
        )

    def on_log(self, step, metrics, rate):
        self.records.append({"step": step, "steps_per_s": rate, **metrics})
        lines = "".join(json.dumps(r) + "\n" for r in self.records)
        atomic_write_text(self.out / "metrics.jsonl", lines)

    def finish(self, state):
        self.ckpt.save(state, force=True)
        self.ckpt.close()
        _encoder_report(
            self.out,
            self.encoder,
            self.models,
            self.frozen,
            state,
            self.data,
            self.run_config,
            self.records,
        )


def train_encoder(
    run, config: EncoderConfig, *, resume=False, overwrite=False, data_dir=None, progress=True
):
    """Trains the f-AnoGAN encoder of a GAN run; G and D stay frozen. Returns EncoderState."""
    config = config.validate()
    with folder_lock(encoder_dir(run, config.mode)):
        r = _EncoderRun(run, config, resume=resume, overwrite=overwrite, data_dir=data_dir)
        step = r.make_step()
        try:
            state = fit(
                r.state,
                lambda s, b, k: step(s, r.frozen, b, k),
                r.sampler,
                r.train_key,
                num_steps=r.config.steps,
                log_every=r.config.log_every,
                on_log=r.on_log,
                on_step_end=r.ckpt.save,
                nonfinite_hint=ENCODER_NONFINITE_HINT,
                progress=progress,
                desc=f"encoder {r.config.mode}",
            )
        except BaseException:
            r.ckpt.close()
            raise
        r.finish(state)
        return state


def train_encoder_seeds(
    root,
    config: EncoderConfig,
    seeds: list[int],
    *,
    resume=False,
    overwrite=False,
    data_dir=None,
    progress=True,
):
    """Trains the encoders of the seeds' GANs (``<root>/seed_<s>``, from ``train --seeds``) in
    one vmapped program: the S encoder states and frozen GANs are stacked on a leading axis.

    Every seed uses the same EncoderConfig (so the same encoder seed: the GAN seed is what
    varies), and each equals ``train_encoder(<root>/seed_<s>, config)`` up to float rounding.
    Returns the stacked EncoderState.
    """
    from anogan_jax.seeds import seed_dir, stack, unstack

    config = config.validate()
    runs_dirs = [seed_dir(root, s) for s in seeds]
    with contextlib.ExitStack() as locks:
        for d in runs_dirs:
            locks.enter_context(folder_lock(encoder_dir(d, config.mode)))
        runs = [
            _EncoderRun(d, config, resume=resume, overwrite=overwrite, data_dir=data_dir)
            for d in runs_dirs
        ]
        _check_same(runs)
        first = runs[0]
        vstep = xla_cpu.jit(jax.vmap(first.make_step(jit=False)), donate_argnums=0)
        frozen = stack([r.frozen for r in runs])

        def on_log(step, metrics, rate):
            for i, r in enumerate(runs):
                r.on_log(step, {k: v[i] for k, v in metrics.items()}, rate)

        def on_step_end(state):
            step = int(state.step[0])
            if step % first.config.checkpoint_every == 0:
                for r, s in zip(runs, unstack(state, len(runs)), strict=True):
                    r.ckpt.save(s)

        try:
            state = fit(
                stack([r.state for r in runs]),
                lambda s, b, k: vstep(s, frozen, b, k),
                lambda i: np.stack([r.sampler(i) for r in runs]),
                jax.numpy.stack([r.train_key for r in runs]),
                num_steps=first.config.steps,
                log_every=first.config.log_every,
                on_log=on_log,
                on_step_end=on_step_end,
                nonfinite_hint=ENCODER_NONFINITE_HINT,
                progress=progress,
                desc=f"encoder {first.config.mode} x {len(runs)} seeds",
            )
        except BaseException:
            for r in runs:
                r.ckpt.close()
            raise
        for r, s in zip(runs, unstack(state, len(runs)), strict=True):
            r.finish(s)
        return state


ENCODER_NONFINITE_HINT = "a lower --lr"


def _check_same(runs) -> None:
    """The seeds of one vmapped program must share the model, the encoder settings and the
    step they resume from."""
    first = runs[0]
    check_same_settings(
        [r.run_config for r in runs],
        [r.out.parent for r in runs],
        "train the seeds together with `train --seeds`",
    )
    for r in runs[1:]:
        if r.config != first.config:
            raise RunError(
                f"{r.out} was started with other encoder settings than {first.out}; "
                "use --overwrite, or resume each seed alone"
            )
    steps = sorted({int(r.state.step) for r in runs})
    if len(steps) > 1:
        raise RunError(
            f"the seeds' encoder checkpoints are at different steps {steps}; resume each "
            "seed alone (`train-encoder --run <root>/seed_S --resume`) to the same step"
        )


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


def fanogan_method(run, score_config, run_config, models, gan_state, data):
    """The f-AnoGAN one-pass method (a ``scoring.MethodFn``) of a run's trained encoder.

    Columns: img_mse, feat_mse, z_mse, A = img_mse + kappa * feat_mse (kappa from the score
    config, 1 by default), and A_cal = img_mse / m_img + feat_mse / m_feat, with m the means over
    (up to 1,024) normal TRAINING images: a kappa calibrated without test labels. A term whose
    mean is 0 (a discriminator whose features collapsed to a constant) is left out of A_cal.
    """
    from anogan_jax.scoring import MethodFn

    encoder, e_state = load_encoder(run, score_config.encoder, run_config)
    scorer = make_fanogan_scorer(encoder, models)
    frozen = _frozen(gan_state)
    ref = jax.device_get(scorer(e_state.e_params, frozen, data.train[:1024]))
    means = np.float32([np.mean(ref["img_mse"]), np.mean(ref["feat_mse"])])
    kappa = 1.0 if score_config.kappa == "calibrated" else float(score_config.kappa)

    def fn(params, images, indices):
        e_params, frozen, (m_img, m_feat) = params
        r = scorer(e_params, frozen, images)
        return {
            **r,
            "A": r["img_mse"] + kappa * r["feat_mse"],
            "A_cal": _calibrated(r["img_mse"], m_img) + _calibrated(r["feat_mse"], m_feat),
        }

    return MethodFn((e_state.e_params, frozen, means), fn)


def _calibrated(term, mean):
    """term / mean, or 0 where the mean is 0: a non-negative term with mean 0 on the normal
    training images is 0 on all of them and carries nothing to rank by."""
    positive = mean > 0
    return jnp.where(positive, term / jnp.where(positive, mean, 1.0), 0.0)


def encoder_init_method(run, score_config, run_config, models, gan_state):
    """AnoGAN search started from E(x) instead of a prior draw (a ``scoring.MethodFn``)."""
    from anogan_jax.scoring import anogan_method

    encoder, e_state = load_encoder(run, score_config.encoder, run_config)

    def encode(e_params, images):
        return encoder.apply({"params": e_params, "batch_stats": {}}, images, train=False)[0]

    return anogan_method(
        models, gan_state, score_config, run_config.prior, encode=encode, e_params=e_state.e_params
    )
