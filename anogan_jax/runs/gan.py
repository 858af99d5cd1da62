"""A GAN run folder: its data and state from its config, and training into it (the models
come from ``runs.models``).

Layout of a run folder::

    config.json        the RunConfig
    data.json          the identity of the data it was trained on (``identity``)
    checkpoints/       orbax GAN checkpoints (last k kept), model.json (the model signature)
    metrics.jsonl      one JSON object per logged step
    samples/           sample grids, every ``sample_every`` steps
    events/            TensorBoard event files: losses, learning rates, FID, samples (``events``)
    loss_curve.png
    fid.jsonl, checkpoints_best/   with ``fid_every``
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from anogan_jax import data as data_lib
from anogan_jax import objectives
from anogan_jax.datasets import check_source
from anogan_jax.devices import (
    check_divisible,
    make_mesh,
    models_mesh,
    put_batch,
    put_replicated,
)
from anogan_jax.files import write_json
from anogan_jax.images import check_images
from anogan_jax.loop import fit
from anogan_jax.ops import xla_cpu
from anogan_jax.prior import sample_prior
from anogan_jax.runs import plotting
from anogan_jax.runs.checkpoint import Checkpointer, latest_step
from anogan_jax.runs.config import (
    NO_LABELS,
    RunConfig,
    RunError,
    check_same_settings,
    fit_batch_size,
    is_folder,
    signature,
)
from anogan_jax.runs.events import EVENTS, EventLog
from anogan_jax.runs.fid import make_fid_monitor
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
from anogan_jax.runs.identity import (
    ACCEPT_OPTION,
    IDENTITY,
    check_run_data,
    resolved_config,
    val_split_rule,
)
from anogan_jax.runs.models import (
    build_models,
    build_optimizers,
    build_step,
    check_signature,
    run_keys,
)
from anogan_jax.runs.seeds import check_same_step, check_saved_steps, fit_seeds
from anogan_jax.state import g_variables, init_gan_state

# What `train` writes into a run folder; --overwrite removes these and nothing else.
OWNED = (
    "config.json",
    IDENTITY,
    "checkpoints",
    "checkpoints_best",
    "metrics.jsonl",
    "fid.jsonl",
    "samples",
    "loss_curve.png",
    "evaluation*.json",
    EVENTS,
)
# The fields in which models trained as one program (``train_gans``) may differ.
MODELS_AXIS = ("cls", "seed")
MODELS_HINT = "train models of other settings in separate calls"
RESUME_HINT = (
    "put the images back as they were, or train on the images there now into another --out "
    f"(or with --overwrite), or continue on them with {ACCEPT_OPTION} (recorded in data.json)"
)
NONFINITE_HINT = (
    "a lower learning rate (--g-lr/--d-lr), or the wgan_gp objective, whose penalty uses a "
    "safe norm"
)


def load_data(config: RunConfig, data_dir: str | None = None, *, run=None):
    """The OneClassData of ``config``; with ``run``, its validation images chosen by the rule
    that run folder was made with (``identity.val_split_rule``), else by today's."""
    return data_lib.load_one_class(
        config.dataset,
        protocol=config.protocol,
        cls=config.cls,
        seed=config.seed,
        val_fraction=config.val_fraction,
        gcn=config.gcn,
        data_dir=data_dir,
        image_size=config.image_size or None,
        channels=config.channels or None,
        val_split=data_lib.VAL_SPLITS[0] if run is None else val_split_rule(run),
    )


def with_image_shape(config: RunConfig, data: data_lib.OneClassData) -> RunConfig:
    """``config`` with the image side and channels of its loaded data written in (a folder
    run's "as stored" resolved), so that later commands rebuild the same networks."""
    size, width, channels = data.train.shape[1:]
    if size != width:
        raise RunError(f"{config.dataset}: images are {size}x{width}; the networks need squares")
    return dataclasses.replace(config, image_size=int(size), channels=int(channels))


class GanRun:
    """One GAN run folder opened for training: its data sampler, keys, checkpoints, state
    and log. The constructor only checks (data, model signature, step count) and writes
    nothing; ``open`` then removes what an earlier ``train`` wrote (with ``overwrite``),
    writes the config and restores or initialises the state. ``accept_new_data``: continue
    on data other than the recorded, recording it (``identity.accepted``)."""

    def __init__(
        self,
        config: RunConfig,
        out: Path,
        models,
        optimizers,
        *,
        data,
        overwrite,
        accept_new_data=False,
    ):
        self.config, self.out, self.models, self.optimizers = config, out, models, optimizers
        self.overwrite = overwrite
        self.keys = run_keys(config.seed)
        self.train_key = self.keys["train"]
        check_images(data.train, "training images", shape=config.image_shape)
        self.data = data
        step = latest_step(out / "checkpoints") if accept_new_data else None
        self.identity = check_run_data(
            None if overwrite else out,
            config.dataset,
            data,
            f"--resume of {out}",
            RESUME_HINT,
            accept=None if step is None else ("train --resume", step),
        )
        self.sampler = data_lib.BatchSampler(
            data.train, config.batch_size, self.keys["data"], group=optimizers[2]
        )
        if not overwrite:
            check_signature(out / "checkpoints", config)
            check_steps(out / "checkpoints", config.steps, out)

    def open(self) -> GanRun:
        config, out = self.config, self.out
        records = {"config.json": dataclasses.asdict(config), IDENTITY: self.identity}
        records["checkpoints/model.json"] = signature(config)
        start_folder(out, OWNED, overwrite=self.overwrite, records=records)
        self.ckpt = Checkpointer(
            out / "checkpoints", keep=config.keep, every=config.checkpoint_every
        )
        g_tx, d_tx, _ = self.optimizers
        self.state = self.ckpt.restore_or_init(
            lambda: init_gan_state(self.models, g_tx, d_tx, self.keys["init"])
        )
        self.log = RunLog(out, config, self.models, self.ckpt, int(self.state.step))
        return self


def checked_config(config: RunConfig) -> RunConfig:
    """``config`` validated, once the files its dataset names are known to be there: a missing
    folder is named first, not the arch that would not fit its images' default size."""
    check_source(config.dataset)
    return config.validate()


def prepare_run(
    config: RunConfig,
    out: Path,
    *,
    resume: bool,
    overwrite: bool,
    data_dir,
    fit_batch=False,
    accept_new_data=False,
):
    """Checks the output folder and the config (against the saved one when resuming), loads
    the data and builds the run WITHOUT writing anything (``GanRun.open`` writes). With
    ``fit_batch``, a batch size above the training images is lowered to their number
    (``config.fit_batch_size``), and a line printed says so. ``accept_new_data`` as in
    ``GanRun``. Returns (GanRun, models, (g_tx, d_tx, n_critic))."""
    check_output(out, resume=resume, overwrite=overwrite, marker="config.json", owned=OWNED)
    config = resolved_config(config, out / "config.json", resume=resume)
    config = continue_config(config, out / "config.json", resume=resume)
    data = load_data(config, data_dir, run=None if overwrite else out)
    config = with_image_shape(config, data)
    if fit_batch:
        config = fit_batch_size(config, len(data.train), "training images", say=print)
    models = build_models(config)
    optimizers = build_optimizers(config)
    run = GanRun(
        config,
        out,
        models,
        optimizers,
        data=data,
        overwrite=overwrite,
        accept_new_data=accept_new_data,
    )
    return run, models, optimizers


def train_gan(
    config: RunConfig,
    out,
    *,
    seeds: list[int] | None = None,
    resume=False,
    overwrite=False,
    data_dir=None,
    progress=True,
    devices: int | str = 1,
    fid_every: int = 0,
    classifier_root=None,
    fit_batch: bool = False,
    accept_new_data: bool = False,
):
    """Trains (or resumes) a GAN into the run folder ``out``. Returns the final GANState.

    ``accept_new_data``: a resumed run whose data differ from those it recorded continues on
    them, and its data.json records the change (``identity.accepted``); else that is refused.

    ``seeds``: train one GAN per seed instead, each in ``<out>/seed_<s>/`` (an ordinary run
    folder, opened, resumed and checked as a single run's; ``config.seed`` is replaced), all
    in one program (``train_gans`` over the seeds); each equals that seed trained alone (bit for bit
    where the seeds loop, up to float rounding where they are vmapped, ``seeds.seed_mode``).
    Returns the final state of each seed. On one device, without ``fid_every``.

    ``fit_batch``: when ``config.batch_size`` exceeds the training images, train with all of
    them (the largest batch there is) and print a line saying so, instead of refusing; for a
    batch size the user did not choose (the CLI's default).

    ``devices`` > 1 (or "all") trains data-parallel over a mesh of that many devices.
    ``fid_every`` > 0 logs FID / KID of samples against the NORMAL validation split every that
    many steps (``fid.jsonl``) and keeps the checkpoint with the lowest FID in
    ``checkpoints_best/``: label-free model selection (needs ``train-classifier`` first)."""
    out = Path(out)
    config = checked_config(config)
    if accept_new_data and not resume:
        raise RunError(
            f"{ACCEPT_OPTION} continues a run on images that differ from those it recorded: "
            "give it with --resume"
        )
    if seeds is not None:
        if devices != 1 or fid_every:
            raise RunError(
                "seeds trained together run on one device, without FID: drop devices and "
                "fid_every, or train each seed alone"
            )
        configs = [dataclasses.replace(config, seed=s) for s in seeds]
        with folder_lock(out):
            return train_gans(
                configs,
                [seed_dir(out, s) for s in seeds],
                resume=resume,
                overwrite=overwrite,
                data_dir=data_dir,
                progress=progress,
                fit_batch=fit_batch,
                accept_new_data=accept_new_data,
            )
    if fid_every < 0:
        raise RunError(f"fid_every must be >= 0, got {fid_every}")
    if fid_every and is_folder(config.dataset):
        raise RunError(NO_LABELS.format(dataset=config.dataset))
    with folder_lock(out):
        run, models, (g_tx, d_tx, n_critic) = prepare_run(
            config,
            out,
            resume=resume,
            overwrite=overwrite,
            data_dir=data_dir,
            fit_batch=fit_batch,
            accept_new_data=accept_new_data,
        )
        config, batch_fn, mesh, monitor = run.config, run.sampler, None, None
        # Every check that can refuse runs before ``open`` writes (or, with --overwrite,
        # clears) the folder: a refused command changes nothing.
        if devices != 1:
            mesh = make_mesh(devices)
            check_divisible(config.batch_size, mesh)
        if fid_every:
            monitor = make_fid_monitor(config, models, run.data, classifier_root=classifier_root)
        state = run.open().state
        if mesh is not None:
            state = put_replicated(state, mesh)
            batch_fn = lambda step: put_batch(run.sampler(step), mesh, 1)  # noqa: E731
        step_fn = build_step(config, models, g_tx, d_tx, n_critic, mesh=mesh)
        if monitor is not None:
            run.log.watch_fid(fid_every, monitor)
        try:
            state = fit(
                state,
                step_fn,
                batch_fn,
                run.train_key,
                num_steps=config.steps,
                log_every=config.log_every,
                on_log=run.log.on_log,
                sync_at=run.log.sync_at,
                on_sync=run.log.on_sync,
                nonfinite_hint=NONFINITE_HINT,
                progress=progress,
            )
            run.ckpt.save(state, force=True)
        finally:
            run.log.close()
        run.log.finish()
        return state


def train_gans(
    configs: list[RunConfig],
    outs: list,
    *,
    resume=False,
    overwrite=False,
    data_dir=None,
    progress=True,
    fit_batch: bool = False,
    accept_new_data: bool = False,
    devices: int | str = 1,
) -> list:
    """Trains (or resumes) M GANs as one program: the models axis over (class, seed).

    Args:
      configs: M RunConfigs that differ in ``cls`` and ``seed`` only (else RunError naming the
        field, before anything is written).
      outs: M run folders, one per config; each is opened, resumed and checked as a single
        run's, and keeps its own data (its class's split), batch sampler, keys, checkpoints,
        metrics and events.
      resume: resume every folder from its checkpoints (as in ``train_gan``).
      overwrite: start every folder afresh (as in ``train_gan``).
      data_dir: the tfds data folder (else $TFDS_DATA_DIR).
      progress: show a progress bar.
      fit_batch: as in ``train_gan``, lowering every model's batch to the fewest training
        images of the M (they train with one batch size).
      accept_new_data: as in ``train_gan``, for each folder.
      devices: 1, a number of devices or "all": with several, the M models are sharded over a
        ("models", "data") mesh (``devices.models_mesh``: models = gcd(M, devices), each
        model's batch split over the rest), DeviceError before anything is written when the
        batch does not split. Vmapped, the stacked program is sharded; looped, each model's
        program runs on its own slice of the mesh, bit for bit its run alone where the slice
        is one device (a data axis of several sums each batch in another order: float
        rounding).
    Returns:
      the final GANState of each model. All M step together through ``seeds.fit_seeds``, so
      each equals its run trained alone: bit for bit where the models loop, up to float
      rounding where they are vmapped (``seeds.seed_mode``). The checkpoints of all M must
      stand at one step (else RunError, before anything is written: resume each alone)."""
    outs = [Path(o) for o in outs]
    if not configs or len(configs) != len(outs):
        raise RunError(
            f"give one run folder per config: {len(configs)} configs and {len(outs)} folders"
        )
    configs = [checked_config(c) for c in configs]
    check_same_settings(configs, outs, MODELS_HINT, free=MODELS_AXIS)
    with folder_locks(outs):
        for o in outs:
            check_output(o, resume=resume, overwrite=overwrite, marker="config.json", owned=OWNED)
        configs = [
            continue_config(
                resolved_config(c, o / "config.json", resume=resume),
                o / "config.json",
                resume=resume,
            )
            for c, o in zip(configs, outs, strict=True)
        ]
        datas = [
            load_data(c, data_dir, run=None if overwrite else o)
            for c, o in zip(configs, outs, strict=True)
        ]
        configs = [with_image_shape(c, x) for c, x in zip(configs, datas, strict=True)]
        if fit_batch:
            fewest = min(len(x.train) for x in datas)
            fit_batch_size(configs[0], fewest, "training images", say=print)  # said once
            configs = [fit_batch_size(c, fewest, "training images") for c in configs]
        check_same_settings(configs, outs, MODELS_HINT, free=MODELS_AXIS)
        config = configs[0]
        mesh = models_mesh(len(configs), devices, batch_size=config.batch_size)
        form = choose_form(config.arch)  # a bad override is refused before anything is written
        models = build_models(form_config(config, form.form))
        g_tx, d_tx, n_critic = optimizers = build_optimizers(config)
        runs = [
            GanRun(
                c,
                o,
                models,
                optimizers,
                data=x,
                overwrite=overwrite,
                accept_new_data=accept_new_data,
            )
            for c, o, x in zip(configs, outs, datas, strict=True)
        ]  # every model checked before any is written
        hint = "`train --out <folder> --resume` for each"
        check_saved_steps([o / "checkpoints" for o in outs], overwrite=overwrite, resume_hint=hint)
        runs = [r.open() for r in runs]
        check_same_step([int(r.state.step) for r in runs], hint)
        try:
            states = fit_seeds(
                build_step(config, models, g_tx, d_tx, n_critic, jit=False),
                [r.state for r in runs],
                [r.sampler for r in runs],
                [r.train_key for r in runs],
                mode=fit_mode(form.form),
                mesh=mesh,
                on_log_each=[r.log.on_log for r in runs],
                on_sync_each=[r.log.on_sync for r in runs],
                sync_at=runs[0].log.sync_at,
                num_steps=config.steps,
                log_every=config.log_every,
                nonfinite_hint=NONFINITE_HINT,
                progress=progress,
                desc=f"train {len(runs)} models",
            )
            for r, s in zip(runs, states, strict=True):
                r.ckpt.save(s, force=True)
        finally:
            for r in runs:
                r.log.close()
        for r in runs:
            r.log.finish()
        return states


class RunLog:
    """What a run folder records while training: metrics.jsonl (rewritten atomically at each
    log), checkpoints every ``checkpoint_every`` steps, sample grids, FID with ``watch_fid``,
    the final loss curve; and TensorBoard events of the metrics, learning rates, FID and
    samples (``events.EventLog``)."""

    def __init__(self, out: Path, config: RunConfig, models, ckpt: Checkpointer, start: int):
        self.out, self.config, self.ckpt, self.models, self.start = out, config, ckpt, models, start
        self.fid_every, self.best = 0, None
        fixed_z = sample_prior(
            run_keys(config.seed)["sample"], (64, config.latent_dim), config.prior
        )
        self.sample_fn = xla_cpu.jit(lambda g: models.generator.apply(g, fixed_z, train=False)[0])
        self.events = EventLog(out, start)
        self.metrics = MetricsLog(out / "metrics.jsonl", start, self.events, "train")
        g_lr, d_lr = objectives.learning_rates(config.objective, g_lr=config.g_lr, d_lr=config.d_lr)
        self.lr = {"g": g_lr, "d": d_lr}

    def on_log(self, step, metrics, rate):
        self.metrics.append({"step": step, "steps_per_s": rate, **metrics})
        self.events.scalars(step, self.lr, "lr")

    def watch_fid(self, every: int, monitor) -> None:
        """Logs ``monitor(state)`` (``fid.make_fid_monitor``) every ``every`` steps."""
        self.fid_every, self.monitor = every, monitor
        self.best = Checkpointer(self.out / "checkpoints_best", keep=1, every=1)
        self.fid = MetricsLog(self.out / "fid.jsonl", self.start, self.events, "fid")

    def sync_at(self, step: int) -> bool:
        """Whether ``on_sync`` has work at ``step`` (so the loop reads the device only then)."""
        every = [self.config.checkpoint_every, self.config.sample_every]
        every += [self.fid_every] if self.fid_every else []
        return any(step % e == 0 for e in every)

    def _check_fid(self, state, step: int) -> None:
        if not self.fid_every or step % self.fid_every:
            return
        record = {"step": step, **self.monitor(state)}
        best = min((r["fid"] for r in self.fid.records), default=float("inf"))
        self.fid.append(record)
        if record["fid"] < best:
            self.best.save(state, step=step, force=True)
            write_json(self.out / "checkpoints_best" / "best.json", record)

    def on_sync(self, step: int, state) -> None:
        self.ckpt.save(state, step=step)
        self._check_fid(state, step)
        if step % self.config.sample_every == 0 or step == self.config.steps:
            samples = np.asarray(self.sample_fn(g_variables(state)))
            plotting.image_grid(
                self.out / "samples" / f"step_{step:07d}.png",
                samples,
                title=f"{self.config.arch} {self.config.objective} step {step}",
            )
            self.events.images("samples", step, samples)

    def close(self) -> None:
        self.events.close()
        self.ckpt.close()
        if self.best is not None:
            self.best.close()

    def finish(self):
        if self.metrics.records:
            plotting.loss_curves(
                self.out / "loss_curve.png",
                self.metrics.records,
                ["d_loss", "g_loss"],
                title=str(self.out.name),
            )
