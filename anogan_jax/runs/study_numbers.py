"""The numbers a study's report is made of, from its cells and results folder: AUROC per method
and class, the seeds' and the subsample's standard errors, the quality-cost points and the
study's time."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from anogan_jax.runs.study_scores import SUBSAMPLE_SE, TIMINGS, TRAINING_TIME, timing_path


def summarize_cells(cells: list[dict], metric: str = "auroc") -> dict:
    """{method: {class: (mean %, std %, n seeds)}} of each method's ranking column."""
    table: dict = {}
    for cell in cells:
        value = cell["scores"][cell["column"]][metric]
        if value is None:  # no finite score to rank by: listed apart in the report
            continue
        value = 100.0 * value
        table.setdefault(cell["method"], {}).setdefault(cell["class"], []).append(value)
    return {
        m: {c: (float(np.mean(v)), float(np.std(v)), len(v)) for c, v in sorted(per.items())}
        for m, per in table.items()
    }


def seed_standard_errors(cells: list[dict], classes) -> dict:
    """{method: standard error (%) of its class-mean AUROC over the seeds}: the class mean of
    each seed, then std (ddof 1) / sqrt(number of seeds). Only methods whose every seed has
    every class (and at least two seeds)."""
    per: dict = {}
    for cell in cells:
        value = cell["scores"][cell["column"]]["auroc"]
        if value is not None and "seed" in cell:
            per.setdefault(cell["method"], {}).setdefault(cell["seed"], {})[cell["class"]] = value
    out = {}
    for method, seeds in per.items():
        means = [
            100.0 * np.mean([v[c] for c in classes])
            for v in seeds.values()
            if set(classes) <= set(v)
        ]
        if len(means) >= 2 and len(means) == len(seeds):
            out[method] = float(np.std(means, ddof=1) / np.sqrt(len(means)))
    return out


def subsample_mean_errors(results, auroc: dict) -> dict:
    """{method: standard error (%) of its class-mean AUROC from the test subsample}: from
    ``<results>/subsample_se.json`` (per class, ``study_scores.subsample_errors``), combined
    over the classes the method has finished as independent errors (the classes' subsamples
    are drawn apart): sqrt(sum of squares) / number of classes. Methods missing a class are
    left out."""
    path = Path(results) / SUBSAMPLE_SE
    if not path.exists():
        return {}
    per = json.loads(path.read_text())
    out = {}
    for method, by_class in per.items():
        done = [str(c) for c in auroc.get(method, {})]
        if done and all(c in by_class for c in done):
            out[method] = float(np.sqrt(sum(by_class[c] ** 2 for c in done)) / len(done))
    return out


# ``experiments/bench_frontier.py`` writes <results>/frontier_speed.json: quiet, steady-state
# images/s of one model per frontier method.
FRONTIER_SPEED = "frontier_speed"


def measured_speeds(results) -> dict | None:
    """method -> images/s from ``<results>/frontier_speed.json``, or None without the file."""
    path = Path(results) / f"{FRONTIER_SPEED}.json"
    if not path.exists():
        return None
    return {r["method"]: r["images_per_s"] for r in json.loads(path.read_text())["rows"]}


def frontier_points(study, cells: list[dict], results) -> list[dict]:
    """For each method of ``study.frontier``: mean AUROC (%) over classes (each class the mean
    over its seeds) against images scored per second: the quiet benchmark's rate when
    ``frontier_speed.json`` is there (``measured_speeds``), else all its cells' images over
    their recorded scoring seconds (the seeds share one program, so each is charged 1/S)."""
    auroc = summarize_cells(cells, "auroc")
    speeds = measured_speeds(results)
    points = []
    for m in study.frontier:
        mine = [c for c in cells if c["method"] == m and c["seed"] != "ensemble"]
        seconds, images = 0.0, 0
        for c in mine:
            t = timing_path(results, c["class"], c["seed"], m)
            if t.exists():
                seconds += json.loads(t.read_text())["score"]
                images += c["num_test"] + c["num_val"]
        rate = images / seconds if seconds > 0 else None
        if speeds is not None:
            rate = speeds.get(m)
        if m in auroc and rate:
            per_class = [v[0] for v in auroc[m].values()]
            points.append(
                {
                    "method": m,
                    "auroc": float(np.mean(per_class)),
                    "images_per_s": rate,
                    "classes": len(per_class),
                }
            )
    return points


def total_hours(results) -> dict:
    """The study's time in hours: ``total_hours``, the sum of the cells' recorded timings
    (training once per class and seed, scoring per cell), which hold only the time of the
    process that wrote each cell; ``score_hours``, their scoring part; and, where
    ``training_time.json`` has them (``study_scores.training_times``, from the run logs, across
    resumes), ``logged_training_hours`` over ``logged_classes`` classes."""
    folder = Path(results) / TIMINGS
    total, score, seen_train = 0.0, 0.0, set()
    for p in sorted(folder.glob("*.json")):
        t = json.loads(p.read_text())
        key = p.stem.split("_")[:2]  # class, seed: training counted once per seed
        if tuple(key) not in seen_train:
            total += t["train_per_seed"] + t["encoder"]
            seen_train.add(tuple(key))
        total += t["score"]
        score += t["score"]
    out = {"total_hours": total / 3600, "score_hours": score / 3600}
    logged = Path(results) / TRAINING_TIME
    if logged.exists():
        per_class = json.loads(logged.read_text())
        seconds = sum(t["gan"] + t["encoder"] for t in per_class.values())
        out.update(logged_training_hours=seconds / 3600, logged_classes=len(per_class))
    return out
