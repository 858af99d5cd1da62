"""Many seeds in one program: S GAN states stacked on a leading axis and trained with
``jax.vmap`` over the state (one compile, one program). Each seed keeps its own run folder
(``<out>/seed_<s>/``, an ordinary run: config, checkpoints, metrics, samples), its own data
order and its own keys, so each equals training that seed alone up to float rounding."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np

from anogan_jax import data as data_lib
from anogan_jax import xla_cpu
from anogan_jax.checkpoint import Checkpointer, write_json
from anogan_jax.runner import (
    NONFINITE_HINT,
    RunConfig,
    RunError,
    RunLog,
    build_models,
    build_optimizers,
    build_step,
    check_signature,
    folder_lock,
    load_data,
    model_signature,
    prepare_output,
    run_keys,
)
from anogan_jax.state import init_gan_state
from anogan_jax.train import fit


def stack(trees):
    """[tree] * S -> one tree with a leading axis S."""
    return jax.tree.map(lambda *xs: jax.numpy.stack(xs), *trees)


def unstack(tree, n: int):
    """The inverse of ``stack``."""
    return [jax.tree.map(lambda x, i=i: x[i], tree) for i in range(n)]


def seed_dir(out, seed: int) -> Path:
    return Path(out) / f"seed_{seed}"


def parse_seeds(text: str) -> list[int]:
    """ "0,1,2" or "0-4" -> [0, 1, 2] / [0, 1, 2, 3, 4]; rejects duplicates."""
    try:
        if "-" in text and "," not in text:
            lo, hi = (int(x) for x in text.split("-"))
            seeds = list(range(lo, hi + 1))
        else:
            seeds = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise RunError(f"--seeds {text!r}: give comma-separated integers, e.g. 0,1,2") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise RunError(f"--seeds {text!r}: give distinct integers, e.g. 0,1,2")
    return seeds


class _Seed:
    """One seed's folder, data sampler, keys and checkpoints."""

    def __init__(self, config: RunConfig, out: Path, models, g_tx, d_tx, n_critic, data_dir):
        self.config, self.out = config, out
        keys = run_keys(config.seed)
        self.train_key = keys["train"]
        data = load_data(config, data_dir)
        data_lib.check_images(data.train, "training images")
        self.sampler = data_lib.BatchSampler(
            data.train, config.batch_size, keys["data"], group=n_critic
        )
        write_json(out / "config.json", dataclasses.asdict(config))
        self.ckpt = Checkpointer(
            out / "checkpoints", keep=config.keep, every=config.checkpoint_every
        )
        check_signature(out / "checkpoints", config)
        write_json(out / "checkpoints" / "model.json", model_signature(config))
        init = lambda: init_gan_state(models, g_tx, d_tx, keys["init"])  # noqa: E731
        self.state = init()
        if self.ckpt.latest_step() is not None:
            self.state = self.ckpt.restore(jax.eval_shape(init))
        self.log = RunLog(out, config, models, self.ckpt, int(self.state.step))


def train_gan_seeds(
    config: RunConfig,
    seeds: list[int],
    out,
    *,
    resume=False,
    overwrite=False,
    data_dir=None,
    progress=True,
):
    """Trains one GAN per seed, all in one vmapped program. Returns the stacked state."""
    out, config = Path(out), config.validate()
    with folder_lock(out):
        configs = [dataclasses.replace(config, seed=s) for s in seeds]
        for c in configs:
            prepare_output(
                seed_dir(out, c.seed), resume=resume, overwrite=overwrite, marker="config.json"
            )
        models = build_models(config)
        g_tx, d_tx, n_critic = build_optimizers(config)
        runs = [
            _Seed(c, seed_dir(out, c.seed), models, g_tx, d_tx, n_critic, data_dir) for c in configs
        ]
        steps = {int(r.state.step) for r in runs}
        if len(steps) > 1:
            raise RunError(
                f"the seeds' checkpoints are at different steps {sorted(steps)}; resume each "
                "seed alone (`train --seed S --out <out>/seed_S --resume`) to the same step"
            )
        raw = build_step(config, models, g_tx, d_tx, n_critic, jit=False)
        step_fn = xla_cpu.jit(jax.vmap(raw), donate_argnums=0)

        def batch_fn(step):
            return np.stack([r.sampler(step) for r in runs])

        def on_log(step, metrics, rate):
            for i, r in enumerate(runs):
                r.log.on_log(step, {k: v[i] for k, v in metrics.items()}, rate)

        def on_step_end(state):
            step = int(state.step[0])
            due = (config.checkpoint_every, config.sample_every)
            if all(step % every for every in due) and step != config.steps:
                return  # unstacking every step would cost a dispatch per leaf and seed
            for r, s in zip(runs, unstack(state, len(runs)), strict=True):
                r.log.on_step_end(s)

        try:
            state = fit(
                stack([r.state for r in runs]),
                step_fn,
                batch_fn,
                jax.numpy.stack([r.train_key for r in runs]),
                num_steps=config.steps,
                log_every=config.log_every,
                on_log=on_log,
                on_step_end=on_step_end,
                nonfinite_hint=NONFINITE_HINT,
                progress=progress,
                desc=f"train {len(runs)} seeds",
            )
            for r, s in zip(runs, unstack(state, len(runs)), strict=True):
                r.ckpt.save(s, force=True)
        finally:
            for r in runs:
                r.ckpt.close()
        for r in runs:
            r.log.finish()
        return state
