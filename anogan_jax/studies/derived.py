"""What a study derives from its cells' per-image scores rather than from the cells
themselves: the seed ensembles, the subsample errors and the AUROC of each pair of classes (and,
from the run logs, each class's training time: ``training_time``). Each derived file is written
into the study's results folder, so that a report rewritten after the run folders are gone
keeps it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anogan_jax import metrics
from anogan_jax.files import read_json, write_json
from anogan_jax.runs.config import RunError
from anogan_jax.studies import layout
from anogan_jax.studies.config import Method, Study, ensemble_name
from anogan_jax.studies.layout import AUROC_BY_PAIR, SUBSAMPLE_SE
from anogan_jax.studies.score_files import keep_all_scores, read_scores, seed_scores
from anogan_jax.studies.training_time import training_times


def _seed_scores(table: dict, column: str):
    """(test indices, test labels, test scores, normal-val scores, test images' dataset
    classes) of one seed's per-image scores (``score_files.seed_scores``)."""
    test, val = table["split"] == "test", table["split"] == "val"
    score = table[column]
    return table["index"][test], table["label"][test], score[test], score[val], table["class"][test]


def _class_scores(study: Study, results, runs, cls: int, method: Method, *, same=True):
    """Each seed's ``_seed_scores`` of ``method`` for class ``cls`` (from its score file, or
    its scores.csv under ``runs``), or None while a seed has neither. ``same``: the seeds must
    have scored the same test images (true of one-class-normal, where the test set does not
    depend on the seed)."""
    tables = [seed_scores(results, runs, cls, s, method.name) for s in study.seeds]
    if any(t is None for t in tables):
        return None
    parts = [_seed_scores(t, method.column) for t in tables]
    if same:
        check_same_images([p[0] for p in parts], cls, method.name)
    return parts


def check_same_images(indices: list, cls: int, name: str) -> None:
    """Refuses seeds whose test images (``indices``, one array per seed) differ: their scores
    cannot be combined per image."""
    if any(not np.array_equal(i, indices[0]) for i in indices):
        raise RunError(f"the seeds of class {cls} scored different images for {name}")


def ensemble_cells(study: Study, results, runs) -> None:
    """The seed ensemble of each method in ``study.ensembles``: per test image, the mean over
    seeds of the seed's score standardised by the mean and std of that seed's scores on its
    NORMAL validation images (no test label is used), written as the cell
    ``c<class>_ens_<method>.json`` (method "<method>_ens"). Needs every seed's cell of the
    class and its per-image scores (kept under ``results``, or the score folders under
    ``runs``); a class without them is skipped. The ensembles of complexity rows are
    ``complexity.complexity_cells``'s."""
    by_name = {m.name: m for m in study.methods}
    for cls in study.classes:
        for name in study.ensembles:
            if name not in by_name:
                continue
            method = by_name[name]
            members = [layout.cell_path(results, cls, s, name) for s in study.seeds]
            target = layout.ensemble_path(results, cls, name)
            if target.exists() or not all(p.exists() for p in members):
                continue
            parts = _class_scores(study, results, runs, cls, method)
            if parts is None:
                continue
            labels = parts[0][1]
            score = seed_ensemble([(p[2], p[3]) for p in parts])
            cell = derived_cell(
                study,
                cls,
                "ensemble",
                ensemble_name(name),
                method.column,
                labels,
                score,
                seeds=list(study.seeds),
            )
            write_json(target, cell)


def seed_ensemble(seeds: list) -> np.ndarray:
    """Per test image, the mean over ``seeds`` -- each (test scores, normal validation scores),
    the same test images in the same order -- of the seed's score standardised by the mean and
    std of its normal validation scores (no test label is used)."""
    return np.mean([(test - val.mean()) / max(val.std(), 1e-12) for test, val in seeds], axis=0)


def derived_cell(
    study: Study,
    cls: int,
    seed,
    method: str,
    column: str,
    labels,
    score,
    *,
    normal_val=None,
    **extra,
) -> dict:
    """The cell of a method derived from score folders (a seed ensemble, a complexity row) from
    its test images' ``labels`` and ``score``: the metrics and ROC curve of the finite scores,
    how many were not finite, and ``extra`` fields. ``normal_val``: finite scores of normal
    validation images, for the threshold metrics (``metrics.summarize``)."""
    finite = np.isfinite(score)
    summary = metrics.summarize(labels[finite], score[finite], normal_val_scores=normal_val)
    summary["num_finite"] = int(finite.sum())
    return {
        "study": study.name,
        "class": cls,
        "seed": seed,
        "method": method,
        "column": column,
        "scores": {column: summary},
        "num_test": int(len(labels)),
        "nonfinite": int((~finite).sum()),
        "curve": curve_points(labels[finite], score[finite]),
        **extra,
    }


def subsample_errors(study: Study, results, runs) -> dict:
    """For each method that scores a stratified subsample of the test set (``limit`` > 0):
    class -> the standard error (AUROC %) of its seed-mean AUROC that comes from WHICH test
    images were scored, by DeLong's covariance of the S seeds' AUROCs on that one subsample
    (``metrics.auroc_covariance``; the seeds share the subsample, so their errors correlate).
    Needs each seed's per-image scores (``score_files.seed_scores``); classes without them keep
    the values saved in the file (``_merged``), or are left out. Only for one-class-normal: under
    one-class-anomalous each seed draws its own test set (its indices are positions in it, so
    equal indices need not be equal images) and its own subsample, so the spread over seeds
    already holds this error. Written to ``<results>/subsample_se.json`` and returned."""
    out: dict = {}
    if not study.shared_test_set():
        return out
    for method in study.methods:
        if not method.score.limit:
            continue
        for cls in study.classes:
            parts = _class_scores(study, results, runs, cls, method)
            if parts is None:
                continue
            labels = parts[0][1]
            scores = np.stack([p[2] for p in parts])
            finite = np.all(np.isfinite(scores), axis=0)
            _, cov = metrics.auroc_covariance(labels[finite], scores[:, finite])
            weights = np.full(len(parts), 1.0 / len(parts))
            se = 100.0 * float(np.sqrt(max(weights @ cov @ weights, 0.0)))
            out.setdefault(method.name, {})[str(cls)] = se
    return _merged(layout.table_path(results, SUBSAMPLE_SE), out)


def pair_aurocs(study: Study, results, runs) -> dict:
    """Which classes each method confuses: for each method, study class and other dataset class
    d, the AUROC (%, mean over seeds) of the test images of the anomalous one of the two
    against those of the normal one, each seed on its own test images. Under one-class-normal
    the study class is normal and d an anomaly; under one-class-anomalous the study class is
    the anomaly and d one of the normal classes. Needs each seed's per-image scores
    (``score_files.seed_scores``); classes without them keep their saved values (``_merged``).
    Written to ``<results>/auroc_by_pair.json`` as {method: {class: {d: AUROC}}} and
    returned."""
    out: dict = {}
    for method in study.methods:
        for cls in study.classes:
            parts = _class_scores(study, results, runs, cls, method, same=False)
            if parts is not None:
                seeds = [(p[1], p[2], p[4]) for p in parts]
                out.setdefault(method.name, {})[str(cls)] = pair_row(cls, seeds, method.name)
    return merge_pair_aurocs(results, out)


def pair_row(cls: int, seeds: list, what: str) -> dict:
    """{d: AUROC %} of class ``cls`` against each other class d, the mean over ``seeds``:
    per seed (labels, scores, dataset classes) of its test images."""
    for labels, _, classes in seeds:
        if len(set(labels[classes == cls].tolist())) != 1:
            raise RunError(f"class {cls}'s test images of {what} differ in label")
    row = {}
    for d in sorted({int(c) for _, _, classes in seeds for c in classes} - {cls}):
        aurocs = []
        for labels, score, classes in seeds:
            keep = ((classes == cls) | (classes == d)) & np.isfinite(score)
            if len(set(labels[keep].tolist())) == 2:  # a seed may lack d or cls
                aurocs.append(metrics.auroc(labels[keep], score[keep]))
        if aurocs:
            row[str(d)] = 100.0 * float(np.mean(aurocs))
    return row


def merge_pair_aurocs(results, new: dict) -> dict:
    """``new`` rows ({method: {class: {d: AUROC}}}) merged into ``auroc_by_pair.json``."""
    return _merged(layout.table_path(results, AUROC_BY_PAIR), new)


def in_class_order(table: dict) -> dict:
    """``table`` ({class as str: value}) in class order."""
    return dict(sorted(table.items(), key=lambda kv: int(kv[0])))


def _merged(path: Path, new: dict) -> dict:
    """``new`` ({method: {class: value}}) over what ``path`` holds, written back and returned:
    a class whose score folders are gone (another machine, a cleaned run folder) keeps the
    values saved when they were there."""
    out = read_json(path) if path.exists() else {}
    for method, rows in new.items():
        out[method] = in_class_order({**out.get(method, {}), **rows})
    if out:
        write_json(path, out)
    return out


def from_score_folders(study: Study, results, runs) -> None:
    """What a study derives from its per-image scores rather than its cells, after keeping the
    score folders still under ``runs`` with the cells (``score_files.keep_all_scores``): the
    seed ensembles (``ensemble_cells``), the subsample errors (``subsample_errors``), the AUROC
    of each pair of classes (``pair_aurocs``) and the training time of each class from its run
    logs (``training_time.training_times``)."""
    keep_all_scores(study, results, runs)
    ensemble_cells(study, results, runs)
    subsample_errors(study, results, runs)
    pair_aurocs(study, results, runs)
    training_times(study, results, runs)


def roc_points(scores_csv, column: str, num: int = 101) -> dict:
    """The ROC curve of a score column of a scores.csv, resampled at ``num`` FPRs (for the
    report's plot)."""
    table = read_scores(scores_csv)
    keep = (table["split"] == "test") & np.isfinite(table[column])
    return curve_points(table["label"][keep], table[column][keep], num)


def curve_points(labels, scores, num: int = 101) -> dict:
    if len(np.unique(labels)) < 2:
        return {"fpr": [], "tpr": []}
    fpr, tpr, _ = metrics.roc_curve(labels, scores)
    grid = np.linspace(0, 1, num)
    return {"fpr": grid.round(4).tolist(), "tpr": np.interp(grid, fpr, tpr).round(5).tolist()}
