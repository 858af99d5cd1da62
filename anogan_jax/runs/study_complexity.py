"""A study's complexity-discounted rows (``complexity.py``): for each method in
``study.complexity``, the residual column of each seed's scores.csv read as bits, less the PNG
bits of the image, ranked as its own method ``<name>_ic``. Derived from the score folders like
the seed ensembles, so the searches are not run again; a class whose score folders are gone
gets no such cell."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np

from anogan_jax import metrics
from anogan_jax.complexity import RESIDUAL_COLUMNS, complexity_adjusted
from anogan_jax.files import write_json
from anogan_jax.runs.gan import load_data
from anogan_jax.runs.scoring import images_at
from anogan_jax.runs.seeds import seed_dir
from anogan_jax.runs.study_config import Study
from anogan_jax.runs.study_scores import cell_path, curve_points

SUFFIX = "_ic"


def _rows(path: Path) -> dict[str, np.ndarray]:
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([r[k] for r in rows]) for k in rows[0]} if rows else {}


def complexity_cell(study: Study, cls: int, seed: int, name: str, scores_csv: Path, data) -> dict:
    """The cell of method ``<name>_ic`` for one seed of one class, from the method's
    ``scores_csv`` and the class's loaded ``data`` (the images it scored)."""
    method = next(m for m in study.methods if m.name == name)
    column, kind = RESIDUAL_COLUMNS[method.score.method]
    rows = _rows(scores_csv)
    if column not in rows:
        raise ValueError(f"{scores_csv} has no column {column!r}: it was not scored by {name}")
    images = images_at(data, rows["index"].astype(np.int64))
    residual = rows[column].astype(np.float64)
    is_test, is_val = rows["split"] == "test", rows["split"] == "val"
    score = complexity_adjusted(residual, residual[is_val], images, kind)
    labels = rows["label"].astype(np.int64)
    test = is_test & np.isfinite(score)
    val = is_val & np.isfinite(score)
    summary = metrics.summarize(
        labels[test], score[test], normal_val_scores=score[val] if val.any() else None
    )
    summary["num_finite"] = int(test.sum())
    return {
        "study": study.name,
        "class": cls,
        "seed": seed,
        "method": f"{name}{SUFFIX}",
        "derived_from": name,
        "column": f"{column}{SUFFIX}",
        "scores": {f"{column}{SUFFIX}": summary},
        "num_test": int(is_test.sum()),
        "num_val": int(val.sum()),
        "nonfinite": int((is_test & ~np.isfinite(score)).sum()),
        "curve": curve_points(labels[test], score[test]),
    }


def complexity_cells(study: Study, results, runs, data_dir=None) -> int:
    """Writes the missing ``<name>_ic`` cells of every class and seed whose ``<name>`` cell and
    score folder exist. Returns how many it wrote."""
    results, runs = Path(results), Path(runs)
    written = 0
    for cls in study.classes:
        for seed in study.seeds:
            todo = []
            for name in study.complexity:
                source = seed_dir(runs / f"class_{cls}" / "scores" / name, seed) / "scores.csv"
                target = cell_path(results, cls, seed, f"{name}{SUFFIX}")
                if cell_path(results, cls, seed, name).exists() and source.exists():
                    if not target.exists():
                        todo.append((name, source, target))
            if not todo:
                continue
            data = load_data(dataclasses.replace(study.run, cls=cls, seed=seed), data_dir)
            for name, source, target in todo:
                write_json(target, complexity_cell(study, cls, seed, name, source, data))
                written += 1
    return written
