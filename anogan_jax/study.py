"""Reproducible one-class studies: every (class, seed, method) cell, resumable, aggregated.

A study trains the S seeds of each class in one vmapped program (``seeds.train_gan_seeds``),
trains each seed's encoder when a method needs one, scores each method, and writes each cell's
result atomically to ``<results>/cells/c<class>_s<seed>_<method>.json``; finished cells are
skipped on rerun. Model selection never looks at test labels: the last checkpoint is used.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from anogan_jax.checkpoint import read_json, write_json
from anogan_jax.encoder_run import EncoderConfig, encoder_dir, train_encoder
from anogan_jax.runner import RunConfig
from anogan_jax.scoring import ScoreConfig, score_run
from anogan_jax.seeds import seed_dir, train_gan_seeds


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

    def needs_encoder(self) -> bool:
        return any(m.score.method == "fanogan" or m.score.init == "encoder" for m in self.methods)


def cell_path(results: Path, cls: int, seed: int, method: str) -> Path:
    return results / "cells" / f"c{cls}_s{seed}_{method}.json"


def cells(study: Study):
    return [(c, s, m) for c in study.classes for s in study.seeds for m in study.methods]


def run_study(study: Study, results, runs, *, data_dir=None, progress=True) -> list[dict]:
    """Runs every unfinished cell. ``results``: where cell JSONs go (committed); ``runs``:
    where checkpoints go (not committed). Returns all cell results."""
    from tqdm.auto import tqdm

    results, runs = Path(results), Path(runs)
    todo = [(c, s, m) for c, s, m in cells(study) if not cell_path(results, c, s, m.name).exists()]
    bar = tqdm(
        total=len(cells(study)),
        initial=len(cells(study)) - len(todo),
        unit="cell",
        desc=study.name,
        disable=not progress,
    )
    for cls in sorted({c for c, _, _ in todo}):
        class_dir = runs / f"class_{cls}"
        config = dataclasses.replace(study.run, cls=cls)
        t0 = time.perf_counter()
        train_gan_seeds(
            config, list(study.seeds), class_dir, resume=True, data_dir=data_dir, progress=False
        )
        train_seconds = (time.perf_counter() - t0) / len(study.seeds)
        for seed in sorted({s for c, s, _ in todo if c == cls}):
            run = seed_dir(class_dir, seed)
            enc_seconds = _ensure_encoder(study, run, data_dir)
            for method in [m for c, s, m in todo if c == cls and s == seed]:
                t1 = time.perf_counter()
                out = run / "scores" / method.name
                report = score_run(
                    run, out, method.score, resume=True, data_dir=data_dir, progress=False
                )
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
                    "curve": _roc_points(out, method.column),
                }
                # Timings live apart so that cell files are byte-identical across reruns.
                seconds = {
                    "train_per_seed": train_seconds,
                    "encoder": enc_seconds,
                    "score": time.perf_counter() - t1,
                }
                write_json(results / "timings" / f"c{cls}_s{seed}_{method.name}.json", seconds)
                write_json(cell_path(results, cls, seed, method.name), cell)
                bar.update(1)
    bar.close()
    return load_cells(results)


def _ensure_encoder(study: Study, run: Path, data_dir) -> float:
    if not study.needs_encoder():
        return 0.0
    summary = encoder_dir(run, study.encoder.mode) / "summary.json"
    if summary.exists() and read_json(summary)["step"] >= study.encoder.steps:
        return 0.0
    t0 = time.perf_counter()
    train_encoder(run, study.encoder, resume=True, data_dir=data_dir, progress=False)
    return time.perf_counter() - t0


def _roc_points(out: Path, column: str, num: int = 101) -> dict:
    """The ROC curve of a score column, resampled at ``num`` FPRs (for the report's plot)."""
    from anogan_jax import metrics

    rows = [line.split(",") for line in (out / "scores.csv").read_text().splitlines()]
    header, body = rows[0], [r for r in rows[1:] if r[1] == "test"]
    col = header.index(column)
    labels = np.array([int(r[2]) for r in body])
    scores = np.array([float(r[col]) for r in body])
    fpr, tpr, _ = metrics.roc_curve(labels, scores)
    grid = np.linspace(0, 1, num)
    return {"fpr": grid.round(4).tolist(), "tpr": np.interp(grid, fpr, tpr).round(5).tolist()}


def load_cells(results) -> list[dict]:
    folder = Path(results) / "cells"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
