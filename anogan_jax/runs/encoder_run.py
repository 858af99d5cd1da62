"""Encoder training into a run folder (``<run>/encoder_<mode>/``) and the f-AnoGAN batch
functions used by ``score --method fanogan`` and ``score --method anogan --init encoder``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np

from anogan_jax import data as data_lib
from anogan_jax import models as models_lib
from anogan_jax.devices import models_mesh
from anogan_jax.encoder import encoder_tx, make_encoder_step, make_fanogan_scorer, near_bound_share
from anogan_jax.files import read_json, write_json
from anogan_jax.keys import named_keys
from anogan_jax.loop import fit
from anogan_jax.runs import plotting
from anogan_jax.runs.checkpoint import Checkpointer
from anogan_jax.runs.config import (
    EncoderConfig,
    RunError,
    check_same_settings,
    fit_batch_size,
    load_config,
)
from anogan_jax.runs.events import EVENTS, EventLog
from anogan_jax.runs.folders import (
    MetricsLog,
    check_output,
    check_steps,
    continue_config,
    folder_lock,
    folder_locks,
    seed_dir,
    start_folder,
)
from anogan_jax.runs.forms import choose_form, fit_mode, form_config
from anogan_jax.runs.gan import MODELS_AXIS, load_data
from anogan_jax.runs.identity import IDENTITY, check_run_data
from anogan_jax.runs.models import (
    build_models,
    check_run_folder,
    gan_identity,
    load_gan,
    same_gan,
)
from anogan_jax.runs.seeds import (
    check_same_step,
    check_saved_steps,
    fit_seeds,
)
from anogan_jax.state import d_variables, g_variables, init_encoder_state

# What `train-encoder` writes into its folder; --overwrite removes these and nothing else.
OWNED = (
    "encoder_config.json",
    IDENTITY,
    "gan.json",
    "checkpoints",
    "metrics.jsonl",
    "loss_curve.png",
    "reconstructions.png",
    "summary.json",
    EVENTS,
)
ENCODER_NONFINITE_HINT = "a lower --lr"


def encoder_dir(run, mode: str) -> Path:
    return Path(run) / f"encoder_{mode}"


def _build(run_config, config: EncoderConfig):
    encoder = models_lib.make_encoder(
        run_config.arch,
        image_shape=run_config.image_shape,
        width=run_config.width or None,
        latent_dim=run_config.latent_dim,
        bounded=run_config.prior == "uniform",
        conv_impl=run_config.conv_impl,
    )
    keys = named_keys(config.seed, ("init", "data", "train"), stream=2)
    return encoder, encoder_tx(config.lr), keys


def _frozen(state):
    return g_variables(state), d_variables(state)


class _EncoderRun:
    """One GAN run's encoder folder: config, data sampler, checkpoints, metrics log. The
    constructor only checks and writes nothing; ``open`` writes and restores. ``fit_batch`` as
    in ``train_encoder``, ``say`` told when it lowers the batch size."""

    def __init__(
        self, run, config: EncoderConfig, *, resume, overwrite, data_dir, fit_batch, say=print
    ):
        self.out = out = encoder_dir(run, config.mode)
        self.run_config, self.models, gan_state = load_gan(run)
        check_output(
            out, resume=resume, overwrite=overwrite, marker="encoder_config.json", owned=OWNED
        )
        config = continue_config(config, out / "encoder_config.json", resume=resume)
        self.overwrite = overwrite
        self.data = load_data(self.run_config, data_dir, run=run)
        self.identity = check_run_data(
            run, self.run_config.dataset, self.data, f"train-encoder on {run}"
        )
        if fit_batch:
            config = fit_batch_size(config, len(self.data.train), "training images", say=say)
        self.config = config
        self.encoder, self.tx, keys = _build(self.run_config, config)
        self.keys, self.train_key = keys, keys["train"]
        self.frozen = _frozen(gan_state)
        self.gan = gan_identity(gan_state)
        self.gan_step = self.gan["gan_step"]
        self.use_batch(config.batch_size)
        if not overwrite:
            _check_same_gan(out, self.gan, "Start the encoder again with --overwrite")
        if not overwrite:
            check_steps(out / "checkpoints", config.steps, out)

    def use_form(self, form: str) -> None:
        """Builds the encoder and the frozen GAN's models as the models-axis ``form`` runs
        them (``forms.form_config``): the same functions, the same parameters."""
        built = form_config(self.run_config, form)
        if built is not self.run_config:
            self.encoder = _build(built, self.config)[0]
            self.models = build_models(built)

    def use_batch(self, batch_size: int) -> None:
        """Trains with ``batch_size`` (models trained together share one)."""
        self.config = dataclasses.replace(self.config, batch_size=batch_size)
        self.sampler = data_lib.BatchSampler(self.data.train, batch_size, self.keys["data"])

    def open(self) -> _EncoderRun:
        out, config = self.out, self.config
        records = {"encoder_config.json": dataclasses.asdict(config)}
        records["gan.json"] = self.gan
        records[IDENTITY] = self.identity
        start_folder(out, OWNED, overwrite=self.overwrite, records=records)
        self.ckpt = Checkpointer(
            out / "checkpoints", keep=config.keep, every=config.checkpoint_every
        )
        self.state = self.ckpt.restore_or_init(
            lambda: init_encoder_state(self.encoder, self.tx, self.keys["init"])
        )
        self.start = int(self.state.step)
        self.events = EventLog(out, self.start)
        self.metrics = MetricsLog(out / "metrics.jsonl", self.start, self.events, "train")
        return self

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
        self.metrics.append({"step": step, "steps_per_s": rate, **metrics})
        self.events.scalars(step, {"e": self.config.lr}, "lr")

    def on_sync(self, step, state):
        self.ckpt.save(state, step=step)

    def sync_at(self, step: int) -> bool:
        return step % self.config.checkpoint_every == 0

    def close(self):
        self.events.close()
        self.ckpt.close()

    def finish(self, state):
        self.ckpt.save(state, force=True)
        self.ckpt.close()
        try:
            pairs = _encoder_report(
                self.out,
                self.encoder,
                self.models,
                self.frozen,
                state,
                self.data,
                self.run_config,
                self.metrics.records,
                self.gan_step,
            )
            if int(state.step) > self.start:  # else the events hold them from the last call
                self.events.images("reconstructions", int(state.step), pairs)
        finally:
            self.events.close()


def train_encoder(
    run,
    config: EncoderConfig,
    *,
    seeds: list[int] | None = None,
    resume=False,
    overwrite=False,
    data_dir=None,
    progress=True,
    fit_batch: bool = False,
):
    """Trains the f-AnoGAN encoder of a GAN run; G and D stay frozen. Returns EncoderState.

    ``seeds``: ``run`` is the root of a ``train_gan(seeds=...)`` run instead, and the encoders
    of its seeds' GANs (``<run>/seed_<s>``) train together (``seeds.fit_seeds``: one vmapped
    program over the stacked encoder states and frozen GANs, or on CPU for conv models the
    single-seed program per seed, ``seed_mode``). Every seed uses the same EncoderConfig (so
    the same encoder seed: the GAN seed is what varies), and each equals its run's encoder
    trained alone: bit for bit where the seeds loop, up to float rounding where they are
    vmapped. Returns each seed's EncoderState.

    ``fit_batch``: when ``config.batch_size`` exceeds the run's training images, train with all
    of them (the largest batch there is) and print a line saying so, instead of refusing; for a
    batch size the user did not choose (the CLI's default)."""
    config = config.validate()
    if seeds is not None:
        return train_encoders(
            [seed_dir(run, s) for s in seeds],
            config,
            resume=resume,
            overwrite=overwrite,
            data_dir=data_dir,
            progress=progress,
            fit_batch=fit_batch,
        )
    check_run_folder(run)  # before the lock creates <run>/encoder_<mode>
    with folder_lock(encoder_dir(run, config.mode)):
        r = _EncoderRun(
            run, config, resume=resume, overwrite=overwrite, data_dir=data_dir, fit_batch=fit_batch
        )
        r.open()
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
                sync_at=r.sync_at,
                on_sync=r.on_sync,
                nonfinite_hint=ENCODER_NONFINITE_HINT,
                progress=progress,
                desc=f"encoder {r.config.mode}",
            )
        except BaseException:
            r.close()
            raise
        r.finish(state)
        return state


def train_encoders(
    runs: list,
    config: EncoderConfig,
    *,
    resume=False,
    overwrite=False,
    data_dir=None,
    progress=True,
    fit_batch: bool = False,
    devices: int | str = 1,
) -> list:
    """Trains the encoders of M GAN runs as one program (the models axis over (class, seed)),
    each GAN frozen.

    Args:
      runs: M GAN run folders whose configs differ in ``cls`` and ``seed`` only; each one's
        ``encoder_<mode>`` folder is opened, resumed and checked as a single encoder's, with
        its own data (its class's split), sampler, checkpoints and log.
      config: the one EncoderConfig of all M (so one encoder seed: the GAN is what varies).
      resume: resume every folder from its checkpoints (as in ``train_encoder``).
      overwrite: start every folder afresh (as in ``train_encoder``).
      data_dir: the tfds data folder (else $TFDS_DATA_DIR).
      progress: show a progress bar.
      fit_batch: as in ``train_encoder``, lowering every encoder's batch to the fewest training
        images of the M (they train with one batch size).
      devices: 1, a number of devices or "all": sharded over a ("models", "data") mesh as in
        ``gan.train_gans`` (DeviceError before anything is written when the batch does not
        split over the data axis).
    Returns:
      each run's EncoderState. The M train through ``seeds.fit_seeds`` (one vmapped program
      over the stacked encoder states and frozen GANs, or the single-model program per model,
      ``seeds.seed_mode``), so each equals its run's encoder trained alone: bit for bit where
      they loop, up to float rounding where they are vmapped."""
    config = config.validate()
    run_dirs = [check_run_folder(r) for r in runs]
    if not run_dirs:
        raise RunError("give at least one run folder")
    with folder_locks([encoder_dir(d, config.mode) for d in run_dirs]):
        io = dict(resume=resume, overwrite=overwrite, data_dir=data_dir)
        models = [_EncoderRun(d, config, **io, fit_batch=fit_batch, say=None) for d in run_dirs]
        if fit_batch:
            _share_batch(models, config)
        _check_same(models)
        mesh = models_mesh(len(models), devices, batch_size=models[0].config.batch_size)
        form = choose_form(models[0].run_config.arch)  # refused before anything is written
        for r in models:
            r.use_form(form.form)
        hint = "`train-encoder --run <run> --resume` for each"
        ckpts = [encoder_dir(d, config.mode) / "checkpoints" for d in run_dirs]
        check_saved_steps(ckpts, overwrite=overwrite, resume_hint=hint)
        models = [r.open() for r in models]
        check_same_step([int(r.state.step) for r in models], hint)
        first = models[0]
        try:
            states = fit_seeds(
                first.make_step(jit=False),
                [r.state for r in models],
                [r.sampler for r in models],
                [r.train_key for r in models],
                frozen=[r.frozen for r in models],
                mode=fit_mode(form.form),
                mesh=mesh,
                on_log_each=[r.on_log for r in models],
                on_sync_each=[r.on_sync for r in models],
                sync_at=first.sync_at,
                num_steps=first.config.steps,
                log_every=first.config.log_every,
                nonfinite_hint=ENCODER_NONFINITE_HINT,
                progress=progress,
                desc=f"encoder {first.config.mode} x {len(models)} models",
            )
        except BaseException:
            for r in models:
                r.close()
            raise
        for r, s in zip(models, states, strict=True):
            r.finish(s)
        return states


def _share_batch(models, config: EncoderConfig) -> None:
    """Every model's batch lowered to the fewest training images of all (each was fitted to
    its own), said once."""
    fewest = min(len(r.data.train) for r in models)
    fit_batch_size(config, fewest, "training images", say=print)
    for r in models:
        r.use_batch(min(r.config.batch_size, fewest))


def _check_same(runs) -> None:
    """The encoders trained together must share the model (their GANs may differ in class
    and seed only), the encoder settings and the step they resume from."""
    first = runs[0]
    check_same_settings(
        [r.run_config for r in runs],
        [r.out.parent for r in runs],
        "train the encoders of other GANs in separate calls",
        free=MODELS_AXIS,
    )
    for r in runs[1:]:
        if r.config != first.config:
            raise RunError(
                f"{r.out} was started with other encoder settings than {first.out}; "
                "use --overwrite, or resume each alone"
            )


def _encoder_report(out, encoder, models, frozen, state, data, run_config, records, gan_step):
    """Writes the reconstructions, loss curve and summary; returns the pairs x, G(E(x)) shown."""
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
    summary = {"step": int(state.step), "near_bound_share": share, "gan_step": gan_step}
    write_json(out / "summary.json", summary)
    return pairs[:64]


def check_encoder(run, mode: str) -> Path:
    """``<run>/encoder_<mode>`` once it holds a trained encoder; else a RunError naming the
    command that trains it. Reads no checkpoint, so a command checks it before loading."""
    out = encoder_dir(run, mode)
    if not (out / "encoder_config.json").exists():
        raise RunError(
            f"{out} holds no trained encoder; run `anogan-jax train-encoder --run {run} "
            f"--mode {mode}` first"
        )
    return out


def load_encoder(run, mode: str, run_config, gan_state=None):
    """(encoder network, EncoderState) of ``<run>/encoder_<mode>``. With ``gan_state``,
    refuses an encoder that was trained against another GAN (another checkpoint, or a run
    retrained since)."""
    out = check_encoder(run, mode)
    config = load_config(EncoderConfig, out / "encoder_config.json")
    if gan_state is not None:
        retrain = f"Retrain it: `anogan-jax train-encoder --run {run} --mode {mode} --overwrite`"
        _check_same_gan(out, gan_identity(gan_state), retrain)
    encoder, tx, keys = _build(run_config, config)
    ckpt = Checkpointer(out / "checkpoints", keep=config.keep)
    try:
        state = ckpt.restore(jax.eval_shape(lambda: init_encoder_state(encoder, tx, keys["init"])))
    finally:
        ckpt.close()
    return encoder, state


def _check_same_gan(out: Path, now: dict, what_to_do: str) -> None:
    """Refuses an encoder folder whose ``gan.json`` records another GAN than ``now``
    (``models.gan_identity``); a folder without gan.json has not started."""
    path = out / "gan.json"
    if not path.exists():
        return
    saved = read_json(path)
    if not isinstance(saved.get("gan_step"), int):
        raise RunError(f"{path} is damaged (no integer gan_step); retrain with --overwrite")
    if saved["gan_step"] != now["gan_step"]:
        raise RunError(
            f"the encoder in {out} was trained against the GAN at step {saved['gan_step']}, "
            f"but the GAN is now at step {now['gan_step']}: it no longer belongs to that "
            f"generator. {what_to_do}"
        )
    if not same_gan(saved, now):
        raise RunError(
            f"the encoder in {out} was trained against another GAN at step {now['gan_step']} "
            "(the run was trained again since, with other settings or another seed): it no "
            f"longer belongs to that generator. {what_to_do}"
        )
