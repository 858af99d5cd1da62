"""A study's complexity-discounted rows (``anogan_jax.complexity``): for each method in
``study.complexity``, the residual column of each seed's per-image scores read as bits, less
the PNG bits of the image, ranked as its own method ``<name>_ic``. Derived from the kept score
files (``score_files``) or the score folders like the seed ensembles, so the searches are not
run again; a class with neither gets no such cell."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from anogan_jax.complexity import RESIDUAL_COLUMNS, complexity_adjusted, png_bits
from anogan_jax.files import read_json, write_json
from anogan_jax.runs.config import RunError
from anogan_jax.runs.gan import load_data
from anogan_jax.runs.scoring import images_at
from anogan_jax.studies.config import (
    COMPLEXITY_SUFFIX,
    Study,
    complexity_name,
    ensemble_name,
)
from anogan_jax.studies.derived import (
    check_same_images,
    derived_cell,
    merge_pair_aurocs,
    pair_row,
    seed_ensemble,
)
from anogan_jax.studies.layout import AUROC_BY_PAIR, cell_path, ensemble_path, table_path
from anogan_jax.studies.score_files import read_source, scores_source


class PngBitsCache:
    """Each image's ``png_bits`` of one seed's data, by its score index, computed once however
    many methods scored the image."""

    def __init__(self, data):
        self.data = data
        self.bits: dict[int, float] = {}

    def __call__(self, indices) -> np.ndarray:
        indices = np.asarray(indices, dtype=np.int64)
        new = np.unique([i for i in indices.tolist() if i not in self.bits])
        if new.size:
            found = png_bits(images_at(self.data, new))
            self.bits.update(zip(new.tolist(), found.tolist(), strict=True))
        return np.array([self.bits[i] for i in indices.tolist()], np.float64)


def adjusted(study: Study, name: str, source: Path, data, bits=None) -> dict:
    """One seed's per-image scores of method ``name`` (``source``: its score file or
    scores.csv, ``score_files.scores_source``) as arrays, with ``score``: its residual column
    in bits less each image's PNG bits, the scale fitted on the normal validation rows;
    ``data``: the class's loaded data (the images it scored); ``bits``: a ``PngBitsCache`` of
    that data to share across methods (a fresh one when None)."""
    method = next(m for m in study.methods if m.name == name)
    column, kind = RESIDUAL_COLUMNS[method.score.method]
    rows = read_source(source)
    if column not in rows:
        raise RunError(
            f"{source} has no column {column!r}, so it was not written by method {name}; "
            "remove that score folder so the study scores it again"
        )
    images = images_at(data, rows["index"])
    residual = rows[column]
    is_val = rows["split"] == "val"
    bits = PngBitsCache(data) if bits is None else bits
    return {
        "column": f"{column}{COMPLEXITY_SUFFIX}",
        "score": complexity_adjusted(
            residual, residual[is_val], images, kind, bits=bits(rows["index"])
        ),
        "index": rows["index"],
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
        complexity_name(name),
        scored["column"],
        scored["label"][test],
        score[test],
        normal_val=score[val] if val.any() else None,
        derived_from=name,
        num_val=int(val.sum()),
    )


def ensemble_cell(study: Study, cls: int, name: str, scored: dict) -> dict:
    """The seed ensemble ``<name>_ens`` of a complexity row ``name`` for class ``cls``, from
    every seed's ``adjusted`` scores (``derived.seed_ensemble``: each seed standardised
    on its normal validation images)."""
    seeds = [scored[s] for s in study.seeds]
    test = [s["is_test"] for s in seeds]
    check_same_images([s["index"][t] for s, t in zip(seeds, test, strict=True)], cls, name)
    parts = [
        (s["score"][t], s["score"][s["is_val"] & np.isfinite(s["score"])])
        for s, t in zip(seeds, test, strict=True)
    ]
    return derived_cell(
        study,
        cls,
        "ensemble",
        ensemble_name(name),
        seeds[0]["column"],
        seeds[0]["label"][test[0]],
        seed_ensemble(parts),
        seeds=list(study.seeds),
    )


def complexity_cells(study: Study, results, runs, data_dir=None) -> int:
    """Writes the missing ``<name>_ic`` cells of every class and seed whose ``<name>`` cell and
    score folder exist, and, when a class's every seed is there, that class's rows of
    ``auroc_by_pair.json`` where they are missing (cells copied from another results folder
    come without them) and the row's seed ensemble when ``study.ensembles`` names it; a class
    with all of these is not read again. Returns how many cells it wrote."""
    written, pairs = 0, {}
    pairs_path = table_path(results, AUROC_BY_PAIR)
    saved_pairs = read_json(pairs_path) if pairs_path.exists() else {}
    for cls in study.classes:
        loaded = {}  # seed -> this class's data and its PNG bits, once for all of its methods
        for name in study.complexity:
            sources = {
                seed: scores_source(results, runs, cls, seed, name)
                for seed in study.seeds
                if cell_path(results, cls, seed, name).exists()
            }
            sources = {seed: path for seed, path in sources.items() if path is not None}
            target_name = complexity_name(name)
            targets = {seed: cell_path(results, cls, seed, target_name) for seed in sources}
            every_seed = len(sources) == len(study.seeds)
            needs_pairs = every_seed and str(cls) not in saved_pairs.get(target_name, {})
            ensemble = ensemble_path(results, cls, target_name)
            needs_ensemble = every_seed and target_name in study.ensembles and not ensemble.exists()
            if all(t.exists() for t in targets.values()) and not (needs_pairs or needs_ensemble):
                continue
            scored = {}
            for seed, path in sources.items():
                if seed not in loaded:
                    config = dataclasses.replace(study.run, cls=cls, seed=seed)
                    data = load_data(config, data_dir)
                    loaded[seed] = data, PngBitsCache(data)
                scored[seed] = adjusted(study, name, path, *loaded[seed])
                if not targets[seed].exists():
                    write_json(targets[seed], complexity_cell(study, cls, seed, name, scored[seed]))
                    written += 1
            if len(scored) == len(study.seeds):
                seeds = [
                    (s["label"][s["is_test"]], s["score"][s["is_test"]], s["class"][s["is_test"]])
                    for s in scored.values()
                ]
                row = pair_row(cls, seeds, target_name)
                pairs.setdefault(target_name, {})[str(cls)] = row
            if needs_ensemble:
                write_json(ensemble, ensemble_cell(study, cls, target_name, scored))
                written += 1
    if pairs:
        merge_pair_aurocs(results, pairs)
    return written
