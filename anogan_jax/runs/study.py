"""Reproducible one-class studies: every (class, seed, method) cell, resumable, aggregated.

A study trains the S seeds of each class together (``seeds.train_gan_seeds``),
then their encoders when a method needs one (``encoder_run.train_encoder_seeds``), scores
each method over the S seeds at once (``scoring.score_seeds``), and writes each cell's
result atomically to ``<results>/cells/c<class>_s<seed>_<method>.json``; finished cells are
skipped on rerun. Model selection never looks at test labels: the last checkpoint is used.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from anogan_jax import metrics
from anogan_jax.files import read_json, read_jsonl, write_json
from anogan_jax.runs.checkpoint import latest_step
from anogan_jax.runs.config import EncoderConfig, RunConfig, RunError, ScoreConfig
from anogan_jax.runs.encoder_run import encoder_dir, train_encoder, train_encoder_seeds
from anogan_jax.runs.gan import train_gan
from anogan_jax.runs.provenance import describe
from anogan_jax.runs.scoring import score_seeds
from anogan_jax.runs.seeds import seed_dir, train_gan_seeds


@dataclasses.dataclass(frozen=True)
class Method:
    """A named scoring method: its ScoreConfig, and the score column the report ranks by."""

    name: str
    score: ScoreConfig
    column: str = "A"


@dataclasses.dataclass(frozen=True)
class Study:
    name: str
    run: RunConfig
    classes: tuple[int, ...]
    seeds: tuple[int, ...]
    methods: tuple[Method, ...]
    encoder: EncoderConfig = EncoderConfig()
    published: dict = dataclasses.field(default_factory=dict)  # label -> {class: AUROC %}
    notes: str = ""
    # Methods whose seeds are also combined per image (``ensemble_cells``): "<name>_ens".
    ensembles: tuple[str, ...] = ()
    # Methods drawn as the report's quality-cost frontier (AUROC against images/s).
    frontier: tuple[str, ...] = ()

    def __post_init__(self):
        if self.ensembles and not self.shared_test_set():
            raise RunError(
                f"study {self.name}: seed ensembles need every seed to score the same test "
                f"images, but under {self.run.protocol} each seed draws its own train/test "
                "split; drop ensembles= from the config"
            )

    def shared_test_set(self) -> bool:
        """Whether every seed scores the same test images: under one-class-normal the test set
        does not depend on the seed; under one-class-anomalous each seed draws its own split."""
        return self.run.protocol == "one_class_normal"

    def needs_encoder(self) -> bool:
        return any(m.score.method == "fanogan" or m.score.init == "encoder" for m in self.methods)


def cell_path(results: Path, cls: int, seed: int, method: str) -> Path:
    return results / "cells" / f"c{cls}_s{seed}_{method}.json"


def ensemble_path(results: Path, cls: int, method: str) -> Path:
    return results / "cells" / f"c{cls}_ens_{method}.json"


def check_classes(study: Study, classes) -> tuple[int, ...]:
    """``classes`` (None: all of the study's) after checking that the study has each."""
    if classes is None:
        return study.classes
    wrong = [c for c in classes if c not in study.classes]
    if wrong or not classes:
        raise RunError(
            f"classes {list(classes)}: study {study.name} has the classes "
            f"{list(study.classes)}; give a non-empty subset of them, or none to run them all"
        )
    return tuple(classes)


def cells(study: Study):
    return [(c, s, m) for c in study.classes for s in study.seeds for m in study.methods]


def run_study(
    study: Study, results, runs, *, classes=None, data_dir=None, progress=True
) -> list[dict]:
    """Runs every unfinished cell, or those of ``classes`` only (a subset of the study's: so
    that several processes or machines can share a study, each on its own classes; a class's
    cells do not depend on which process computes them). ``results``: where cell JSONs go
    (committed); ``runs``: where checkpoints go (not committed). Returns all cell results."""
    results, runs = Path(results), Path(runs)
    mine = check_classes(study, classes)
    # Taken at the start: the cores usable now are those XLA:CPU splits its work over.
    computed_on = describe()
    planned = [(c, s, m) for c, s, m in cells(study) if c in mine]
    todo = [(c, s, m) for c, s, m in planned if not cell_path(results, c, s, m.name).exists()]
    bar = tqdm(
        total=len(planned),
        initial=len(planned) - len(todo),
        unit="cell",
        desc=study.name,
        disable=not progress,
    )
    for cls in sorted({c for c, _, _ in todo}):
        class_dir = runs / f"class_{cls}"
        config = dataclasses.replace(study.run, cls=cls)
        seeds = list(study.seeds)
        bar.set_postfix_str(f"class {cls}: GANs")
        train_seconds = _ensure_gans(config, class_dir, seeds, data_dir, progress) / len(seeds)
        bar.set_postfix_str(f"class {cls}: encoders")
        enc_seconds = _ensure_encoders(study, class_dir, seeds, data_dir, progress) / len(seeds)
        pending = {m.name for c, _, m in todo if c == cls}
        for method in [m for m in study.methods if m.name in pending]:
            t1 = time.perf_counter()
            out = class_dir / "scores" / method.name
            bar.set_postfix_str(f"class {cls}: {method.name}")
            reports = score_seeds(
                class_dir,
                out,
                method.score,
                seeds,
                resume=True,
                data_dir=data_dir,
                progress=progress,
            )
            score_seconds = (time.perf_counter() - t1) / len(seeds)
            for seed, report in zip(seeds, reports, strict=True):
                if cell_path(results, cls, seed, method.name).exists():
                    continue
                cell = {
                    "study": study.name,
                    "class": cls,
                    "seed": seed,
                    "method": method.name,
                    "column": method.column,
                    "scores": report["scores"],
                    "num_test": report["num_test"],
                    "num_val": report["num_val"],
                    "nonfinite": len(report["nonfinite_indices"]),
                    "curve": _roc_points(seed_dir(out, seed), method.column),
                }
                # Timings and where the cell was computed live apart so that cell files are
                # byte-identical across reruns; the seeds share one program, so each gets
                # 1/S of its time.
                seconds = {
                    "train_per_seed": train_seconds,
                    "encoder": enc_seconds,
                    "score": score_seconds,
                    "computed_on": computed_on,
                }
                write_json(results / "timings" / f"c{cls}_s{seed}_{method.name}.json", seconds)
                write_json(cell_path(results, cls, seed, method.name), cell)
                bar.update(1)
    bar.close()
    from_score_folders(study, results, runs)
    return load_cells(results)


def _seed_scores(path: Path, column: str):
    """(test indices, test labels, test scores, normal-val scores, test images' dataset
    classes) of one seed's scores.csv."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    test = [r for r in rows if r["split"] == "test"]
    val = np.array([float(r[column]) for r in rows if r["split"] == "val"])
    return (
        np.array([int(r["index"]) for r in test]),
        np.array([int(r["label"]) for r in test]),
        np.array([float(r[column]) for r in test]),
        val,
        np.array([int(r["class"]) for r in test]),
    )


def _class_scores(study: Study, runs: Path, cls: int, method: Method, *, same=True):
    """Each seed's ``_seed_scores`` of ``method`` for class ``cls``, or None while a seed's
    scores.csv is missing. ``same``: the seeds must have scored the same test images (true of
    one-class-normal, where the test set does not depend on the seed)."""
    folders = [
        seed_dir(runs / f"class_{cls}" / "scores" / method.name, s) / "scores.csv"
        for s in study.seeds
    ]
    if not all(f.exists() for f in folders):
        return None
    parts = [_seed_scores(f, method.column) for f in folders]
    if same and any(not np.array_equal(p[0], parts[0][0]) for p in parts):
        raise RunError(f"the seeds of class {cls} scored different images for {method.name}")
    return parts


def ensemble_cells(study: Study, results, runs) -> None:
    """The seed ensemble of each method in ``study.ensembles``: per test image, the mean over
    seeds of the seed's score standardised by the mean and std of that seed's scores on its
    NORMAL validation images (no test label is used), written as the cell
    ``c<class>_ens_<method>.json`` (method "<method>_ens"). Needs every seed's cell of the
    class and the score folders under ``runs``; a class without them is skipped."""
    results, runs = Path(results), Path(runs)
    by_name = {m.name: m for m in study.methods}
    for cls in study.classes:
        for name in study.ensembles:
            method = by_name[name]
            members = [cell_path(results, cls, s, name) for s in study.seeds]
            target = ensemble_path(results, cls, name)
            if target.exists() or not all(p.exists() for p in members):
                continue
            parts = _class_scores(study, runs, cls, method)
            if parts is None:
                continue
            labels = parts[0][1]
            standardised = [(p[2] - p[3].mean()) / max(p[3].std(), 1e-12) for p in parts]
            score = np.mean(standardised, axis=0)
            finite = np.isfinite(score)
            summary = metrics.summarize(labels[finite], score[finite])
            summary["num_finite"] = int(finite.sum())
            cell = {
                "study": study.name,
                "class": cls,
                "seed": "ensemble",
                "seeds": list(study.seeds),
                "method": f"{name}_ens",
                "column": method.column,
                "scores": {method.column: summary},
                "num_test": int(len(labels)),
                "nonfinite": int((~finite).sum()),
                "curve": _curve(labels[finite], score[finite]),
            }
            write_json(target, cell)


SUBSAMPLE_SE = "subsample_se.json"


def subsample_errors(study: Study, results, runs) -> dict:
    """For each method that scores a stratified subsample of the test set (``limit`` > 0):
    class -> the standard error (AUROC %) of its seed-mean AUROC that comes from WHICH test
    images were scored, by DeLong's covariance of the S seeds' AUROCs on that one subsample
    (``metrics.auroc_covariance``; the seeds share the subsample, so their errors correlate).
    Needs each seed's ``scores.csv`` under ``runs``; classes without them are left out. Only
    for one-class-normal: under one-class-anomalous each seed draws its own test set (its
    indices are positions in it, so equal indices need not be equal images) and its own
    subsample, so the spread over seeds already holds this error. Written to
    ``<results>/subsample_se.json`` and returned."""
    results, runs = Path(results), Path(runs)
    out: dict = {}
    if not study.shared_test_set():
        return out
    for method in study.methods:
        if not method.score.limit:
            continue
        for cls in study.classes:
            parts = _class_scores(study, runs, cls, method)
            if parts is None:
                continue
            labels = parts[0][1]
            scores = np.stack([p[2] for p in parts])
            finite = np.all(np.isfinite(scores), axis=0)
            _, cov = metrics.auroc_covariance(labels[finite], scores[:, finite])
            weights = np.full(len(parts), 1.0 / len(parts))
            se = 100.0 * float(np.sqrt(max(weights @ cov @ weights, 0.0)))
            out.setdefault(method.name, {})[str(cls)] = se
    if out:
        write_json(results / SUBSAMPLE_SE, out)
    return out


AUROC_BY_PAIR = "auroc_by_pair.json"


def pair_aurocs(study: Study, results, runs) -> dict:
    """Which classes each method confuses: for each method, study class and other dataset class
    d, the AUROC (%, mean over seeds) of the test images of the anomalous one of the two
    against those of the normal one, each seed on its own test images. Under one-class-normal
    the study class is normal and d an anomaly; under one-class-anomalous the study class is
    the anomaly and d one of the normal classes. Needs each seed's ``scores.csv`` under
    ``runs``; classes without them are left out. Written to ``<results>/auroc_by_pair.json``
    as {method: {class: {d: AUROC}}} and returned."""
    results, runs = Path(results), Path(runs)
    out: dict = {}
    for method in study.methods:
        for cls in study.classes:
            parts = _class_scores(study, runs, cls, method, same=False)
            if parts is None:
                continue
            for _, labels, _, _, classes in parts:
                if len(set(labels[classes == cls].tolist())) != 1:
                    raise RunError(f"class {cls}'s test images of {method.name} differ in label")
            row = {}
            for d in sorted({int(c) for p in parts for c in p[4]} - {cls}):
                aurocs = []
                for _, labels, score, _, classes in parts:
                    keep = ((classes == cls) | (classes == d)) & np.isfinite(score)
                    if len(set(labels[keep].tolist())) == 2:  # a seed may lack d or cls
                        aurocs.append(metrics.auroc(labels[keep], score[keep]))
                if aurocs:
                    row[str(d)] = 100.0 * float(np.mean(aurocs))
            out.setdefault(method.name, {})[str(cls)] = row
    if out:
        write_json(results / AUROC_BY_PAIR, out)
    return out


TRAINING_TIME = "training_time.json"


def logged_seconds(metrics_path: Path) -> float:
    """Wall seconds a run spent training, from its metrics.jsonl: each record's steps since the
    previous record over the rate it logged. A resumed run keeps its records up to the
    checkpoint it resumes from and logs the rest afresh, so the sum spans every process that
    trained it (steps redone after a crash once; the time before its first step, loading data
    or compiling before a resume's first log, partly or not at all)."""
    total, previous = 0.0, 0
    for record in read_jsonl(metrics_path):
        total += (record["step"] - previous) / max(record["steps_per_s"], 1e-12)
        previous = record["step"]
    return total


def _class_training_seconds(logs: list[Path]) -> float:
    """The seeds' training time of one class: seeds trained in one program log the same rates
    (one program's time, counted once); seeds trained alone, the sum over the seeds."""
    records = [[(r["step"], r["steps_per_s"]) for r in read_jsonl(p)] for p in logs]
    if all(r == records[0] for r in records):
        return logged_seconds(logs[0])
    return sum(logged_seconds(p) for p in logs)


def training_times(study: Study, results, runs) -> dict:
    """class -> {"gan": seconds, "encoder": seconds} of the classes whose GANs (and encoders,
    where the study has one) are fully trained under ``runs``, from their logs
    (``logged_seconds``): unlike a cell's timings, which hold the time of the process that
    wrote the cell, this spans every process of a resumed class. Merged into
    ``<results>/training_time.json`` (classes whose runs are gone keep their saved values)
    and returned."""
    results, runs = Path(results), Path(runs)
    path = results / TRAINING_TIME
    out = {str(k): v for k, v in read_json(path).items()} if path.exists() else {}
    for cls in study.classes:
        class_runs = [seed_dir(runs / f"class_{cls}", s) for s in study.seeds]
        gan_logs = [r / "metrics.jsonl" for r in class_runs]
        if not all(p.exists() for p in gan_logs):
            continue
        last = read_jsonl(gan_logs[0])[-1:]
        if not last or last[0]["step"] < study.run.steps:  # still training
            continue
        times = {"gan": _class_training_seconds(gan_logs), "encoder": 0.0}
        if study.needs_encoder():
            folders = [encoder_dir(r, study.encoder.mode) for r in class_runs]
            if not all((f / "summary.json").exists() for f in folders):
                continue
            times["encoder"] = _class_training_seconds([f / "metrics.jsonl" for f in folders])
        out[str(cls)] = times
    if out:
        write_json(path, out)
    return out


def from_score_folders(study: Study, results, runs) -> None:
    """What a study derives from its score folders rather than its cells: the seed ensembles
    (``ensemble_cells``), the subsample errors (``subsample_errors``), the AUROC of each
    pair of classes (``pair_aurocs``) and the training time of each class from its run logs
    (``training_times``)."""
    ensemble_cells(study, results, runs)
    subsample_errors(study, results, runs)
    pair_aurocs(study, results, runs)
    training_times(study, results, runs)


def _ensure_gans(config: RunConfig, class_dir: Path, seeds: list[int], data_dir, progress) -> float:
    """Trains (or resumes) the seeds' GANs together; each seed alone when a crash between the
    seeds' saves left their checkpoints at different steps (then each seed equals its run
    alone: bit for bit where seeds loop, up to float rounding where they are vmapped).
    Returns the seconds spent."""
    t0 = time.perf_counter()
    latest = {latest_step(seed_dir(class_dir, s) / "checkpoints") for s in seeds}
    if len(latest) == 1:
        train_gan_seeds(config, seeds, class_dir, resume=True, data_dir=data_dir, progress=progress)
    else:
        for s in seeds:
            train_gan(
                dataclasses.replace(config, seed=s),
                seed_dir(class_dir, s),
                resume=True,
                data_dir=data_dir,
                progress=progress,
            )
    return time.perf_counter() - t0


def _ensure_encoders(
    study: Study, class_dir: Path, seeds: list[int], data_dir, progress: bool
) -> float:
    """Trains the seeds' encoders together (each seed alone when a crash left
    their checkpoints at different steps). Returns the seconds spent."""
    if not study.needs_encoder():
        return 0.0
    mode, steps = study.encoder.mode, study.encoder.steps
    runs = [seed_dir(class_dir, s) for s in seeds]
    summaries = [encoder_dir(r, mode) / "summary.json" for r in runs]
    if all(p.exists() and read_json(p)["step"] >= steps for p in summaries):
        return 0.0
    t0 = time.perf_counter()
    latest = {latest_step(encoder_dir(r, mode) / "checkpoints") for r in runs}
    if len(latest) == 1:
        train_encoder_seeds(
            class_dir, study.encoder, seeds, resume=True, data_dir=data_dir, progress=progress
        )
    else:
        for r in runs:
            train_encoder(r, study.encoder, resume=True, data_dir=data_dir, progress=progress)
    return time.perf_counter() - t0


def _roc_points(out: Path, column: str, num: int = 101) -> dict:
    """The ROC curve of a score column, resampled at ``num`` FPRs (for the report's plot)."""
    rows = [line.split(",") for line in (out / "scores.csv").read_text().splitlines()]
    header, body = rows[0], [r for r in rows[1:] if r[1] == "test"]
    col = header.index(column)
    labels = np.array([int(r[2]) for r in body])
    scores = np.array([float(r[col]) for r in body])
    labels, scores = labels[np.isfinite(scores)], scores[np.isfinite(scores)]
    return _curve(labels, scores, num)


def _curve(labels, scores, num: int = 101) -> dict:
    if len(np.unique(labels)) < 2:
        return {"fpr": [], "tpr": []}
    fpr, tpr, _ = metrics.roc_curve(labels, scores)
    grid = np.linspace(0, 1, num)
    return {"fpr": grid.round(4).tolist(), "tpr": np.interp(grid, fpr, tpr).round(5).tolist()}


def load_cells(results) -> list[dict]:
    folder = Path(results) / "cells"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
