"""Each class's training time, from its run logs (across every process that trained it), kept
in the study's ``training_time.json`` so that a report rewritten after the run folders are gone
keeps it."""

from __future__ import annotations

from pathlib import Path

from anogan_jax.files import read_json, read_jsonl, write_json
from anogan_jax.runs.encoder_run import encoder_dir
from anogan_jax.studies import layout
from anogan_jax.studies.config import Study
from anogan_jax.studies.layout import TRAINING_TIME


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


def _program(logs: list[Path]) -> tuple | None:
    """The logged (step, rate) records the runs of ``logs`` share when they were trained in one
    program (every model of a program logs its rates); None when they differ."""
    records = [tuple((r["step"], r["steps_per_s"]) for r in read_jsonl(p)) for p in logs]
    return records[0] if all(r == records[0] for r in records) else None


def _class_training_seconds(logs: list[Path]) -> float:
    """The seeds' training time of one class: seeds trained in one program log the same rates
    (one program's time, counted once); seeds trained alone, the sum over the seeds."""
    if _program(logs) is not None:
        return logged_seconds(logs[0])
    return sum(logged_seconds(p) for p in logs)


def _share_programs(times: dict, programs: dict, part: str) -> None:
    """Classes whose models were trained as one program (``run_study --program models``) log
    the same records: the program's time is shared evenly among them, not counted per class."""
    groups: dict = {}
    for cls, program in programs.items():
        if program is not None and cls in times:
            groups.setdefault(program, []).append(cls)
    for classes in groups.values():
        for cls in classes:
            times[cls][part] /= len(classes)


def logged_training_times(study: Study, runs) -> dict:
    """class -> {"gan": seconds, "encoder": seconds} of the classes whose GANs (and encoders,
    where the study has one) are fully trained under ``runs``, from their logs
    (``logged_seconds``): unlike a cell's timings, which hold the time of the process that
    wrote the cell, this spans every process of a resumed class. Reads only."""
    out, programs = {}, {"gan": {}, "encoder": {}}
    for cls in study.classes:
        class_runs = [layout.seed_run(runs, cls, s) for s in study.seeds]
        gan_logs = [r / "metrics.jsonl" for r in class_runs]
        if not all(p.exists() for p in gan_logs):
            continue
        last = read_jsonl(gan_logs[0])[-1:]
        if not last or last[0]["step"] < study.run.steps:  # still training
            continue
        times = {"gan": _class_training_seconds(gan_logs), "encoder": 0.0}
        programs["gan"][str(cls)] = _program(gan_logs)
        if study.needs_encoder():
            folders = [encoder_dir(r, study.encoder.mode) for r in class_runs]
            if not all((f / "summary.json").exists() for f in folders):
                continue
            encoder_logs = [f / "metrics.jsonl" for f in folders]
            times["encoder"] = _class_training_seconds(encoder_logs)
            programs["encoder"][str(cls)] = _program(encoder_logs)
        out[str(cls)] = times
    for part, by_class in programs.items():
        _share_programs(out, by_class, part)
    return out


def saved_training_times(results) -> dict:
    """``<results>/training_time.json`` as class -> times ({} when it is not there)."""
    path = layout.table_path(results, TRAINING_TIME)
    return {str(k): v for k, v in read_json(path).items()} if path.exists() else {}


def training_times(study: Study, results, runs) -> dict:
    """``logged_training_times`` merged into ``<results>/training_time.json`` (classes whose
    runs are gone keep their saved values), written, and returned."""
    out = {**saved_training_times(results), **logged_training_times(study, runs)}
    if out:
        write_json(layout.table_path(results, TRAINING_TIME), out)
    return out
