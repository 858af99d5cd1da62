"""The feature classifier behind the GAN metrics: training, storage and loading.

FID and KID compare feature statistics and the Inception Score needs class probabilities; for
28x28 grey images a small classifier trained on the dataset itself (all ten classes) replaces
the ImageNet Inception network. ``models.make_classifier`` defines it; this module trains it
on a dataset's full training split, reports its test accuracy, and loads it for ``evaluate``.

Each dataset's classifier lives in its own folder, ``classifier_dir(dataset, root)``::

    <root>/<dataset>/config.json       ClassifierConfig (what ``--resume`` continues)
    <root>/<dataset>/checkpoints/      orbax checkpoints of ClassifierState
    <root>/<dataset>/classifier.json   written last: dataset, steps, seed, test accuracy

``root`` is an argument, else ``$ANOGAN_JAX_CLASSIFIER_DIR``, else
``~/.cache/anogan_jax/classifiers``.

The weights are produced by a command (``anogan-jax train-classifier --dataset mnist``), not
committed: they are 0.9 M float32 parameters (3.6 MB; an 8 MB checkpoint with the Adam
moments) per dataset, a binary blob in git that would have to be retrained and recommitted
whenever the classifier changes anyway, while training one takes minutes (MNIST, the default
3000 steps of batch 128: 99.28% test accuracy).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from anogan_jax import data as data_lib
from anogan_jax import datasets
from anogan_jax import models as models_lib
from anogan_jax.errors import UserError
from anogan_jax.files import read_json, write_json
from anogan_jax.keys import named_keys
from anogan_jax.loop import all_finite, fit
from anogan_jax.ops import xla_cpu
from anogan_jax.runs.checkpoint import Checkpointer
from anogan_jax.runs.config import NO_LABELS, ClassifierConfig, is_folder, load_config
from anogan_jax.runs.folders import check_output, continue_config, folder_lock, start_folder

ENV_VAR = "ANOGAN_JAX_CLASSIFIER_DIR"
# What `train-classifier` writes into its folder; --overwrite removes these and nothing else.
OWNED = ("config.json", "checkpoints", "classifier.json")
DEFAULT_ROOT = Path("~/.cache/anogan_jax/classifiers")


class ClassifierError(UserError, FileNotFoundError):
    """No trained classifier where one was looked for; the message names the command to run."""


class ClassifierState(NamedTuple):
    """All mutable state of classifier training. ``step`` counts completed steps."""

    step: jax.Array
    params: Any
    opt_state: Any


class TrainedClassifier(NamedTuple):
    network: models_lib.Network
    params: Any
    info: dict  # the contents of classifier.json


def classifier_dir(dataset: str, root=None) -> Path:
    """``<root>/<name>``: root from the argument, else $ANOGAN_JAX_CLASSIFIER_DIR, else
    ~/.cache/anogan_jax/classifiers; name is the dataset, or the file stem of a .npz dataset."""
    root = Path(root or os.environ.get(ENV_VAR) or DEFAULT_ROOT).expanduser()
    name = Path(dataset).stem if dataset.endswith(".npz") else dataset
    return root / name


def random_shift(image: jax.Array, key: jax.Array, max_shift: int) -> jax.Array:
    """Translates one (H, W, C) image by a uniform integer offset in [-max_shift, max_shift]
    per axis, filling with -1 (the background of images scaled to [-1, 1])."""
    m = max_shift
    padded = jnp.pad(image, ((m, m), (m, m), (0, 0)), constant_values=-1.0)
    dy, dx = jax.random.randint(key, (2,), 0, 2 * m + 1)
    return lax.dynamic_slice(padded, (dy, dx, 0), image.shape)


def make_classifier_step(network, tx: optax.GradientTransformation, *, max_shift: int = 0):
    """Builds the jitted ``step(state, (images, labels), key) -> (state, metrics)``.

    Args (of the step):
      batch: images (B, 28, 28, 1) in [-1, 1] and integer labels (B,).
      key: the training key; the step folds in ``state.step``, and image i of the batch is
        shifted with ``fold_in(that key, i)``.
    Returns:
      the new state (the input is donated) and scalar ``loss`` (mean softmax cross-entropy),
      ``accuracy`` (on the augmented batch) and ``finite``.
    """

    def loss_fn(params, images, labels):
        (logits, _), _ = network.apply({"params": params, "batch_stats": {}}, images, train=True)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        return loss, jnp.mean(jnp.argmax(logits, axis=1) == labels)

    def step(state, batch, key):
        images, labels = batch
        key = jax.random.fold_in(key, state.step)
        if max_shift:
            keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(images.shape[0]))
            images = jax.vmap(random_shift, in_axes=(0, 0, None))(images, keys, max_shift)
        (loss, accuracy), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.params, images, labels
        )
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        finite = jnp.isfinite(loss) & all_finite(params)
        new_state = ClassifierState(state.step + 1, params, opt_state)
        return new_state, {"loss": loss, "accuracy": accuracy, "finite": finite}

    return xla_cpu.jit(step, donate_argnums=0)


def init_classifier_state(network, tx, key) -> ClassifierState:
    params = network.init(key)["params"]
    return ClassifierState(jnp.zeros((), jnp.int32), params, tx.init(params))


@functools.lru_cache(maxsize=1)
def _network() -> models_lib.Network:
    # One network per process, so its jitted functions compile once for every load / train.
    return models_lib.make_classifier()


@functools.lru_cache(maxsize=4)
def _build(lr: float, lr_half_life: int, max_shift: int):
    network = _network()
    schedule = optax.exponential_decay(lr, transition_steps=lr_half_life, decay_rate=0.5)
    tx = optax.adam(schedule)
    return network, tx, make_classifier_step(network, tx, max_shift=max_shift)


def _keys(seed: int) -> dict:
    return named_keys(seed, ("init", "data", "train"))


@functools.lru_cache(maxsize=2)
def _outputs_fn(network):
    def outputs(params, images):
        (logits, features), _ = network.apply(
            {"params": params, "batch_stats": {}}, images, train=False
        )
        return features, jax.nn.softmax(logits, axis=1)

    return xla_cpu.jit(outputs)


def make_feature_fn(classifier: TrainedClassifier, *, batch_size: int = 500):
    """Returns ``fn(images) -> (features, probs)``.

    Args (of fn):
      images: (N, 28, 28, 1) in [-1, 1], host or device; run ``batch_size`` at a time through
        one compiled program (the last batch padded), so any N reuses the same compilation.
    Returns (of fn):
      features (N, 128) and class probabilities (N, num_classes), float32 device arrays.
    """
    outputs = _outputs_fn(classifier.network)
    params = classifier.params

    def feature_fn(images):
        n = images.shape[0]
        chunks = []
        for start in range(0, n, batch_size):
            chunk = jnp.asarray(images[start : start + batch_size], jnp.float32)
            pad = batch_size - chunk.shape[0]
            if pad:
                chunk = jnp.pad(chunk, ((0, pad), (0, 0), (0, 0), (0, 0)))
            chunks.append(outputs(params, chunk))
        features, probs = (jnp.concatenate(parts)[:n] for parts in zip(*chunks, strict=True))
        return features, probs

    return feature_fn


def accuracy(classifier: TrainedClassifier, split: datasets.Split) -> float:
    """Top-1 accuracy on a labelled split."""
    _, probs = make_feature_fn(classifier)(split.images)
    return float(np.mean(np.asarray(jnp.argmax(probs, axis=1)) == split.labels))


def _check_labels(labels: np.ndarray, dataset: str) -> None:
    if labels.size and (labels.min() < 0 or labels.max() >= datasets.NUM_CLASSES):
        raise data_lib.DataError(
            f"dataset {dataset!r} has labels outside 0..{datasets.NUM_CLASSES - 1}; "
            "the classifier has ten classes"
        )


def train_classifier(
    dataset: str,
    root=None,
    *,
    steps: int = 3000,
    batch_size: int = 128,
    seed: int = 0,
    data_dir: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    **overrides,
) -> TrainedClassifier:
    """Trains (or resumes) the feature classifier of ``dataset`` into ``classifier_dir``.

    Trains on the full training split (all classes) with Adam and softmax cross-entropy; batch
    s and every random draw are functions of (seed, s), so stopping and resuming gives
    parameters bit-identical to an uninterrupted run. Then measures test accuracy and writes
    ``classifier.json`` (removed while training, so a half-trained folder is never loaded).

    Args:
      overrides: other ClassifierConfig fields (lr, lr_half_life, max_shift, checkpoint_every).
    Returns:
      the trained classifier; ``info["test_accuracy"]`` is its top-1 test accuracy and
      ``info["train_seconds"]`` the wall time of this call (a resumed call: its part only).
    Raises:
      RunError: the folder holds results and neither ``resume`` nor ``overwrite`` was given.
    """
    config = ClassifierConfig(
        dataset=dataset, steps=steps, batch_size=batch_size, seed=seed, **overrides
    ).validate()
    out = classifier_dir(dataset, root)
    with folder_lock(out):
        check_output(out, resume=resume, overwrite=overwrite, marker="config.json")
        config = continue_config(config, out / "config.json", resume=resume)
        train, test = datasets.load_dataset(dataset, data_dir)
        for split in (train, test):
            _check_labels(split.labels, dataset)
        records = {"config.json": dataclasses.asdict(config)}
        start_folder(out, OWNED, overwrite=overwrite, records=records)
        (out / "classifier.json").unlink(missing_ok=True)  # written again when training ends
        t0 = time.perf_counter()
        state = _fit(config, out, train, progress)
        seconds = time.perf_counter() - t0
        classifier = TrainedClassifier(_network(), state.params, {})
        info = {
            "dataset": dataset,
            "steps": int(state.step),
            "batch_size": config.batch_size,
            "seed": config.seed,
            "test_accuracy": accuracy(classifier, test),
            "num_test": len(test.labels),
            "train_seconds": round(seconds, 1),
            "feature_dim": models_lib.CLASSIFIER_FEATURES,
        }
        write_json(out / "classifier.json", info)
        return classifier._replace(info=info)


def _fit(config: ClassifierConfig, out: Path, train: datasets.Split, progress: bool):
    network, tx, step_fn = _build(config.lr, config.lr_half_life, config.max_shift)
    keys = _keys(config.seed)

    def init():
        return init_classifier_state(network, tx, keys["init"])

    ckpt = Checkpointer(out / "checkpoints", keep=2, every=config.checkpoint_every)
    try:
        state = ckpt.restore_or_init(init)
        sampler = data_lib.BatchSampler(train.images, config.batch_size, keys["data"])

        def batch_fn(step):
            idx = sampler.indices(step)
            return train.images[idx], train.labels[idx]

        state = fit(
            state,
            step_fn,
            batch_fn,
            keys["train"],
            num_steps=config.steps,
            log_every=100,
            sync_at=lambda step: step % config.checkpoint_every == 0,
            on_sync=lambda step, state: ckpt.save(state, step=step),
            nonfinite_hint="a lower learning rate (lr=...)",
            progress=progress,
            desc=f"classifier {config.dataset}",
        )
        ckpt.save(state, force=True)
    finally:
        ckpt.close()
    return state


def load_classifier(dataset: str, root=None) -> TrainedClassifier:
    """Loads the trained classifier of ``dataset`` from ``classifier_dir(dataset, root)``.

    Raises:
      ClassifierError: there is none (or its training did not finish); the message says how
        to train it.
    """
    if is_folder(dataset):
        raise ClassifierError(NO_LABELS.format(dataset=dataset))
    out = classifier_dir(dataset, root)
    if not (out / "classifier.json").exists():
        where = f" --classifier-dir {root}" if root else ""
        raise ClassifierError(
            f"no trained classifier for dataset {dataset!r} in {out} (the GAN metrics need "
            f"one); train it with `anogan-jax train-classifier --dataset {dataset}{where}`, or "
            f"point ${ENV_VAR} at the folder that holds <dataset>/classifier.json"
        )
    info = read_json(out / "classifier.json")
    config = load_config(ClassifierConfig, out / "config.json")
    network, tx, _ = _build(config.lr, config.lr_half_life, config.max_shift)
    init_key = _keys(config.seed)["init"]
    ckpt = Checkpointer(out / "checkpoints", keep=2)
    try:
        abstract = jax.eval_shape(lambda: init_classifier_state(network, tx, init_key))
        state = ckpt.restore(abstract, info["steps"])
    finally:
        ckpt.close()
    return TrainedClassifier(network, state.params, info)
