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
import io
import time
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np
from tqdm.auto import tqdm

from anogan_jax.devices import check_divisible, make_mesh
from anogan_jax.files import atomic_write_bytes, read_json, write_json
from anogan_jax.images import check_images
from anogan_jax.latent_search import pad_batch
from anogan_jax.runs.checkpoint import CheckpointError
from anogan_jax.runs.config import RunError, ScoreConfig, check_same_settings
from anogan_jax.runs.events import EVENTS
from anogan_jax.runs.folders import (
    SEED_FOLDERS,
    check_output,
    folder_lock,
    lock_holder,
    seed_dir,
    start_folder,
)
from anogan_jax.runs.gan import load_data
from anogan_jax.runs.identity import (
    IDENTITY,
    SCORE_HINT,
    check_identity,
    check_run_data,
    read_identity,
)
from anogan_jax.runs.methods import (
    check_method_inputs,
    jit_method,
    method_for,
    start_ids,
    vmap_method,
)
from anogan_jax.runs.models import check_run_folder, gan_identity, load_gan
from anogan_jax.runs.score_report import write_report

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


def run_batches(
    batch_fn: Callable[[np.ndarray, np.ndarray], dict],
    images: np.ndarray,
    indices: np.ndarray,
    *,
    batch_size: int,
    parts_dir: Path,
    block: int = 1,
    progress: bool = True,
    desc: str = "score",
    ids: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Applies ``batch_fn(images, ids)`` to fixed-size batches (every batch padded to a
    multiple of ``block`` rows, the last one too, and masked), saving each batch's outputs
    atomically to ``parts_dir``; batches already saved are loaded, not redone. ``ids``: what
    the method folds into its key per image (``methods.start_ids``; default ``indices``);
    ``indices`` number the images in the saved parts.

    Returns:
      dict of arrays concatenated over all images (padded rows dropped), plus
      ``compute_seconds`` (wall time of the batches computed in this call) and
      ``computed_images`` (how many images those batches held).
    """
    parts_dir.mkdir(parents=True, exist_ok=True)
    ids = indices if ids is None else ids
    outputs, seconds, computed = [], 0.0, 0
    bar = tqdm(total=len(images), desc=desc, unit="img", disable=not progress)
    for start in range(0, len(images), batch_size):
        part = parts_dir / f"{start:08d}.npz"
        sl = slice(start, start + batch_size)
        if part.exists():
            with np.load(part) as f:
                outputs.append(dict(f))
            if not np.array_equal(outputs[-1]["index"], indices[sl]):
                raise RunError(
                    f"the saved batch {part} holds other images than this resume scores (the "
                    "data, its split or the subsample changed since it was written); score "
                    "into another --out, or --overwrite this one"
                )
            bar.update(len(outputs[-1]["index"]))
            continue
        imgs, idx, mask = pad_batch(images[sl], ids[sl], -(-batch_size // block) * block)
        t0 = time.perf_counter()
        out = jax.device_get(batch_fn(imgs, idx))
        seconds += time.perf_counter() - t0
        out = {k: np.asarray(v)[mask] for k, v in out.items()}
        out["index"] = indices[sl]
        buf = io.BytesIO()
        np.savez(buf, **out)
        atomic_write_bytes(part, buf.getvalue())
        outputs.append(out)
        computed += int(mask.sum())
        bar.update(int(mask.sum()))
        bar.set_postfix(img_per_s=f"{computed / max(seconds, 1e-9):.2f}", refresh=False)
    bar.close()
    merged = {k: np.concatenate([o[k] for o in outputs]) for k in outputs[0]}
    merged["compute_seconds"] = seconds
    merged["computed_images"] = computed
    return merged


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
    --seeds``) in one vmapped program, each into ``<out>/seed_<s>/``, and return the list of
    their metrics dicts (``_score_seeds``; on one device)."""
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
        run_config, models, state = load_trained(run)
        scored = _provenance(run, state)
        _check_saved(out, "scored.json", scored, resume)
        data = load_data(run_config, data_dir, run=run)
        identity = check_run_data(
            run, run_config.dataset, data, f"score of {run}", SCORE_HINT,
            accept=("score", int(state.step)) if accept_new_data else None,
        )  # fmt: skip
        _check_scored_data(out, identity, resume)
        images, indices, labels, classes, split = score_items(data, config)
        check_images(images, "images to score", shape=run_config.image_shape)
        _check_labels(labels, split)
        method = method_for(run, config, run_config, models, state, data)
        _start(out, saved, scored, overwrite, identity)
        t0 = time.perf_counter()
        block = config.micro_batch if mesh is None else 1
        results = run_batches(
            jit_method(method, mesh, block),
            images,
            indices,
            batch_size=config.batch_size,
            block=block,
            parts_dir=out / "parts",
            progress=progress,
            desc=config.method,
            ids=start_ids(run_config.dataset, images, indices),
        )
        wall = time.perf_counter() - t0
        return write_report(
            out,
            results,
            images,
            labels,
            classes,
            split,
            models,
            state,
            wall_seconds=wall,
            masks=test_masks(data, config),
            names=item_names(data, config),
        )


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
    """Scores the runs of several seeds (``<root>/seed_<s>``, from ``train --seeds``) in one
    vmapped program: every batch holds the same positions of each seed's scored items, and
    the search (or encoder) runs over the stacked GANs at once.

    Each seed's results go to ``<out>/seed_<s>/``, an ordinary score folder equal to
    ``score_run(<root>/seed_<s>, ...)`` up to float rounding; the shared batch parts live in
    ``<out>/parts``. Returns the per-seed metrics dicts.
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
        models = loaded[0][1]
        check_same_settings(
            [rc for rc, _, _ in loaded], runs, "score them one by one (without --seeds)"
        )
        datas = [load_data(rc, data_dir, run=r) for r, (rc, _, _) in zip(runs, loaded, strict=True)]
        identity = [
            check_run_data(
                r,
                rc.dataset,
                d,
                f"score of {r}",
                SCORE_HINT,
                accept=("score", int(st.step)) if accept_new_data else None,
            )
            for r, (rc, _, st), d in zip(runs, loaded, datas, strict=True)
        ][0]
        _check_scored_data(out, identity, resume)
        items = [score_items(d, config) for d in datas]
        if len({len(it[0]) for it in items}) > 1:
            raise RunError(
                f"the seeds score different numbers of images {[len(it[0]) for it in items]}; "
                "score them one by one (without --seeds)"
            )
        for it in items:
            check_images(it[0], "images to score", shape=loaded[0][0].image_shape)
            _check_labels(it[2], it[4])
        methods = [
            method_for(r, config, rc, m, st, d)
            for r, (rc, m, st), d in zip(runs, loaded, datas, strict=True)
        ]
        _start(out, saved, scored, overwrite, identity)
        t0 = time.perf_counter()
        results = run_batches(
            vmap_method(methods, config.micro_batch),
            np.stack([it[0] for it in items], axis=1),
            np.stack([it[1] for it in items], axis=1),
            batch_size=config.batch_size,
            block=config.micro_batch,
            parts_dir=out / "parts",
            progress=progress,
            desc=f"{config.method} x {len(seeds)} seeds",
            ids=np.stack(
                [
                    start_ids(rc.dataset, it[0], it[1])
                    for (rc, _, _), it in zip(loaded, items, strict=True)
                ],
                axis=1,
            ),
        )
        wall = time.perf_counter() - t0
        reports = []
        shared = ("compute_seconds", "computed_images")
        for i, (s, r) in enumerate(zip(seeds, runs, strict=True)):
            seed_out = seed_dir(out, s)
            seed_out.mkdir(parents=True, exist_ok=True)
            write_json(seed_out / "score_config.json", dataclasses.asdict(config))
            write_json(seed_out / "scored.json", _provenance(r, loaded[i][2]))
            mine = {k: v[:, i] for k, v in results.items() if k not in shared}
            mine["compute_seconds"] = results["compute_seconds"] / len(seeds)
            mine["computed_images"] = results["computed_images"]
            reports.append(
                write_report(
                    seed_out,
                    mine,
                    items[i][0],
                    items[i][2],
                    items[i][3],
                    items[i][4],
                    models,
                    loaded[i][2],
                    wall_seconds=wall / len(seeds),
                    masks=test_masks(datas[i], config),
                    names=item_names(datas[i], config),
                )
            )
        return reports
