"""Where everything of a study lives: the one place that names its files and folders.

A study has two folders. ``results`` (committed) holds, per (class, seed, method), its cell
``cells/c<class>_s<seed>_<method>.json`` (a seed ensemble: ``cells/c<class>_ens_<method>.json``),
its timing record ``timings/c<class>_s<seed>_<method>.json`` and its per-image scores
``scores/c<class>_s<seed>_<method>.npz``; beside them the study's derived tables, the quiet
frontier benchmark's rates, NOTES.md, REPORT.md and ``settings.json``, the settings each
method's cells were computed with (``studies.settings``). ``runs`` (not committed) holds each
class's run folders: ``class_<class>/seed_<seed>/`` (GAN, encoder) and
``class_<class>/scores/<method>/seed_<seed>/scores.csv``.
"""

from __future__ import annotations

from pathlib import Path

from anogan_jax.files import read_json
from anogan_jax.runs.config import RunError
from anogan_jax.runs.folders import seed_dir

CELLS = "cells"
TIMINGS = "timings"
SCORES = "scores"
ENSEMBLE = "ens"  # the seed part of a seed ensemble's file name
SUBSAMPLE_SE = "subsample_se.json"
AUROC_BY_PAIR = "auroc_by_pair.json"
TRAINING_TIME = "training_time.json"
# ``experiments/bench_frontier.py`` writes <results>/frontier_speed.json (and .md): quiet,
# steady-state images/s of one model per frontier method.
FRONTIER_SPEED = "frontier_speed"
NOTES = "NOTES.md"
REPORT = "REPORT.md"
SETTINGS = "settings.json"


def default_results(root, name: str) -> Path:
    """Where study ``name``'s results go by default in the repository at ``root``."""
    return Path(root) / "experiments" / "results" / name


def default_runs(root, name: str) -> Path:
    """Where study ``name``'s run folders go by default in the repository at ``root``."""
    return Path(root) / "runs" / "studies" / name


def _stem(cls: int, seed, method: str) -> str:
    return f"c{cls}_s{seed}_{method}"


def cell_path(results, cls: int, seed: int, method: str) -> Path:
    """The committed record of one (class, seed, method)."""
    return Path(results) / CELLS / f"{_stem(cls, seed, method)}.json"


def ensemble_path(results, cls: int, method: str) -> Path:
    """The cell of ``method``'s seed ensemble of class ``cls``."""
    return Path(results) / CELLS / f"c{cls}_{ENSEMBLE}_{method}.json"


def timing_path(results, cls: int, seed: int, method: str) -> Path:
    """Where a cell's timings and the record of where it was computed live: apart from the
    cell, so that cell files are byte-identical across reruns."""
    return Path(results) / TIMINGS / f"{_stem(cls, seed, method)}.json"


def score_file(results, cls: int, seed: int, method: str) -> Path:
    """The per-image scores of one (class, seed, method), kept with its cell
    (``score_files.write_score_file``)."""
    return Path(results) / SCORES / f"{_stem(cls, seed, method)}.npz"


def cell_name(path) -> tuple[int, str, str]:
    """(class, seed, method) of a cell, timing or score file name (the seed as it is written:
    a number, or ``ens`` for a seed ensemble)."""
    cls, seed, method = Path(path).stem.split("_", 2)
    return int(cls[1:]), seed[1:] if seed.startswith("s") else seed, method


def cell_files(results) -> list[Path]:
    return sorted((Path(results) / CELLS).glob("*.json"))


def timing_files(results) -> list[Path]:
    return sorted((Path(results) / TIMINGS).glob("*.json"))


def score_files(results) -> list[Path]:
    return sorted((Path(results) / SCORES).glob("*.npz"))


def settings_path(results) -> Path:
    """The record of the settings each method's cells were computed with: {method: {"digest",
    "settings"}} (``studies.settings``)."""
    return Path(results) / SETTINGS


def table_path(results, name: str) -> Path:
    """A table the study derives for the whole folder (``SUBSAMPLE_SE``, ``AUROC_BY_PAIR``,
    ``TRAINING_TIME``) or another file of it (``NOTES``, ``REPORT``)."""
    return Path(results) / name


def frontier_speed_path(results, suffix: str = ".json") -> Path:
    return Path(results) / f"{FRONTIER_SPEED}{suffix}"


def class_dir(runs, cls: int) -> Path:
    """The run folders of class ``cls``: each seed's GAN and encoder, and its score folders."""
    return Path(runs) / f"class_{cls}"


def seed_run(runs, cls: int, seed: int) -> Path:
    return seed_dir(class_dir(runs, cls), seed)


def method_scores(runs, cls: int, method: str) -> Path:
    """The score folder of ``method`` for class ``cls``, a ``seed_<s>`` folder per seed."""
    return class_dir(runs, cls) / "scores" / method


def seed_scores_dir(runs, cls: int, seed: int, method: str) -> Path:
    """One seed's score folder of ``method`` for class ``cls`` (``scoring.score_run`` given the
    seeds writes it)."""
    return seed_dir(method_scores(runs, cls, method), seed)


def scores_csv(runs, cls: int, seed: int, method: str) -> Path:
    return seed_scores_dir(runs, cls, seed, method) / "scores.csv"


def load_cells(results) -> list[dict]:
    """Every cell of the results folder, in file name order."""
    return [read_json(p) for p in cell_files(results)]


def check_has_cells(results) -> None:
    """Refuses to report on a results folder without a cell (a mistyped ``--results``, or a
    study not yet run), before anything is written there."""
    if not cell_files(results):
        raise RunError(
            f"{results} holds no cells (cells/*.json): nothing to report; run the study "
            "first, or give --results the folder that holds its cells/"
        )
