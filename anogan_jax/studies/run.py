"""Reproducible one-class studies: every (class, seed, method) cell, resumable, aggregated.

A study trains the S seeds of each class together (``gan.train_gan`` given the seeds),
then their encoders when a method needs one (``encoder_run.train_encoder`` given them), or,
with ``program="models"``, every (class, seed) at once (``gan.train_gans``, then
``encoder_run.train_encoders``); it scores each method over a class's S seeds at once
(``scoring.score_run`` given the seeds), or, with ``program="models"``, over every (class,
seed) at once (``scoring.score_runs``), and writes each cell's result atomically to
``<results>/cells/c<class>_s<seed>_<method>.json``, its per-image scores beside it
(``score_files``; where everything lives: ``layout``); finished cells are skipped on rerun.
Model selection never looks at test labels: the last checkpoint is used.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from tqdm.auto import tqdm

from anogan_jax.devices import check_models_batch, take_devices
from anogan_jax.files import read_json, write_json
from anogan_jax.runs.checkpoint import latest_step
from anogan_jax.runs.config import RunConfig, RunError
from anogan_jax.runs.encoder_run import encoder_dir, train_encoder, train_encoders
from anogan_jax.runs.folders import seed_dir
from anogan_jax.runs.gan import train_gan, train_gans
from anogan_jax.runs.provenance import describe
from anogan_jax.runs.scoring import score_run, score_runs
from anogan_jax.studies import layout
from anogan_jax.studies.complexity import complexity_cells
from anogan_jax.studies.config import Study
from anogan_jax.studies.derived import from_score_folders, roc_points
from anogan_jax.studies.layout import cell_path, load_cells, timing_path
from anogan_jax.studies.score_files import keep_scores, twins
from anogan_jax.studies.settings import record_settings


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


PROGRAMS = ("class", "models")


def run_study(
    study: Study,
    results,
    runs,
    *,
    classes=None,
    data_dir=None,
    progress=True,
    program="class",
    devices: int | str = 1,
) -> list[dict]:
    """Runs every unfinished cell, or those of ``classes`` only (a subset of the study's: so
    that several processes or machines can share a study, each on its own classes; a class's
    cells do not depend on which process computes them). ``results``: where cell JSONs go
    (committed); ``runs``: where checkpoints go (not committed). Returns all cell results.

    ``program``: "class" trains class after class, each class's seeds as one program (GANs,
    then encoders); "models" trains the GANs of every (class, seed) of the classes with
    unfinished cells as one program (``gan.train_gans``), then all their encoders as one
    (``encoder_run.train_encoders``). Either way each model is its run trained alone (bit for
    bit where the models loop, up to float rounding where they are vmapped,
    ``seeds.seed_mode``); then each method scores the models of every class with unfinished
    cells of it as one program (``scoring.score_runs``), each model as it is scored alone,
    so the cells' format is the same. A cell's timings give each model an equal share of the
    programs that trained and scored it.

    ``devices``: with ``program="models"``, 1, a number of devices or "all" to shard the
    models' training over a ("models", "data") mesh (``devices.models_mesh``); the class
    program runs on one device.

    Raises UserError, before anything is written, when cells in ``results`` were computed
    with other settings than the study's (``settings.check_settings``)."""
    if program not in PROGRAMS:
        raise RunError(f"program {program!r}: choose one of {', '.join(PROGRAMS)}")
    if devices != 1 and program != "models":
        raise RunError(
            f"devices {devices!r} shard the models program only: add --program models "
            "(program='models'), or train on one device"
        )
    if devices != 1:  # refused before anything is written
        n = len(take_devices(devices))
        models = len(check_classes(study, classes)) * len(study.seeds)
        check_models_batch(models, n, study.run.batch_size)
        if study.needs_encoder():
            check_models_batch(models, n, study.encoder.batch_size)
    results, runs = Path(results), Path(runs)
    mine = check_classes(study, classes)
    record_settings(study, results)  # cells made with other settings are refused, not mixed
    # Taken at the start: the cores usable now are those XLA:CPU splits its work over.
    computed_on = describe(outputs=[results], arch=study.run.arch)
    planned = [(c, s, m) for c, s, m in cells(study) if c in mine]
    todo = [(c, s, m) for c, s, m in planned if not cell_path(results, c, s, m.name).exists()]
    bar = tqdm(
        total=len(planned),
        initial=len(planned) - len(todo),
        unit="cell",
        desc=study.name,
        disable=not progress,
    )
    pending = sorted({c for c, _, _ in todo})
    seeds = list(study.seeds)
    if program == "models" and pending:
        bar.set_postfix_str(f"classes {pending}: GANs and encoders")
        shared = _train_models(study, runs, pending, data_dir, progress, devices)
    for cls in pending if program == "class" else ():
        bar.set_postfix_str(f"class {cls}: GANs and encoders")
        spent = _train_class(study, runs, cls, data_dir, progress)
        for method in _methods(study, todo, [cls]):
            bar.set_postfix_str(f"class {cls}: {method.name}")
            t1 = time.perf_counter()
            reports = score_run(
                layout.class_dir(runs, cls),
                layout.method_scores(runs, cls, method.name),
                method.score,
                seeds=seeds,
                resume=True,
                data_dir=data_dir,
                progress=progress,
            )
            spent["score"] = (time.perf_counter() - t1) / len(seeds)
            timing = {**spent, "computed_on": computed_on}
            for seed, report in zip(seeds, reports, strict=True):
                if _write_cell(study, results, runs, cls, seed, method, report, timing):
                    bar.update(1)
    for method in _methods(study, todo, pending) if program == "models" else ():
        classes = sorted({c for c, _, m in todo if m.name == method.name})
        bar.set_postfix_str(f"classes {classes}: {method.name}")
        pairs = [(c, s) for c in classes for s in seeds]
        t1 = time.perf_counter()
        reports = score_runs(
            [layout.seed_run(runs, c, s) for c, s in pairs],
            [layout.seed_scores_dir(runs, c, s, method.name) for c, s in pairs],
            method.score,
            resume=True,
            data_dir=data_dir,
            progress=progress,
        )
        score = (time.perf_counter() - t1) / len(pairs)
        for (cls, seed), report in zip(pairs, reports, strict=True):
            timing = {**shared[cls], "score": score, "computed_on": computed_on}
            if _write_cell(study, results, runs, cls, seed, method, report, timing):
                bar.update(1)
    bar.close()
    derive(study, results, runs, data_dir)
    return load_cells(results)


def _methods(study: Study, todo, classes) -> list:
    """The study's methods (in its order) with an unfinished cell of one of ``classes``."""
    names = {m.name for c, _, m in todo if c in classes}
    return [m for m in study.methods if m.name in names]


def _write_cell(study, results, runs, cls, seed, method, report, timing) -> bool:
    """Writes the cell of (cls, seed, method) with its timing and kept scores, unless it is
    there already. Returns whether it wrote."""
    if cell_path(results, cls, seed, method.name).exists():
        return False
    cell = _cell(study, cls, seed, method, report, layout.scores_csv(runs, cls, seed, method.name))
    # Timings and where the cell was computed live apart so that cell files are
    # byte-identical across reruns.
    write_json(timing_path(results, cls, seed, method.name), timing)
    keep_scores(results, runs, cls, seed, method.name, twins(study, method.name))
    write_json(cell_path(results, cls, seed, method.name), cell)
    return True


def _train_class(study: Study, runs, cls: int, data_dir, progress) -> dict:
    """Trains class ``cls``'s seeds (GANs, then encoders), each kind as one program. Returns
    each seed's share of the seconds: {"train_per_seed", "encoder"}."""
    class_dir = layout.class_dir(runs, cls)
    config = dataclasses.replace(study.run, cls=cls)
    seeds = list(study.seeds)
    train_seconds = _ensure_gans(config, class_dir, seeds, data_dir, progress) / len(seeds)
    enc_seconds = _ensure_encoders(study, class_dir, seeds, data_dir, progress) / len(seeds)
    # The seeds share one program, so each gets 1/S of its time.
    return {"train_per_seed": train_seconds, "encoder": enc_seconds}


def _train_models(
    study: Study, runs, classes: list[int], data_dir, progress, devices: int | str = 1
) -> dict:
    """Trains the GANs of every (class, seed) of ``classes`` as one program, then their
    encoders as one, each sharded over ``devices`` (``gan.train_gans``). Models whose
    checkpoints stand at another step than the rest (a crash between their saves) train as a
    program of their own. Returns, per class, each model's
    share of the seconds: {"train_per_seed", "encoder"} (a class none of whose encoders
    trained: 0 for the encoder)."""
    pairs = [(c, s) for c in classes for s in study.seeds]
    folders = [layout.seed_run(runs, c, s) for c, s in pairs]
    t0 = time.perf_counter()
    for group in _by_step([f / "checkpoints" for f in folders]):
        train_gans(
            [dataclasses.replace(study.run, cls=pairs[i][0], seed=pairs[i][1]) for i in group],
            [folders[i] for i in group],
            resume=True,
            data_dir=data_dir,
            progress=progress,
            devices=devices,
        )
    train_seconds = (time.perf_counter() - t0) / len(pairs)
    unfinished = [i for i, f in enumerate(folders) if not _encoder_done(study, f)]
    t0 = time.perf_counter()
    enc = [folders[i] / f"encoder_{study.encoder.mode}" / "checkpoints" for i in unfinished]
    for group in _by_step(enc):
        train_encoders(
            [folders[unfinished[i]] for i in group],
            study.encoder,
            resume=True,
            data_dir=data_dir,
            progress=progress,
            devices=devices,
        )
    enc_seconds = (time.perf_counter() - t0) / max(len(unfinished), 1)
    trained = {pairs[i][0] for i in unfinished}
    return {
        c: {"train_per_seed": train_seconds, "encoder": enc_seconds if c in trained else 0.0}
        for c in classes
    }


def _by_step(ckpt_dirs: list[Path]) -> list[list[int]]:
    """The indices of ``ckpt_dirs`` grouped by their latest saved step (none: 0), so that
    each group can train as one program."""
    groups: dict[int, list[int]] = {}
    for i, d in enumerate(ckpt_dirs):
        groups.setdefault(latest_step(d) or 0, []).append(i)
    return [groups[k] for k in sorted(groups)]


def _encoder_done(study: Study, run: Path) -> bool:
    """Whether ``run`` needs no encoder training: the study has no encoder, or its encoder
    has finished the study's steps."""
    if not study.needs_encoder():
        return True
    summary = encoder_dir(run, study.encoder.mode) / "summary.json"
    return summary.exists() and read_json(summary)["step"] >= study.encoder.steps


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
    mode = study.encoder.mode
    runs = [seed_dir(class_dir, s) for s in seeds]
    if all(_encoder_done(study, r) for r in runs):
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
