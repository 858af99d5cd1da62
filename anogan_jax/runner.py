"""A run folder: its config, building models/data/state from it, and GAN training into it.

Layout of a run folder::

    config.json        the RunConfig
    checkpoints/       orbax GAN checkpoints (last k kept)
    metrics.jsonl      one JSON object per logged step
    samples/           sample grids, every ``sample_every`` steps
    loss_curve.png
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from anogan_jax import data as data_lib
from anogan_jax import models as models_lib
from anogan_jax import objectives, plotting, xla_cpu
from anogan_jax.checkpoint import Checkpointer, CheckpointError, atomic_write_text, write_json
from anogan_jax.devices import check_divisible, make_mesh, put_batch, put_replicated
from anogan_jax.errors import UserError
from anogan_jax.prior import PRIORS, sample_prior
from anogan_jax.state import init_gan_state
from anogan_jax.train import UPDATES, fit, make_gan_step


class RunError(UserError, ValueError):
    """A user error about a run folder or its configuration; the message says what to do."""


@dataclasses.dataclass(frozen=True)
class RunConfig:
    dataset: str = "digits"
    protocol: str = "one_class_normal"
    cls: int = 0
    arch: str = "dcgan28_light"
    objective: str = "non_saturating"
    latent_dim: int = 100
    prior: str = "normal"
    steps: int = 2000
    batch_size: int = 64
    seed: int = 0
    g_lr: float | None = None
    d_lr: float | None = None
    n_critic: int | None = None
    update: str = "alternating"
    val_fraction: float = 0.1
    gcn: bool = False
    conv_impl: str = "auto"
    compute_dtype: str = "float32"
    checkpoint_every: int = 500
    keep: int = 3
    sample_every: int = 500
    log_every: int = 50

    def validate(self) -> RunConfig:
        """Raises RunError naming the bad field and the allowed values."""
        if not data_lib.is_dataset_name(self.dataset):
            raise RunError(
                f"unknown dataset {self.dataset!r}; choose one of "
                f"{', '.join(data_lib.DATASETS)} or a .npz file"
            )
        choices = {
            "protocol": data_lib.PROTOCOLS,
            "arch": models_lib.ARCHS,
            "objective": objectives.OBJECTIVES,
            "update": UPDATES,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise RunError(
                    f"unknown {name} {getattr(self, name)!r}; choose one of {', '.join(allowed)}"
                )
        if self.prior not in PRIORS:
            raise RunError(f"unknown prior {self.prior!r}; choose one of {', '.join(PRIORS)}")
        for name in ("steps", "batch_size", "latent_dim", "checkpoint_every", "log_every"):
            if getattr(self, name) <= 0:
                raise RunError(f"{name} must be positive, got {getattr(self, name)}")
        if self.compute_dtype not in COMPUTE_DTYPES:
            raise RunError(
                f"unknown compute dtype {self.compute_dtype!r}; choose one of "
                f"{', '.join(COMPUTE_DTYPES)}"
            )
        if not 0 <= self.cls < data_lib.NUM_CLASSES:
            raise RunError(f"class {self.cls} does not exist; classes are 0-9")
        if self.n_critic is not None and self.n_critic < 1:
            raise RunError(f"n_critic must be >= 1, got {self.n_critic}")
        return self

    @classmethod
    def from_json(cls, path) -> RunConfig:
        raw = json.loads(Path(path).read_text())
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})


SIGNATURE_FIELDS = ("arch", "latent_dim", "objective")


def model_signature(config: RunConfig) -> dict:
    """What a GAN checkpoint's shapes depend on; stored beside the checkpoints."""
    sig = {k: getattr(config, k) for k in SIGNATURE_FIELDS}
    sig["critic"] = models_lib.critic_norm_for(config.objective)
    return sig


def check_signature(ckpt_dir: Path, config: RunConfig) -> None:
    """Raises CheckpointError naming the fields in which the checkpoints and config differ."""
    path = ckpt_dir / "model.json"
    if not path.exists():
        return
    saved, wanted = json.loads(path.read_text()), model_signature(config)
    diff = {k: (saved.get(k), v) for k, v in wanted.items() if saved.get(k) != v}
    if diff:
        shown = ", ".join(f"{k}: checkpoint {a!r} vs config {b!r}" for k, (a, b) in diff.items())
        raise CheckpointError(
            f"the checkpoints in {ckpt_dir} were written by another model ({shown}); "
            "point --run at the matching run folder or retrain"
        )


COMPUTE_DTYPES = ("float32", "bfloat16")


def build_models(config: RunConfig):
    """Parameters stay float32; convolutions and matmuls run in ``config.compute_dtype``."""
    return models_lib.make_gan(
        config.arch,
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


def check_same_settings(configs: list[RunConfig], folders: list, hint: str) -> None:
    """Runs handled together (the seeds of one vmapped program) must differ in their seed
    only. Raises RunError naming the first folder that differs, followed by ``hint``."""
    first = configs[0]
    for config, folder in zip(configs[1:], folders[1:], strict=True):
        if dataclasses.replace(config, seed=first.seed) != first:
            raise RunError(f"{folder} was trained with other settings than {folders[0]}; {hint}")


def run_keys(seed: int) -> dict:
    """Named keys, split once from the root key of ``seed``."""
    names = ("init", "data", "train", "sample")
    return dict(zip(names, jax.random.split(jax.random.key(seed), len(names)), strict=True))


def load_data(config: RunConfig, data_dir: str | None = None) -> data_lib.OneClassData:
    return data_lib.load_one_class(
        config.dataset,
        protocol=config.protocol,
        cls=config.cls,
        seed=config.seed,
        val_fraction=config.val_fraction,
        gcn=config.gcn,
        data_dir=data_dir,
    )


@contextlib.contextmanager
def folder_lock(folder):
    """Refuses a second process on the same output folder (a lock file holding our pid)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / ".lock"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            pid = lock.read_text().strip() or "0"
            if pid.isdigit() and _alive(int(pid)):
                raise RunError(
                    f"{folder} is in use by another process (pid {pid}, lock file {lock}); "
                    "wait for it to finish or choose another output folder"
                ) from None
            lock.unlink(missing_ok=True)  # stale: its process is gone
    else:
        raise RunError(f"could not take the lock {lock}")
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prepare_output(out: Path, *, resume: bool, overwrite: bool, marker: str) -> None:
    """Refuses an output folder that already holds results unless resuming or overwriting."""
    if resume and overwrite:
        raise RunError("--resume and --overwrite exclude each other; choose one")
    if (out / marker).exists() and not (resume or overwrite):
        raise RunError(
            f"{out} already holds results ({marker}); pass --resume to continue them or "
            "--overwrite to start again"
        )
    if overwrite and out.exists():
        import shutil

        for child in out.iterdir():
            if child.name != ".lock":
                shutil.rmtree(child) if child.is_dir() else child.unlink()


def train_gan(
    config: RunConfig,
    out,
    *,
    resume=False,
    overwrite=False,
    data_dir=None,
    progress=True,
    devices: int | str = 1,
    fid_every: int = 0,
    classifier_root=None,
):
    """Trains (or resumes) a GAN into the run folder ``out``. Returns the final GANState.

    ``devices`` > 1 (or "all") trains data-parallel over a mesh of that many devices.
    ``fid_every`` > 0 logs FID / KID of samples against the NORMAL validation split every that
    many steps (``fid.jsonl``) and keeps the checkpoint with the lowest FID in
    ``checkpoints_best/``: label-free model selection (needs ``train-classifier`` first)."""
    out = Path(out)
    config = config.validate()
    with folder_lock(out):
        prepare_output(out, resume=resume, overwrite=overwrite, marker="config.json")
        if resume and (out / "config.json").exists():
            saved = RunConfig.from_json(out / "config.json")
            config = dataclasses.replace(saved, steps=config.steps)
        return _train(config, out, data_dir, progress, devices, fid_every, classifier_root)


def _train(config: RunConfig, out: Path, data_dir, progress, devices, fid_every, classifier_root):
    data = load_data(config, data_dir)
    data_lib.check_images(data.train, "training images")
    models = build_models(config)
    g_tx, d_tx, n_critic = build_optimizers(config)
    keys = run_keys(config.seed)
    write_json(out / "config.json", dataclasses.asdict(config))

    def init():
        return init_gan_state(models, g_tx, d_tx, keys["init"])

    ckpt = Checkpointer(out / "checkpoints", keep=config.keep, every=config.checkpoint_every)
    check_signature(out / "checkpoints", config)
    write_json(out / "checkpoints" / "model.json", model_signature(config))
    state = init()
    if ckpt.latest_step() is not None:
        state = ckpt.restore(jax.eval_shape(init))
    start = int(state.step)
    sampler = data_lib.BatchSampler(data.train, config.batch_size, keys["data"], group=n_critic)
    mesh, batch_fn = None, sampler
    if devices != 1:
        mesh = make_mesh(devices)
        check_divisible(config.batch_size, mesh)
        state = put_replicated(state, mesh)
        batch_fn = lambda step: put_batch(sampler(step), mesh, 1)  # noqa: E731
    step_fn = build_step(config, models, g_tx, d_tx, n_critic, mesh=mesh)
    run_log = RunLog(out, config, models, ckpt, start)
    if fid_every:
        run_log.watch_fid(data, fid_every, classifier_root)
    try:
        state = fit(
            state,
            step_fn,
            batch_fn,
            keys["train"],
            num_steps=config.steps,
            log_every=config.log_every,
            on_log=run_log.on_log,
            on_step_end=run_log.on_step_end,
            nonfinite_hint=NONFINITE_HINT,
            progress=progress,
        )
        ckpt.save(state, force=True)
    finally:
        ckpt.close()
        if run_log.fid_every:
            run_log.best.close()
    run_log.finish()
    return state


NONFINITE_HINT = (
    "a lower learning rate (--g-lr/--d-lr), or the wgan_gp objective, whose penalty uses a "
    "safe norm"
)


class RunLog:
    """What a run folder records while training: metrics.jsonl (rewritten atomically at each
    log), checkpoints every ``checkpoint_every`` steps, sample grids, the final loss curve."""

    def __init__(self, out: Path, config: RunConfig, models, ckpt: Checkpointer, start: int):
        self.out, self.config, self.ckpt, self.models, self.start = out, config, ckpt, models, start
        self.fid_every = 0
        fixed_z = sample_prior(
            run_keys(config.seed)["sample"], (64, config.latent_dim), config.prior
        )
        self.sample_fn = xla_cpu.jit(lambda g: models.generator.apply(g, fixed_z, train=False)[0])
        self.records = [r for r in read_jsonl(out / "metrics.jsonl") if r["step"] <= start]

    def on_log(self, step, metrics, rate):
        self.records.append({"step": step, "steps_per_s": rate, **metrics})
        lines = "".join(json.dumps(r) + "\n" for r in self.records)
        atomic_write_text(self.out / "metrics.jsonl", lines)

    def watch_fid(self, data, every: int, classifier_root) -> None:
        from anogan_jax.evaluate import make_fid_monitor

        self.fid_every = every
        self.monitor = make_fid_monitor(
            self.config, self.models, data, classifier_root=classifier_root
        )
        self.best = Checkpointer(self.out / "checkpoints_best", keep=1, every=1)
        self.fid_records = [
            r for r in read_jsonl(self.out / "fid.jsonl") if r["step"] <= self.start
        ]

    def _check_fid(self, state, step: int) -> None:
        if not self.fid_every or step % self.fid_every:
            return
        record = {"step": step, **self.monitor(state)}
        best = min((r["fid"] for r in self.fid_records), default=float("inf"))
        self.fid_records.append(record)
        lines = "".join(json.dumps(r) + "\n" for r in self.fid_records)
        atomic_write_text(self.out / "fid.jsonl", lines)
        if record["fid"] < best:
            self.best.save(state, force=True)
            write_json(self.out / "checkpoints_best" / "best.json", record)

    def on_step_end(self, state):
        step = int(state.step)
        self.ckpt.save(state)
        self._check_fid(state, step)
        if step % self.config.sample_every == 0 or step == self.config.steps:
            g_vars = {"params": state.g_params, "batch_stats": state.g_batch_stats}
            plotting.image_grid(
                self.out / "samples" / f"step_{step:07d}.png",
                np.asarray(self.sample_fn(g_vars)),
                title=f"{self.config.arch} {self.config.objective} step {step}",
            )

    def finish(self):
        if self.records:
            title = str(self.out.name)
            plotting.loss_curves(
                self.out / "loss_curve.png", self.records, ["d_loss", "g_loss"], title=title
            )


def read_jsonl(path) -> list[dict]:
    """The records of a JSON-lines file ([] when it does not exist)."""
    if not Path(path).exists():
        return []
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def load_gan(run, *, step: int | None = None):
    """Loads a trained run: (config, models, state). Raises RunError / CheckpointError."""
    run = Path(run)
    if not run.is_dir():
        raise RunError(f"run folder {run} does not exist; train one with `anogan-jax train`")
    if not (run / "config.json").exists():
        raise RunError(f"{run} holds no config.json: it is not a run folder from `train`")
    config = RunConfig.from_json(run / "config.json")
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


__all__ = [
    "CheckpointError",
    "RunConfig",
    "RunError",
    "build_models",
    "load_gan",
    "train_gan",
]
