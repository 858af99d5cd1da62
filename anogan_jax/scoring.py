"""Scoring a run's test split, batch by batch, resumably, and writing its report.

Layout of a score folder::

    score_config.json   the ScoreConfig (a resumed run must match it)
    parts/              one .npz per finished batch, written atomically
    scores.csv          index, split, label, class and every score (test and normal-val rows)
    metrics.json        per score: AUROC, AUPRC, best F1, the val-chosen threshold; timing
    roc.png, pr.png, histograms.png, extremes.png
"""

from __future__ import annotations

import dataclasses
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from anogan_jax import metrics as metrics_lib
from anogan_jax import plotting, xla_cpu
from anogan_jax.checkpoint import atomic_write_bytes, atomic_write_text, write_json
from anogan_jax.data import check_images
from anogan_jax.devices import check_divisible, make_mesh, put_batch, put_replicated
from anogan_jax.latent_search import initial_z, make_search, pad_batch
from anogan_jax.runner import (
    RunError,
    check_same_settings,
    folder_lock,
    load_data,
    load_gan,
    prepare_output,
)
from anogan_jax.scores import anogan_scores

METHODS = ("anogan", "fanogan")


@dataclasses.dataclass(frozen=True)
class ScoreConfig:
    method: str = "anogan"
    num_steps: int = 500
    batch_size: int = 256
    lr: float = 0.05
    schedule: str = "constant"
    lam: float = 0.1
    disc: str = "feature"
    clip_to_prior: bool = False
    init: str = "prior"  # or "encoder" (needs a trained encoder in the run)
    kappa: str = "1.0"  # f-AnoGAN: a number, or "calibrated"
    encoder: str = "izi_f"  # which trained encoder (fanogan, or --init encoder)
    seed: int = 0
    limit: int = 0  # 0: the full test set; else a stratified subsample of this size
    val_images: int = 128  # normal validation images scored for the threshold

    def validate(self) -> ScoreConfig:
        if self.method not in METHODS:
            raise RunError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.batch_size <= 0 or self.num_steps <= 0:
            raise RunError("--batch-size and --num-steps must be positive")
        if self.init not in ("prior", "encoder"):
            raise RunError(f"unknown --init {self.init!r}; choose prior or encoder")
        if self.kappa != "calibrated":
            try:
                float(self.kappa)
            except ValueError:
                raise RunError(f"--kappa {self.kappa!r}: give a number or 'calibrated'") from None
        return self


def stratified_subsample(classes: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded subsample of ``limit`` items, proportional per class."""
    if limit <= 0 or limit >= len(classes):
        return np.arange(len(classes))
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7919]))
    chosen = []
    for c in np.unique(classes):
        idx = np.flatnonzero(classes == c)
        k = int(round(limit * len(idx) / len(classes)))
        chosen.append(rng.choice(idx, size=min(k, len(idx)), replace=False))
    return np.sort(np.concatenate(chosen))


def run_batches(
    batch_fn: Callable[[np.ndarray, np.ndarray], dict],
    images: np.ndarray,
    indices: np.ndarray,
    *,
    batch_size: int,
    parts_dir: Path,
    progress: bool = True,
    desc: str = "score",
) -> dict[str, np.ndarray]:
    """Applies ``batch_fn`` to fixed-size batches (the last one padded and masked), saving each
    batch's outputs atomically to ``parts_dir``; batches already saved are loaded, not redone.

    Returns:
      dict of arrays concatenated over all images (padded rows dropped), plus
      ``compute_seconds`` (wall time of the batches computed in this call).
    """
    from tqdm.auto import tqdm

    parts_dir.mkdir(parents=True, exist_ok=True)
    outputs, seconds = [], 0.0
    bar = tqdm(total=len(images), desc=desc, unit="img", disable=not progress)
    for start in range(0, len(images), batch_size):
        part = parts_dir / f"{start:08d}.npz"
        if part.exists():
            with np.load(part) as f:
                outputs.append(dict(f))
            bar.update(len(outputs[-1]["index"]))
            continue
        sl = slice(start, start + batch_size)
        imgs, idx, mask = pad_batch(images[sl], indices[sl], batch_size)
        t0 = time.perf_counter()
        out = jax.device_get(batch_fn(imgs, idx))
        seconds += time.perf_counter() - t0
        out = {k: np.asarray(v)[mask] for k, v in out.items()}
        out["index"] = indices[sl]
        buf = io.BytesIO()
        np.savez(buf, **out)
        atomic_write_bytes(part, buf.getvalue())
        outputs.append(out)
        bar.update(int(mask.sum()))
        bar.set_postfix(img_per_s=f"{int(mask.sum()) / max(seconds, 1e-9):.2f}", refresh=False)
    bar.close()
    merged = {k: np.concatenate([o[k] for o in outputs]) for k in outputs[0]}
    merged["compute_seconds"] = seconds
    return merged


class MethodFn(NamedTuple):
    """A scoring method as data: ``fn(params, images, indices) -> dict`` of per-image arrays,
    pure in ``params`` (one run's pytree), so that it can be jitted for one run or vmapped over
    the stacked params of several seeds. ``fn`` must close over nothing run-specific."""

    params: Any
    fn: Callable


def gan_vars(state):
    g_vars = {"params": state.g_params, "batch_stats": state.g_batch_stats}
    d_vars = {"params": state.d_params, "batch_stats": state.d_batch_stats}
    return g_vars, d_vars


def anogan_method(models, state, config: ScoreConfig, prior: str, encode=None, e_params=None):
    """The AnoGAN method: vmapped latent search from z0, then scores. z0 is a prior draw from
    ``fold_in(key, index)`` or, with ``encode(e_params, images)``, the encoder's E(x)."""
    search = make_search(
        models,
        num_steps=config.num_steps,
        lr=config.lr,
        schedule=config.schedule,
        lam=config.lam,
        disc=config.disc,
        prior=prior,
        clip_to_prior=config.clip_to_prior,
    )
    key = jax.random.fold_in(jax.random.key(config.seed), 1)

    def fn(params, images, indices):
        g_vars, d_vars, enc = params
        if encode is None:
            z0 = initial_z(key, indices, models.latent_dim, prior)
        else:
            z0 = encode(enc, images)
        result = search(g_vars, d_vars, images, z0)
        return {**anogan_scores(result, config.lam), "z": result.z}

    return MethodFn((*gan_vars(state), e_params), fn)


def jit_method(method: MethodFn, mesh=None):
    """``batch_fn(images, indices)`` of one run; with a ``mesh`` every batch is split across
    its devices and the params replicated."""
    fn = xla_cpu.jit(method.fn)
    params = method.params if mesh is None else put_replicated(method.params, mesh)
    put = to_mesh(mesh)
    return lambda images, indices: fn(params, put(images), put(indices))


def vmap_method(methods: list[MethodFn]):
    """``batch_fn(images, indices)`` of S seeds in one program: images (B, S, H, W, C) and
    indices (B, S) in, arrays with a seed axis 1 out."""
    from anogan_jax.seeds import stack

    params = stack([m.params for m in methods])
    fn = xla_cpu.jit(jax.vmap(methods[0].fn, in_axes=(0, 1, 1), out_axes=1))
    return lambda images, indices: fn(params, images, indices)


def to_mesh(mesh):
    """Host batch -> device batch: split across ``mesh`` when given, else left to jit."""
    if mesh is None:
        return lambda x: x
    return lambda x: put_batch(np.asarray(x), mesh)


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


def _check_saved(out: Path, saved: dict, resume: bool) -> None:
    """A resumed score folder must have been started with the same settings."""
    path = out / "score_config.json"
    if resume and path.exists():
        previous = json.loads(path.read_text())
        if previous != saved:
            keys = sorted(set(previous) | set(saved))
            diff = {k: (previous.get(k), saved.get(k)) for k in keys}
            diff = {k: v for k, v in diff.items() if v[0] != v[1]}
            raise RunError(
                f"--resume with settings that differ from the saved ones {diff} "
                "(saved, given); rerun with the saved settings or use --overwrite"
            )
    write_json(path, saved)


def method_for(run, config: ScoreConfig, run_config, models, state, data) -> MethodFn:
    """The MethodFn of ``config`` for one trained run."""
    if config.method == "anogan" and config.init == "prior":
        return anogan_method(models, state, config, run_config.prior)
    from anogan_jax import encoder_run  # it builds on this module

    if config.method == "fanogan":
        return encoder_run.fanogan_method(run, config, run_config, models, state, data)
    return encoder_run.encoder_init_method(run, config, run_config, models, state)


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
):
    """Scores a trained run's test split into ``out``. Returns the metrics dict.

    ``devices`` > 1 (or "all") splits every batch of images across that many devices."""
    out, config = Path(out), config.validate()
    with folder_lock(out):
        prepare_output(out, resume=resume, overwrite=overwrite, marker="score_config.json")
        _check_saved(out, dataclasses.asdict(config), resume)
        run_config, models, state = load_gan(run)
        data = load_data(run_config, data_dir)
        images, indices, labels, classes, split = score_items(data, config)
        check_images(images, "images to score")
        mesh = None if devices == 1 else make_mesh(devices)
        if mesh is not None:
            check_divisible(config.batch_size, mesh)
        method = method_for(run, config, run_config, models, state, data)
        t0 = time.perf_counter()
        results = run_batches(
            jit_method(method, mesh),
            images,
            indices,
            batch_size=config.batch_size,
            parts_dir=out / "parts",
            progress=progress,
            desc=config.method,
        )
        wall = time.perf_counter() - t0
        return write_report(
            out, results, images, labels, classes, split, models, state, wall_seconds=wall
        )


def score_seeds(
    root,
    out,
    config: ScoreConfig,
    seeds: list[int],
    *,
    resume=False,
    overwrite=False,
    data_dir=None,
    progress=True,
) -> list[dict]:
    """Scores the runs of several seeds (``<root>/seed_<s>``, from ``train --seeds``) in one
    vmapped program: every batch holds the same positions of each seed's scored items, and
    the search (or encoder) runs over the stacked GANs at once.

    Each seed's results go to ``<out>/seed_<s>/``, an ordinary score folder equal to
    ``score_run(<root>/seed_<s>, ...)`` up to float rounding; the shared batch parts live in
    ``<out>/parts``. Returns the per-seed metrics dicts.
    """
    from anogan_jax.seeds import seed_dir

    out, config = Path(out), config.validate()
    with folder_lock(out):
        prepare_output(out, resume=resume, overwrite=overwrite, marker="score_config.json")
        _check_saved(out, {**dataclasses.asdict(config), "seeds": list(seeds)}, resume)
        loaded = [load_gan(seed_dir(root, s)) for s in seeds]
        models = loaded[0][1]
        check_same_settings(
            [rc for rc, _, _ in loaded],
            [seed_dir(root, s) for s in seeds],
            "score them one by one (without --seeds)",
        )
        datas = [load_data(rc, data_dir) for rc, _, _ in loaded]
        items = [score_items(d, config) for d in datas]
        if len({len(it[0]) for it in items}) > 1:
            raise RunError(
                f"the seeds score different numbers of images {[len(it[0]) for it in items]}; "
                "score them one by one (without --seeds)"
            )
        for it in items:
            check_images(it[0], "images to score")
        methods = [
            method_for(seed_dir(root, s), config, rc, m, st, d)
            for s, (rc, m, st), d in zip(seeds, loaded, datas, strict=True)
        ]
        t0 = time.perf_counter()
        results = run_batches(
            vmap_method(methods),
            np.stack([it[0] for it in items], axis=1),
            np.stack([it[1] for it in items], axis=1),
            batch_size=config.batch_size,
            parts_dir=out / "parts",
            progress=progress,
            desc=f"{config.method} x {len(seeds)} seeds",
        )
        wall = time.perf_counter() - t0
        reports = []
        for i, s in enumerate(seeds):
            seed_out = seed_dir(out, s)
            seed_out.mkdir(parents=True, exist_ok=True)
            write_json(seed_out / "score_config.json", dataclasses.asdict(config))
            mine = {k: v[:, i] for k, v in results.items() if k != "compute_seconds"}
            mine["compute_seconds"] = results["compute_seconds"] / len(seeds)
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
                )
            )
        return reports


def _score_columns(results: dict) -> list[str]:
    skip = {"index", "z", "compute_seconds"}
    return [k for k, v in results.items() if k not in skip and np.ndim(v) == 1]


def write_report(out, results, images, labels, classes, split, models, state, *, wall_seconds):
    """scores.csv, metrics.json and the plots of a finished scoring run."""
    columns = _score_columns(results)
    finite_by = {c: np.isfinite(results[c]) for c in columns}
    finite = np.all(list(finite_by.values()), axis=0)
    lines = ["index,split,label,class," + ",".join(columns)]
    for i in range(len(labels)):
        vals = ",".join(f"{results[c][i]:.9g}" for c in columns)
        lines.append(f"{results['index'][i]},{split[i]},{labels[i]},{classes[i]},{vals}")
    atomic_write_text(out / "scores.csv", "\n".join(lines) + "\n")
    is_test, is_val = split == "test", split == "val"
    report = {"scores": {}, "num_test": int(is_test.sum()), "num_val": int((is_val & finite).sum())}
    bad = results["index"][~finite].tolist()
    report["nonfinite_indices"] = bad
    if bad:
        counts = {c: int((~f).sum()) for c, f in finite_by.items() if not f.all()}
        print(
            f"warning: {len(bad)} images gave a non-finite score (per score: {counts}); each "
            f"score is evaluated on its finite images only. First indices: {bad[:20]}"
        )
    curves_roc, curves_pr = {}, {}
    for c in columns:
        test, val = is_test & finite_by[c], is_val & finite_by[c]
        s, y = results[c][test], labels[test]
        if len(np.unique(y)) < 2:
            # Nothing to rank: every test image (or every one of a class) is non-finite.
            report["scores"][c] = {"auroc": None, "auprc": None, "num_finite": int(test.sum())}
            continue
        report["scores"][c] = metrics_lib.summarize(
            y, s, normal_val_scores=results[c][val] if val.any() else None
        )
        report["scores"][c]["num_finite"] = int(test.sum())
        fpr, tpr, _ = metrics_lib.roc_curve(y, s)
        prec, rec, _ = metrics_lib.pr_curve(y, s)
        curves_roc[c] = (fpr, tpr, report["scores"][c]["auroc"])
        curves_pr[c] = (rec, prec, report["scores"][c]["auprc"])
    computed = results["compute_seconds"]
    report["wall_seconds"] = wall_seconds
    report["images_per_second"] = float(len(labels) / computed) if computed > 0 else None
    write_json(out / "metrics.json", report)
    plotting.roc_pr_curves(out / "roc.png", curves_roc, kind="roc")
    plotting.roc_pr_curves(out / "pr.png", curves_pr, kind="pr")
    test = is_test & finite  # the images with every score finite
    if test.any():
        plotting.score_histograms(
            out / "histograms.png", {c: results[c][test] for c in columns}, labels[test]
        )
        _extremes(out / "extremes.png", results, images, labels, test, models, state)
    return report


def _extremes(path, results, images, labels, test, models, state, k: int = 5):
    """The k highest- and k lowest-scoring test images with G(z*) and the residual map."""
    score = results["A"]
    order = np.flatnonzero(test)[np.argsort(score[test])]
    chosen = np.concatenate([order[::-1][:k], order[:k]])
    g_vars = {"params": state.g_params, "batch_stats": state.g_batch_stats}
    gx = np.asarray(models.generator.apply(g_vars, results["z"][chosen], train=False)[0])
    rows = []
    for j, i in enumerate(chosen):
        tag = "high" if j < k else "low"
        caption = f"{tag} A={score[i]:.3g}\nlabel {labels[i]}"
        rows.append((caption, images[i], gx[j], np.abs(images[i] - gx[j])))
    plotting.extremes_grid(path, rows)
