"""A study's complexity-discounted rows (``complexity.py``): for each method in
``study.complexity``, the residual column of each seed's scores.csv read as bits, less the PNG
bits of the image, ranked as its own method ``<name>_ic``. Derived from the score folders like
the seed ensembles, so the searches are not run again; a class whose score folders are gone
gets no such cell."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from anogan_jax.complexity import RESIDUAL_COLUMNS, complexity_adjusted
from anogan_jax.files import read_json, write_json
from anogan_jax.runs.config import RunError
from anogan_jax.runs.gan import load_data
from anogan_jax.runs.scoring import images_at
from anogan_jax.runs.seeds import seed_dir
from anogan_jax.runs.study_config import Study
from anogan_jax.runs.study_scores import (
    AUROC_BY_PAIR,
    cell_path,
    derived_cell,
    merge_pair_aurocs,
    pair_row,
    read_scores,
)

SUFFIX = "_ic"


def adjusted(study: Study, name: str, scores_csv: Path, data) -> dict:
    """One seed's scores.csv of method ``name`` as arrays, with ``score``: its residual column
    in bits less each image's PNG bits, the scale fitted on the csv's normal validation rows;
    ``data``: the class's loaded data (the images it scored)."""
    method = next(m for m in study.methods if m.name == name)
    column, kind = RESIDUAL_COLUMNS[method.score.method]
    rows = read_scores(scores_csv)
    if column not in rows:
        raise RunError(
            f"{scores_csv} has no column {column!r}, so it was not written by method {name}; "
            "remove that score folder so the study scores it again"
        )
    images = images_at(data, rows["index"])
    residual = rows[column]
    is_val = rows["split"] == "val"
    return {
        "column": f"{column}{SUFFIX}",
        "score": complexity_adjusted(residual, residual[is_val], images, kind),
        "label": rows["label"],
        "class": rows["class"],
        "is_test": rows["split"] == "test",
        "is_val": is_val,
    }


def complexity_cell(study: Study, cls: int, seed: int, name: str, scored: dict) -> dict:
    """The cell of method ``<name>_ic`` for one seed of one class, from ``adjusted``."""
    score, test = scored["score"], scored["is_test"]
    val = scored["is_val"] & np.isfinite(score)
    return derived_cell(
        study,
        cls,
        seed,
        f"{name}{SUFFIX}",
        scored["column"],
        scored["label"][test],
        score[test],
        normal_val=score[val] if val.any() else None,
        derived_from=name,
        num_val=int(val.sum()),
    )


def complexity_cells(study: Study, results, runs, data_dir=None) -> int:
    """Writes the missing ``<name>_ic`` cells of every class and seed whose ``<name>`` cell and
    score folder exist, and, when a class's every seed is there, that class's rows of
    ``auroc_by_pair.json`` where they are missing (cells copied from another results folder
    come without them); a class with both is not read again. Returns how many cells it
    wrote."""
    results, runs = Path(results), Path(runs)
    written, pairs = 0, {}
    saved_pairs = read_json(results / AUROC_BY_PAIR) if (results / AUROC_BY_PAIR).exists() else {}
    for cls in study.classes:
        loaded = {}  # seed -> this class's data, loaded once for all of its methods
        for name in study.complexity:
            sources = {
                seed: seed_dir(runs / f"class_{cls}" / "scores" / name, seed) / "scores.csv"
                for seed in study.seeds
                if cell_path(results, cls, seed, name).exists()
            }
            sources = {seed: path for seed, path in sources.items() if path.exists()}
            targets = {seed: cell_path(results, cls, seed, f"{name}{SUFFIX}") for seed in sources}
            needs_pairs = len(sources) == len(study.seeds) and str(cls) not in saved_pairs.get(
                f"{name}{SUFFIX}", {}
            )
            if all(t.exists() for t in targets.values()) and not needs_pairs:
                continue
            scored = {}
            for seed, path in sources.items():
                if seed not in loaded:
                    config = dataclasses.replace(study.run, cls=cls, seed=seed)
                    loaded[seed] = load_data(config, data_dir)
                scored[seed] = adjusted(study, name, path, loaded[seed])
                if not targets[seed].exists():
                    write_json(targets[seed], complexity_cell(study, cls, seed, name, scored[seed]))
                    written += 1
            if len(scored) == len(study.seeds):
                seeds = [
                    (s["label"][s["is_test"]], s["score"][s["is_test"]], s["class"][s["is_test"]])
                    for s in scored.values()
                ]
                row = pair_row(cls, seeds, f"{name}{SUFFIX}")
                pairs.setdefault(f"{name}{SUFFIX}", {})[str(cls)] = row
    if pairs:
        merge_pair_aurocs(results, pairs)
    return written
