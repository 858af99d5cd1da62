"""Where a study stands, for studies that run for days: per class, how far its GANs and
encoders are trained (their latest checkpoints, where a resumed run starts again), which
methods are scored and which rows are derived from their per-image scores, and the hours left at
the pace of the classes already done on this machine. Reads only: safe beside the processes
that run the study."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from anogan_jax.files import read_json, read_jsonl
from anogan_jax.runs.checkpoint import latest_step
from anogan_jax.runs.encoder_run import encoder_dir
from anogan_jax.runs.provenance import machine, same_machine
from anogan_jax.studies.config import Study, complexity_name, ensemble_name
from anogan_jax.studies.layout import cell_path, ensemble_path, seed_run, timing_path
from anogan_jax.studies.training_time import logged_training_times, saved_training_times


@dataclasses.dataclass(frozen=True)
class ClassStatus:
    cls: int
    gan_step: int  # the least advanced seed's latest checkpoint (0: none yet)
    encoder_step: int | None  # likewise; None when the study has no encoder
    scored: tuple[str, ...]  # methods with every seed's cell written
    derived: tuple[str, ...]  # ensembles and complexity rows written (``derived_methods``)
    hours_left: float | None  # None: no finished class to take the pace from yet
    # The least advanced seed's last logged step (metrics.jsonl): how far a running process
    # has come, past the checkpoint it would resume from if stopped now.
    gan_logged: int = 0
    encoder_logged: int | None = None


@dataclasses.dataclass(frozen=True)
class Pace:
    """Seconds per step of a class's GAN and encoder training (all seeds together) and seconds
    per class of each method's scoring, from the classes done so far (None: none yet)."""

    gan: float | None
    encoder: float | None
    score: dict  # method -> seconds per class
    classes: int  # how many classes the training pace is taken from
    this_machine: bool  # whether those classes are the ones computed on this machine


def _computed_here(study: Study, results, here: str) -> set[int]:
    """The classes with a cell whose timing record says it was computed on ``here``."""
    out = set()
    for cls in study.classes:
        for seed in study.seeds:
            for method in study.methods:
                path = timing_path(results, cls, seed, method.name)
                where = read_json(path).get("computed_on") if path.exists() else None
                if where and same_machine(where["hardware"], here):
                    out.add(cls)
                    break
            if cls in out:
                break
    return out


def pace(study: Study, results, runs, here: str | None = None) -> Pace:
    """The pace of the classes computed on the machine ``here`` (default this one, ``machine``:
    the CPU and the cores a process may use, which set the speed), from the records beside
    their cells; of every class done when none was. Training: the mean over those classes in
    ``training_time.json`` or fully trained under ``runs`` (``logged_training_times``, the run
    logs, across resumes). Scoring: per method, the median over those classes of the seeds'
    recorded seconds summed (a cell's timing is its process's time, less when that process
    resumed: the median keeps such classes from pulling the estimate down)."""
    times = {**saved_training_times(results), **logged_training_times(study, runs)}
    local = _computed_here(study, results, machine() if here is None else here)
    classes = [c for c in study.classes if c in local] if local else list(study.classes)
    times = {k: v for k, v in times.items() if int(k) in classes}
    gan = [t["gan"] / study.run.steps for t in times.values()]
    encoder = [t["encoder"] / study.encoder.steps for t in times.values()]
    score = {}
    for method in study.methods:
        per_class = []
        for cls in classes:
            paths = [timing_path(results, cls, s, method.name) for s in study.seeds]
            if all(p.exists() for p in paths):
                per_class.append(sum(read_json(p)["score"] for p in paths))
        if per_class:
            score[method.name] = float(np.median(per_class))
    return Pace(
        gan=float(np.mean(gan)) if gan else None,
        encoder=float(np.mean(encoder)) if encoder and study.needs_encoder() else None,
        score=score,
        classes=len(times),
        this_machine=bool(local),
    )


def _least_step(folders: list[Path]) -> int:
    steps = [latest_step(f) for f in folders]
    return 0 if None in steps else min(steps)


def _least_logged(folders: list[Path]) -> int:
    """The least of the folders' last ``metrics.jsonl`` steps (0 where one has none)."""
    steps = []
    for f in folders:
        records = read_jsonl(f / "metrics.jsonl") if (f / "metrics.jsonl").exists() else []
        steps.append(records[-1]["step"] if records else 0)
    return min(steps)


def class_status(study: Study, results, runs, cls: int, speed: Pace) -> ClassStatus:
    results = Path(results)
    class_runs = [seed_run(runs, cls, s) for s in study.seeds]
    scored = tuple(
        m.name
        for m in study.methods
        if all(cell_path(results, cls, s, m.name).exists() for s in study.seeds)
    )
    derived = tuple(
        name
        for name, paths in derived_methods(study, results, cls).items()
        if all(p.exists() for p in paths)
    )
    seconds: float | None = 0.0
    encoder_step = encoder_logged = None
    if len(scored) < len(study.methods):  # a finished class's run folders may be gone
        gan_step = _least_step([r / "checkpoints" for r in class_runs])
        gan_logged = _least_logged(class_runs)
        seconds = _add(seconds, speed.gan, study.run.steps - gan_step)
        if study.needs_encoder():
            folders = [encoder_dir(r, study.encoder.mode) for r in class_runs]
            encoder_step = _encoder_step(folders, study.encoder.steps)
            encoder_logged = _least_logged(folders)
            seconds = _add(seconds, speed.encoder, study.encoder.steps - encoder_step)
        for m in study.methods:
            if m.name not in scored:
                seconds = _add(seconds, speed.score.get(m.name), 1)
    else:
        gan_step = gan_logged = study.run.steps
        if study.needs_encoder():
            encoder_step = encoder_logged = study.encoder.steps
    return ClassStatus(
        cls=cls,
        gan_step=gan_step,
        encoder_step=encoder_step,
        scored=scored,
        derived=derived,
        hours_left=None if seconds is None else seconds / 3600,
        gan_logged=gan_logged,
        encoder_logged=encoder_logged,
    )


def derived_methods(study: Study, results, cls: int) -> dict:
    """The rows a study derives from class ``cls``'s per-image scores, as {method: the cell files
    it writes}: each seed ensemble (one file) and complexity row (one per seed). A class
    whose score folders were gone before its scores were kept (``score_files``) never gets
    them."""
    out = {ensemble_name(n): [ensemble_path(results, cls, n)] for n in study.ensembles}
    for name in study.complexity:
        out[complexity_name(name)] = [
            cell_path(results, cls, s, complexity_name(name)) for s in study.seeds
        ]
    return out


def _encoder_step(folders: list[Path], steps: int) -> int:
    """A finished encoder writes summary.json; before that, its latest checkpoint."""
    done = [(f / "summary.json").exists() and read_json(f / "summary.json")["step"] >= steps
            for f in folders]  # fmt: skip
    return steps if all(done) else _least_step([f / "checkpoints" for f in folders])


def _add(total: float | None, per_unit: float | None, units: int) -> float | None:
    if total is None or units <= 0:
        return total
    return None if per_unit is None else total + per_unit * units


def study_status(study: Study, results, runs, classes=None, here: str | None = None) -> dict:
    """{"pace": Pace, "classes": [ClassStatus], "cells_done", "cells_total", "hours_left"} over
    ``classes`` (None: the study's); ``hours_left`` is None while any class lacks a pace.
    ``here``: the machine whose pace to take (``pace``)."""
    speed = pace(study, results, runs, here)
    rows = [class_status(study, results, runs, c, speed) for c in classes or study.classes]
    left = [r.hours_left for r in rows]
    done = [
        cell_path(results, r.cls, s, m.name).exists()
        for r in rows
        for s in study.seeds
        for m in study.methods
    ]
    return {
        "pace": speed,
        "classes": rows,
        "cells_done": sum(done),
        "cells_total": len(done),
        "hours_left": None if None in left else float(sum(left)),
    }


def _steps(checkpoint: int, logged: int | None, total: int) -> str:
    """ "1500/3700 (1909)": the checkpoint, the total and, when past it, the logged step."""
    text = f"{checkpoint}/{total}"
    return text + f" ({logged})" if logged and logged > checkpoint else text


def format_status(study: Study, status: dict) -> str:
    """The status as a table a person reads in a terminal."""
    rows = status["classes"]
    done = sum(len(r.scored) == len(study.methods) for r in rows)
    num_derived = len(study.ensembles) + len(study.complexity)
    lines = [
        f"{study.name}: {status['cells_done']} of {status['cells_total']} scored cells, "
        f"{done} of {len(rows)} classes done",
        "class           GAN steps       encoder steps    scored  derived  hours left",
    ]
    for r in rows:
        encoder = "-"
        if r.encoder_step is not None:
            encoder = _steps(r.encoder_step, r.encoder_logged, study.encoder.steps)
        left = "?" if r.hours_left is None else f"{r.hours_left:.1f}"
        scored = f"{len(r.scored)}/{len(study.methods)}"
        derived = f"{len(r.derived)}/{num_derived}" if num_derived else "-"
        gan = _steps(r.gan_step, r.gan_logged, study.run.steps)
        lines.append(f"{r.cls:>5}  {gan:>18}  {encoder:>18}  {scored:>8}  {derived:>7}  {left:>10}")
    if any("(" in line for line in lines[2:]):  # a step column shows a logged step
        lines.append(
            "steps: the latest checkpoint of the least advanced seed (where a process stopped "
            "now resumes) / the total; in brackets, the step its run log has reached"
        )
    if num_derived:
        lines.append(
            "derived: the seed ensembles and complexity rows, written from the per-image scores "
            "once a class is scored; a class whose scores were not kept lacks them"
        )
    p = status["pace"]
    if status["hours_left"] is None:
        lines.append(
            "hours left: unknown until a class is trained and each method has scored one "
            "class (the pace is taken from them)"
        )
        return "\n".join(lines)
    per_class = [
        f"GAN {p.gan * study.run.steps / 3600:.2f} h" if p.gan is not None else None,
        f"encoder {p.encoder * study.encoder.steps / 3600:.2f} h"
        if p.encoder is not None
        else None,
        f"scoring {sum(p.score.values()) / 3600:.2f} h",
    ]
    logs = "1 class's" if p.classes == 1 else f"{p.classes} classes'"
    lines.append(
        f"hours left: {status['hours_left']:.1f} for one process, at the pace of the classes "
        f"done so far (per class, all seeds: {', '.join(x for x in per_class if x)}; training "
        f"from {logs} run logs; "
        + (
            "those computed on this machine"
            if p.this_machine
            else "no class was computed on this machine, so every class done"
        )
        + "). Processes that each take their own --classes share it."
    )
    return "\n".join(lines)
