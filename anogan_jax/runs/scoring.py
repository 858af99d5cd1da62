"""Scoring a run's test split, batch by batch, resumably; `score_report` writes its report.

Layout of a score folder::

    score_config.json   the ScoreConfig (a resumed run must match it)
    data.json           the identity of the data scored (``identity``; a resume must match
                        its test split, and the run's training data must match the run's)
    parts/              one .npz per finished batch, written atomically
    scores.csv          index, split, label, class and every score (test and normal-val rows)
    metrics.json        per score: AUROC, AUPRC, best F1, the val-chosen threshold; timing;
                        with ground-truth masks, pixel AUROC and AUPRO of the residual maps
    roc.png, pr.png, histograms.png, extremes.png
    events/             TensorBoard histograms of each score, normal vs anomalous (``events``)
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from anogan_jax.devices import check_divisible, make_mesh
from anogan_jax.files import read_json, write_json
from anogan_jax.images import check_images
from anogan_jax.runs.batches import run_batches, run_batches_each
from anogan_jax.runs.checkpoint import CheckpointError
from anogan_jax.runs.config import RunConfig, RunError, ScoreConfig, check_same_settings
from anogan_jax.runs.events import EVENTS
from anogan_jax.runs.folders import (
    SEED_FOLDERS,
    check_output,
    folder_lock,
    folder_locks,
    lock_holder,
    seed_dir,
    start_folder,
)
from anogan_jax.runs.gan import MODELS_AXIS, load_data
from anogan_jax.runs.identity import (
    IDENTITY,
    SCORE_HINT,
    check_identity,
    check_run_data,
    read_identity,
)
from anogan_jax.runs.methods import (
    MethodFn,
    check_method_inputs,
    jit_method,
    method_for,
    models_method,
    start_ids,
)
from anogan_jax.runs.models import check_run_folder, gan_identity, load_gan
from anogan_jax.runs.score_report import write_report
from anogan_jax.runs.seeds import seed_mode

# What `score` writes into its folder; --overwrite removes these and nothing else.
OWNED = (
    "score_config.json",
    IDENTITY,
    "scored.json",
    "parts",
    "scores.csv",
    "metrics.json",
    "roc.png",
    "pr.png",
    "histograms.png",
    "extremes.png",
    EVENTS,
)
# ``score --seeds`` also writes one ordinary score folder per seed (``SEED_FOLDERS``), listed
# in the root's manifest.


def stratified_subsample(classes: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded subsample of exactly ``limit`` items, proportional per class:
    each class gets its rounded share, and where the rounded shares do not add up to
    ``limit``, the classes with the largest (or, when over, smallest) remainders give or
    take one item each. Runs of one setting then score the same number of images whatever
    their class counts (the seeds of one-class-anomalous draw their own test sets)."""
    if limit <= 0 or limit >= len(classes):
        return np.arange(len(classes))
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7919]))
    present = np.unique(classes)
    sizes = np.array([np.count_nonzero(classes == c) for c in present])
    exact = limit * sizes / len(classes)
    counts = np.array([int(round(x)) for x in exact])
    short = limit - int(counts.sum())
    if short:
        # Stable order: by remainder (largest first when short, smallest first when over),
        # ties by class order.
        order = np.argsort(-(exact - counts) if short > 0 else exact - counts, kind="stable")
        room = counts < sizes if short > 0 else counts > 0
        for i in [i for i in order if room[i]][: abs(short)]:
            counts[i] += 1 if short > 0 else -1
    chosen = [
        rng.choice(np.flatnonzero(classes == c), size=int(k), replace=False)
        for c, k in zip(present, counts, strict=True)
    ]
    return np.sort(np.concatenate(chosen))


def test_masks(data, config: ScoreConfig):
    """The ground-truth masks (T, H, W) of the scored test images (the rows of ``score_items``
    whose split is "test"), or None when the dataset has none."""
    if getattr(data, "test_masks", None) is None:
        return None
    return data.test_masks[stratified_subsample(data.test_classes, config.limit, config.seed)]


def score_items(data, config: ScoreConfig):
    """(images, indices, labels, classes, split) of what gets scored: the (subsampled) test set
    then ``val_images`` normal validation images (indices continue after the test set)."""
    test_idx = stratified_subsample(data.test_classes, config.limit, config.seed)
    n_val = min(config.val_images, len(data.val))
    images = np.concatenate([data.test[test_idx], data.val[:n_val]])
    indices = np.concatenate([test_idx, len(data.test) + np.arange(n_val)]).astype(np.int64)
    labels = np.concatenate([data.test_labels[test_idx], np.zeros(n_val, np.int32)])
    classes = np.concatenate([data.test_classes[test_idx], np.full(n_val, -1, np.int32)])
    split = np.array(["test"] * len(test_idx) + ["val"] * n_val)
    return images, indices, labels, classes, split


def item_names(data, config: ScoreConfig) -> list[str] | None:
    """The file of each row of ``score_items`` ("" for the validation rows), or None when the
    dataset does not name its images (only folder datasets do)."""
    if getattr(data, "test_names", None) is None:
        return None
    test_idx = stratified_subsample(data.test_classes, config.limit, config.seed)
    return [data.test_names[i] for i in test_idx] + [""] * min(config.val_images, len(data.val))


def images_at(data, indices) -> np.ndarray:
    """The images that ``score_items`` numbered ``indices`` (as scores.csv records them): an
    index below the test set's size is a test image, one above it a validation image."""
    indices = np.asarray(indices, dtype=np.int64)
    n_test = len(data.test)
    if indices.size and (indices.min() < 0 or indices.max() >= n_test + len(data.val)):
        raise RunError(
            f"score indices run from {indices.min()} to {indices.max()}, but the data has "
            f"{n_test} test and {len(data.val)} validation images: the scores were made on "
            "other data (another dataset, class or split)"
        )
    is_val = indices >= n_test
    out = np.empty((len(indices), *data.test.shape[1:]), data.test.dtype)
    out[~is_val] = data.test[indices[~is_val]]
    out[is_val] = data.val[indices[is_val] - n_test]
    return out


def _check_saved(out: Path, name: str, now: dict, resume: bool) -> None:
    """A resumed score folder must have been started with the same settings
    (``score_config.json``), on the same run at the same checkpoint step (``scored.json``).
    Raises RunError naming what differs."""
    path = out / name
    if not resume or not path.exists():
        return
    previous = read_json(path)
    now = _as_recorded(now, previous)
    keys = sorted(set(previous) | set(now))
    diff = {k: (previous.get(k), now.get(k)) for k in keys}
    diff = {k: v for k, v in diff.items() if v[0] != v[1]}
    if diff:
        raise RunError(
            f"--resume of {out} with settings or a model that differ from the saved ones "
            f"{diff} (saved, now); rerun with the saved settings on the same run, or use "
            "--overwrite or another --out"
        )


def _as_recorded(now: dict, previous: dict) -> dict:
    """``now`` without the GAN fingerprint where ``previous`` (a scored.json from before
    fingerprints) has none, so that such a folder still resumes, judged by run and step."""
    if "runs" in now and isinstance(previous.get("runs"), list):
        pairs = zip(now["runs"], previous["runs"] + [{}] * len(now["runs"]), strict=False)
        return {**now, "runs": [_as_recorded(n, p) for n, p in pairs]}
    if (
        "gan_fingerprint" in now
        and isinstance(previous, dict)
        and "gan_fingerprint" not in previous
    ):
        return {k: v for k, v in now.items() if k != "gan_fingerprint"}
    return now


def _check_scored_data(out: Path, identity: dict, resume: bool) -> None:
    """A resumed score folder's saved batches belong to the test images recorded with them:
    refused, naming what changed, when the test split loaded now differs."""
    if resume:
        hint = "score the images there now into another --out (or with --overwrite)"
        check_identity(
            read_identity(out, "score_config.json"), identity, f"--resume of {out}", hint, ("test",)
        )


def _start(out: Path, saved: dict, scored: dict, overwrite: bool, identity: dict) -> None:
    records = {"score_config.json": saved, "scored.json": scored, IDENTITY: identity}
    start_folder(out, (*OWNED, SEED_FOLDERS), overwrite=overwrite, records=records)


def load_trained(run):
    """``gan.load_gan(run)``; a checkpoint that cannot be read while ``train`` holds the run
    (it saves and rotates checkpoints as it goes) is named as such, not as a damaged run."""
    try:
        return load_gan(run)
    except CheckpointError as err:
        pid = lock_holder(run)
        if pid is None:
            raise
        raise CheckpointError(
            f"{run} is being trained now (process {pid}), and its checkpoints changed while "
            "they were read; wait for the training to finish (or score a copy of the run "
            "folder), then run this again"
        ) from err


def _provenance(run, state) -> dict:
    """The run and GAN (``models.gan_identity``) a score folder's saved batches belong to."""
    return {"run": str(Path(run).resolve()), **gan_identity(state)}


def score_run(
    run,
    out,
    config: ScoreConfig,
    *,
    resume=False,
    overwrite=False,
    data_dir=None,
    progress=True,
    devices: int | str = 1,
    seeds: list[int] | None = None,
    accept_new_data: bool = False,
):
    """Scores a trained run's test split into ``out``. Returns the metrics dict.

    ``accept_new_data``: score although the run's training data differ from those it recorded
    (else refused); the score folder's data.json records both (``identity.accepted``).

    ``devices`` > 1 (or "all") splits every batch of images across that many devices.
    ``seeds``: score the runs of several seeds instead (``<run>/seed_<s>``, from ``train
    --seeds``) in one program, each into ``<out>/seed_<s>/``, and return the list of their
    metrics dicts (``_score_seeds``; on one device). Runs of several classes and seeds, each
    into its own folder: ``score_runs``."""
    if seeds is not None:
        if devices != 1:
            raise RunError("scoring several seeds runs on one device: leave --devices at 1")
        return _score_seeds(
            run, out, config, seeds, resume=resume, overwrite=overwrite, data_dir=data_dir,
            progress=progress, accept_new_data=accept_new_data,
        )  # fmt: skip
    out, config = Path(out), config.validate()
    check_run_folder(run)  # before the lock creates ``out``
    check_method_inputs(run, config)
    mesh = None if devices == 1 else make_mesh(devices)
    if mesh is not None:
        check_divisible(config.batch_size, mesh)
    with folder_lock(out):
        check_output(
            out,
            resume=resume,
            overwrite=overwrite,
            marker="score_config.json",
            protect=[run],
            owned=OWNED,
        )
        saved = dataclasses.asdict(config)
        _check_saved(out, "score_config.json", saved, resume)
        loaded = load_trained(run)
        scored = _provenance(run, loaded[2])
        _check_saved(out, "scored.json", scored, resume)
        model = _prepare(run, config, loaded, data_dir, accept_new_data)
        _check_scored_data(out, model.identity, resume)
        _start(out, saved, scored, overwrite, model.identity)
        t0 = time.perf_counter()
        block = config.micro_batch if mesh is None else 1
        results = run_batches(
            jit_method(model.method, mesh, block),
            model.items[0],
            model.items[1],
            batch_size=config.batch_size,
            block=block,
            parts_dir=out / "parts",
            progress=progress,
            desc=config.method,
            ids=model.ids,
        )
        return _write(out, results, model, time.perf_counter() - t0)


def _check_labels(labels: np.ndarray, split: np.ndarray) -> None:
    test = labels[split == "test"]
    if len(np.unique(test)) < 2:
        kind = "anomalous" if test.size and test[0] else "normal"
        raise RunError(
            f"the test images to score are all {kind} ({test.size} images): AUROC needs both "
            "normal and anomalous test images. Use a dataset whose test split holds both, or "
            "a larger --limit"
        )


def _score_seeds(
    root,
    out,
    config: ScoreConfig,
    seeds: list[int],
    *,
    resume=False,
    overwrite=False,
    data_dir=None,
    progress=True,
    accept_new_data=False,
) -> list[dict]:
    """Scores the runs of several seeds (``<root>/seed_<s>``, from ``train --seeds``) as one
    program: every batch holds the same positions of each seed's scored items, and the search
    (or encoder) runs over the seeds' GANs at once (``methods.models_method``, vmapped or
    looped as ``seeds.seed_mode`` says).

    Each seed's results go to ``<out>/seed_<s>/``, an ordinary score folder equal to
    ``score_run(<root>/seed_<s>, ...)`` (bit for bit where the seeds loop, up to float rounding
    where they are vmapped); the shared batch parts live in ``<out>/parts``. Returns the
    per-seed metrics dicts.
    """
    out, config = Path(out), config.validate()
    runs = [check_run_folder(seed_dir(root, s)) for s in seeds]  # before the lock creates out
    for r in runs:
        check_method_inputs(r, config)
    with folder_lock(out):
        check_output(
            out,
            resume=resume,
            overwrite=overwrite,
            marker="score_config.json",
            protect=runs,
            owned=(*OWNED, SEED_FOLDERS),
        )
        saved = {**dataclasses.asdict(config), "seeds": list(seeds)}
        _check_saved(out, "score_config.json", saved, resume)
        loaded = [load_trained(r) for r in runs]
        scored = {"runs": [_provenance(r, st) for r, (_, _, st) in zip(runs, loaded, strict=True)]}
        _check_saved(out, "scored.json", scored, resume)
        check_same_settings(
            [rc for rc, _, _ in loaded], runs, "score them one by one (without --seeds)"
        )
        models = [
            _prepare(r, config, ld, data_dir, accept_new_data)
            for r, ld in zip(runs, loaded, strict=True)
        ]
        _check_scored_data(out, models[0].identity, resume)
        if len({len(m.items[0]) for m in models}) > 1:
            raise RunError(
                f"the seeds score different numbers of images "
                f"{[len(m.items[0]) for m in models]}; score them one by one (without --seeds)"
            )
        _start(out, saved, scored, overwrite, models[0].identity)
        t0 = time.perf_counter()
        results = run_batches(
            models_method([m.method for m in models], _mode(models), config.micro_batch),
            np.stack([m.items[0] for m in models], axis=1),
            np.stack([m.items[1] for m in models], axis=1),
            batch_size=config.batch_size,
            block=config.micro_batch,
            parts_dir=out / "parts",
            progress=progress,
            desc=f"{config.method} x {len(seeds)} seeds",
            ids=np.stack([m.ids for m in models], axis=1),
        )
        wall = (time.perf_counter() - t0) / len(seeds)
        reports = []
        for i, (s, m) in enumerate(zip(seeds, models, strict=True)):
            seed_out = seed_dir(out, s)
            seed_out.mkdir(parents=True, exist_ok=True)
            write_json(seed_out / "score_config.json", dataclasses.asdict(config))
            write_json(seed_out / "scored.json", _provenance(m.run, m.state))
            mine = {k: v[:, i] for k, v in results.items() if k not in _SHARED}
            mine["compute_seconds"] = results["compute_seconds"] / len(seeds)
            mine["computed_images"] = results["computed_images"]
            reports.append(_write(seed_out, mine, m, wall))
        return reports


# The totals of a batch run that its models share rather than hold one per model.
_SHARED = ("compute_seconds", "computed_images")


def score_runs(
    runs,
    outs,
    config: ScoreConfig,
    *,
    resume=False,
    overwrite=False,
    data_dir=None,
    progress=True,
    accept_new_data=False,
) -> list[dict]:
    """Scores M trained runs that differ in class and seed only (the models axis, as
    ``gan.train_gans`` trains them) in one pass over their items, each into its own ordinary
    score folder.

    Args:
      runs: M run folders (same settings but ``cls`` and ``seed``, else RunError).
      outs: M score folders, one per run; each is checked, resumed from its own saved batches
        and written as ``score_run(runs[i], outs[i], ...)`` would (the same files), and equals
        it bit for bit where the models loop, up to float rounding where they are vmapped
        (``seeds.seed_mode``). Everything is checked before anything is written.
      config: the one ScoreConfig of every model.
      resume: as in ``score_run``, for every folder.
      overwrite: as in ``score_run``, for every folder.
      data_dir: the tfds data folder (else $TFDS_DATA_DIR).
      progress: show a progress bar.
      accept_new_data: as in ``score_run``, for every folder.
    Returns:
      each model's metrics dict. Models with as many items to score run as one program whose
      every batch holds the same positions of each model's own items (its class's labels and
      validation images, its seed's test subsample: a one-class-normal study's test images
      pass once for all its models); models with another count run as a program of their own.
      Each model's timings are an equal share of its program's.
    """
    config, runs, outs = (
        config.validate(),
        [check_run_folder(r) for r in runs],
        list(map(Path, outs)),
    )
    if not runs or len(runs) != len(outs):
        raise RunError(f"give one score folder per run: {len(runs)} runs and {len(outs)} folders")
    for r in runs:
        check_method_inputs(r, config)
    with folder_locks(outs):
        saved = dataclasses.asdict(config)
        for o in outs:
            check_output(
                o,
                resume=resume,
                overwrite=overwrite,
                marker="score_config.json",
                protect=runs,
                owned=OWNED,
            )
            _check_saved(o, "score_config.json", saved, resume)
        loaded = [load_trained(r) for r in runs]
        check_same_settings(
            [rc for rc, _, _ in loaded],
            runs,
            "score models of other settings in separate calls",
            free=MODELS_AXIS,
        )
        scored = [_provenance(r, st) for r, (_, _, st) in zip(runs, loaded, strict=True)]
        for o, sc in zip(outs, scored, strict=True):
            _check_saved(o, "scored.json", sc, resume)
        models = [
            _prepare(r, config, ld, data_dir, accept_new_data)
            for r, ld in zip(runs, loaded, strict=True)
        ]
        for o, m in zip(outs, models, strict=True):
            _check_scored_data(o, m.identity, resume)
        for o, sc, m in zip(outs, scored, models, strict=True):
            _start(o, saved, sc, overwrite, m.identity)
        reports = [{}] * len(runs)
        for group in _by_length(models):
            t0 = time.perf_counter()
            results = run_batches_each(
                models_method([models[i].method for i in group], _mode(models), config.micro_batch),
                [models[i].items[0] for i in group],
                [models[i].items[1] for i in group],
                [models[i].ids for i in group],
                batch_size=config.batch_size,
                parts_dirs=[outs[i] / "parts" for i in group],
                block=config.micro_batch,
                progress=progress,
                desc=f"{config.method} x {len(group)} models",
            )
            wall = (time.perf_counter() - t0) / len(group)
            for i, mine in zip(group, results, strict=True):
                reports[i] = _write(outs[i], mine, models[i], wall)
        return reports


class _Model(NamedTuple):
    """One run to score, with what scoring it needs of its data (not the data itself: M
    models would hold M datasets)."""

    run: Path
    run_config: RunConfig
    models: Any
    state: Any
    identity: dict
    items: tuple  # score_items
    ids: np.ndarray  # methods.start_ids of the items
    masks: np.ndarray | None
    names: list[str] | None
    method: MethodFn


def _prepare(run: Path, config: ScoreConfig, loaded, data_dir, accept_new_data) -> _Model:
    """Loads ``run``'s data, checks it against the run's (``check_run_data``; with
    ``accept_new_data`` changed data is accepted and recorded) and takes its items to score
    (checked: the images' shape, both labels present) and its method."""
    run_config, models, state = loaded
    data = load_data(run_config, data_dir, run=run)
    identity = check_run_data(
        run, run_config.dataset, data, f"score of {run}", SCORE_HINT,
        accept=("score", int(state.step)) if accept_new_data else None,
    )  # fmt: skip
    items = score_items(data, config)
    check_images(items[0], "images to score", shape=run_config.image_shape)
    _check_labels(items[2], items[4])
    return _Model(
        run,
        run_config,
        models,
        state,
        identity,
        items,
        start_ids(run_config.dataset, items[0], items[1]),
        test_masks(data, config),
        item_names(data, config),
        method_for(run, config, run_config, models, state, data),
    )


def _mode(models: list[_Model]) -> str:
    """How the models' batches run (``seeds.seed_mode`` of their architecture)."""
    return seed_mode(models[0].run_config.arch)


def _by_length(models: list[_Model]) -> list[list[int]]:
    """The indices of ``models`` grouped by how many items each scores, so that each group
    runs as one program."""
    groups: dict[int, list[int]] = {}
    for i, m in enumerate(models):
        groups.setdefault(len(m.items[0]), []).append(i)
    return list(groups.values())


def _write(out: Path, results: dict, model: _Model, wall: float) -> dict:
    """``write_report`` of one model's results into its score folder ``out``."""
    images, _, labels, classes, split = model.items
    return write_report(
        out,
        results,
        images,
        labels,
        classes,
        split,
        model.models,
        model.state,
        wall_seconds=wall,
        masks=model.masks,
        names=model.names,
    )
