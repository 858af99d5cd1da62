"""Reproducible one-class studies: every (class, seed, method) cell, resumable, aggregated.

A study trains the S seeds of each class together (``gan.train_gan`` given the seeds),
then their encoders when a method needs one (``encoder_run.train_encoder`` given them), scores
each method over the S seeds at once (``scoring.score_run`` given the seeds), and writes each cell's
result atomically to ``<results>/cells/c<class>_s<seed>_<method>.json``, its per-image scores
beside it (``score_files``; where everything lives: ``layout``); finished cells are skipped on
rerun. Model selection never looks at test labels: the last checkpoint is used.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from tqdm.auto import tqdm

from anogan_jax.files import read_json, write_json
from anogan_jax.runs.checkpoint import latest_step
from anogan_jax.runs.config import RunConfig, RunError
from anogan_jax.runs.encoder_run import encoder_dir, train_encoder
from anogan_jax.runs.folders import seed_dir
from anogan_jax.runs.gan import train_gan
from anogan_jax.runs.provenance import describe
from anogan_jax.runs.scoring import score_run
from anogan_jax.studies import layout
from anogan_jax.studies.complexity import complexity_cells
from anogan_jax.studies.config import Study
from anogan_jax.studies.derived import from_score_folders, roc_points
from anogan_jax.studies.layout import cell_path, load_cells, timing_path
from anogan_jax.studies.score_files import keep_scores, twins


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
    computed_on = describe(outputs=[results])
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
        class_dir = layout.class_dir(runs, cls)
        config = dataclasses.replace(study.run, cls=cls)
        seeds = list(study.seeds)
        bar.set_postfix_str(f"class {cls}: GANs")
        train_seconds = _ensure_gans(config, class_dir, seeds, data_dir, progress) / len(seeds)
        bar.set_postfix_str(f"class {cls}: encoders")
        enc_seconds = _ensure_encoders(study, class_dir, seeds, data_dir, progress) / len(seeds)
        # The seeds share one program, so each gets 1/S of its time.
        spent = {"train_per_seed": train_seconds, "encoder": enc_seconds}
        pending = {m.name for c, _, m in todo if c == cls}
        for method in [m for m in study.methods if m.name in pending]:
            bar.set_postfix_str(f"class {cls}: {method.name}")
            t1 = time.perf_counter()
            out = layout.method_scores(runs, cls, method.name)
            reports = score_run(
                class_dir,
                out,
                method.score,
                seeds=seeds,
                resume=True,
                data_dir=data_dir,
                progress=progress,
            )
            spent["score"] = (time.perf_counter() - t1) / len(seeds)
            for seed, report in zip(seeds, reports, strict=True):
                if not cell_path(results, cls, seed, method.name).exists():
                    csv_path = layout.scores_csv(runs, cls, seed, method.name)
                    cell = _cell(study, cls, seed, method, report, csv_path)
                    # Timings and where the cell was computed live apart so that cell files
                    # are byte-identical across reruns.
                    timing = {**spent, "computed_on": computed_on}
                    write_json(timing_path(results, cls, seed, method.name), timing)
                    keep_scores(results, runs, cls, seed, method.name, twins(study, method.name))
                    write_json(cell_path(results, cls, seed, method.name), cell)
                    bar.update(1)
    bar.close()
    derive(study, results, runs, data_dir)
    return load_cells(results)


def _cell(study: Study, cls: int, seed: int, method, report: dict, scores_csv: Path) -> dict:
    """The committed record of one (class, seed, method): its scores and ROC curve, nothing
    that depends on where or when it was computed."""
    return {
        "study": study.name,
        "class": cls,
        "seed": seed,
        "method": method.name,
        "column": method.column,
        "scores": report["scores"],
        "num_test": report["num_test"],
        "num_val": report["num_val"],
        "nonfinite": len(report["nonfinite_indices"]),
        "curve": roc_points(scores_csv, method.column),
    }


def derive(study: Study, results, runs, data_dir=None) -> None:
    """Everything a study derives from its score folders and run logs rather than computes:
    the per-image score files kept with the cells, the seed ensembles, subsample errors, pair
    AUROCs and training times (``derived.from_score_folders``), then the complexity-discounted
    rows (``complexity.complexity_cells``, which also needs the images, from ``data_dir``).
    Each writes what it can from the folders present and keeps what is saved for the rest."""
    from_score_folders(study, results, runs)
    complexity_cells(study, results, runs, data_dir)


def _ensure_gans(config: RunConfig, class_dir: Path, seeds: list[int], data_dir, progress) -> float:
    """Trains (or resumes) the seeds' GANs together; each seed alone when a crash between the
    seeds' saves left their checkpoints at different steps (then each seed equals its run
    alone: bit for bit where seeds loop, up to float rounding where they are vmapped).
    Returns the seconds spent."""
    t0 = time.perf_counter()
    latest = {latest_step(seed_dir(class_dir, s) / "checkpoints") for s in seeds}
    if len(latest) == 1:
        train_gan(config, class_dir, seeds=seeds, resume=True, data_dir=data_dir, progress=progress)
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
        train_encoder(
            class_dir, study.encoder, seeds=seeds, resume=True, data_dir=data_dir, progress=progress
        )
    else:
        for r in runs:
            train_encoder(r, study.encoder, resume=True, data_dir=data_dir, progress=progress)
    return time.perf_counter() - t0
