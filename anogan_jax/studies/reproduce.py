"""The "Reproduce" section of a study's report: the command that runs it, where its cells were
computed (as recorded beside their timings), and the study's time in all and per class.
``report.write_report`` ends with it."""

from __future__ import annotations

from pathlib import Path

from anogan_jax.files import read_json
from anogan_jax.runs.provenance import git_commit, hardware, versions
from anogan_jax.studies.layout import timing_path
from anogan_jax.studies.numbers import class_times


def computed_on(results, cells: list[dict]) -> list[str]:
    """Where the cells were computed, as recorded beside their timings: one line per
    (hardware, versions, commit, settings) with its number of cells, then the cells without a
    record."""
    groups: dict = {}
    missing = 0
    for c in cells:
        if c["seed"] == "ensemble" or "derived_from" in c:  # from score folders, no timing
            continue
        t = timing_path(results, c["class"], c["seed"], c["method"])
        where = read_json(t).get("computed_on") if t.exists() else None
        if where is None:
            missing += 1
            continue
        key = (where["hardware"], where["versions"], where["git_commit"], where.get("settings"))
        groups[key] = groups.get(key, 0) + 1
    lines = [
        f"- {n} cells computed on {hw}; {ver}; git commit {commit}"
        + (f"; with {settings}" if settings else "")
        for (hw, ver, commit, settings), n in groups.items()
    ]
    if missing:
        lines.append(
            f"- {missing} cells carry no record of where they were computed (written before "
            "studies recorded it); the notes say what is known"
        )
    return lines


def reproduce(command: str, results: Path, cells: list[dict], timings: dict) -> list[str]:
    """The report's last section: the command, where the cells and the report were computed,
    the study's time (``numbers.total_hours`` as ``timings``) and each class's."""
    return [
        "",
        "## Reproduce",
        "",
        f"```\n{command}\n```",
        "",
        *computed_on(results, cells),
        f"- this report written on {hardware()}; {versions()}; "
        f"git commit {git_commit(outputs=[results])}",
        *_wall_time(timings),
        *_time_by_class(results),
        "",
        "Per-cell results (byte-identical on a rerun with the same config on the same machine, "
        "started with the same number of usable cores) "
        "are in `cells/`; timings in `timings/`.",
    ]


def _time_by_class(results: Path) -> list[str]:
    """A table of each class's minutes (``class_times``): what a class costs, by part."""
    times = class_times(results)
    if not times:
        return []
    lines = [
        "",
        "Wall time per class, in minutes, all seeds together: GAN and encoder training from "
        "the run logs across every process (pauses of a process count), or, marked *, from "
        "the cells' timings (the process that wrote them only); scoring from the cells' "
        "timings, every method (of a scoring resumed in a new process, that process's part).",
        "",
        "| class | GAN | encoder | scoring | total |",
        "|---|---|---|---|---|",
    ]
    for cls, t in times.items():
        mark = "" if t["logged"] else "*"
        parts = [t["gan"] / 60, t["encoder"] / 60, t["score"] / 60]
        cells = [f"{parts[0]:.0f}{mark}", f"{parts[1]:.0f}{mark}", f"{parts[2]:.0f}"]
        lines.append(f"| {cls} | {' | '.join(cells)} | {sum(parts):.0f} |")
    return lines


def _wall_time(timings: dict) -> list[str]:
    """The report's lines on the study's time (``total_hours``)."""
    lines = [
        f"- wall time of the cells (sum of recorded cell timings): "
        f"{timings.get('total_hours', float('nan')):.2f} h; a class resumed across processes "
        "counts only the process that wrote its cells"
    ]
    if "logged_training_hours" in timings:
        lines.append(
            f"- GAN and encoder training of {timings['logged_classes']} classes, from their run "
            f"logs across every process (`training_time.json`; wall time, so pauses of a "
            f"process, such as those for quiet benchmarks, count): "
            f"{timings['logged_training_hours']:.2f} h; the cells' scoring: "
            f"{timings['score_hours']:.2f} h"
        )
    return lines
