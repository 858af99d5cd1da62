"""Brings a study's results computed elsewhere (another machine, a worktree, a copy) into this
results folder: ``run_study --merge-from OTHER``. What this folder lacks is copied; what both
hold must agree byte for byte, or nothing is written."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from anogan_jax.errors import UserError
from anogan_jax.files import atomic_write_bytes, read_json, write_json
from anogan_jax.studies import layout
from anogan_jax.studies.config import Study
from anogan_jax.studies.derived import in_class_order
from anogan_jax.studies.layout import AUROC_BY_PAIR, SUBSAMPLE_SE, TRAINING_TIME
from anogan_jax.studies.settings import check_settings, record_settings

# Tables of {method: {class: value}} that a study derives from score folders; the other
# machine's rows stand in for classes whose score folders are not here.
BY_METHOD_TABLES = (SUBSAMPLE_SE, AUROC_BY_PAIR)
# Files of the whole study (the quiet frontier benchmark's rates and its table, the study's
# notes), copied when this folder has none.
STUDY_FILES = (
    layout.frontier_speed_path(".").name,
    layout.frontier_speed_path(".", ".md").name,
    layout.NOTES,
)


@dataclasses.dataclass
class MergePlan:
    """What ``merge_results`` will write: files to copy (source, target), how many cells both
    folders already hold alike, and the merged tables (file name -> content) that gain rows."""

    copies: list[tuple[Path, Path]]
    same_cells: int
    tables: dict[str, dict]

    def cells(self) -> int:
        return sum(dst.parent.name == layout.CELLS for _, dst in self.copies)

    def timings(self) -> int:
        return sum(dst.parent.name == layout.TIMINGS for _, dst in self.copies)

    def score_files(self) -> int:
        return sum(dst.parent.name == layout.SCORES for _, dst in self.copies)


def plan_merge(study: Study, source, target) -> MergePlan:
    """Reads both folders and writes nothing. Raises UserError, naming the files, when
    ``source`` is no results folder of ``study``, holds a cell of another study or of a class
    the study lacks, or holds a cell that ``target`` has with other content, or when either
    folder's cells were computed with other settings than the config's
    (``settings.check_settings``; a folder without a record is taken as the config's)."""
    source, target = Path(source), Path(target)
    if not (source / layout.CELLS).is_dir():
        raise UserError(
            f"--merge-from {source}: no cells/ folder there; give the results folder of a run "
            f"of study {study.name} (the folder that holds cells/ and timings/)"
        )
    if source.resolve() == target.resolve():
        raise UserError(f"--merge-from {source} is the results folder itself; give another one")
    check_settings(study, source)
    check_settings(study, target)
    copies, same, conflicts = [], 0, []
    for path in layout.cell_files(source):
        cell = read_json(path)
        if cell.get("study") != study.name or cell.get("class") not in study.classes:
            raise UserError(
                f"{path} is a cell of study {cell.get('study')!r}, class {cell.get('class')!r}, "
                f"not of {study.name} (classes {list(study.classes)}); merge only the results "
                "of the same study config"
            )
        dst = target / layout.CELLS / path.name
        if not dst.exists():
            copies.append((path, dst))
        elif dst.read_bytes() == path.read_bytes():
            same += 1
        else:
            conflicts.append(path.name)
    if conflicts:
        more = f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else ""
        raise UserError(
            f"{len(conflicts)} cells differ between {source / layout.CELLS} and "
            f"{target / layout.CELLS} "
            f"({', '.join(conflicts[:5])}{more}): the same cell computed twice, on other "
            "machines or code. Nothing was written; keep one copy of each (move the other "
            "folder's file away) and merge again"
        )
    # A timing and a score file go with their cell; a cell both hold alike keeps this folder's.
    for path in [*layout.timing_files(source), *layout.score_files(source)]:
        dst = target / path.parent.name / path.name
        if not dst.exists() and layout.cell_path(source, *layout.cell_name(path)).exists():
            copies.append((path, dst))
    copies += [
        (layout.table_path(source, name), layout.table_path(target, name))
        for name in STUDY_FILES
        if layout.table_path(source, name).exists() and not layout.table_path(target, name).exists()
    ]
    return MergePlan(copies, same, _merged_tables(source, target))


def _merged_tables(source: Path, target: Path) -> dict[str, dict]:
    """The tables that gain rows from ``source``: each class (or method and class) this
    folder lacks. Rows both hold keep this folder's values."""
    out = {}
    if layout.table_path(source, TRAINING_TIME).exists():
        theirs = read_json(layout.table_path(source, TRAINING_TIME))
        ours = _read(layout.table_path(target, TRAINING_TIME))
        if set(theirs) - set(ours):
            out[TRAINING_TIME] = in_class_order({**theirs, **ours})
    for name in BY_METHOD_TABLES:
        if not layout.table_path(source, name).exists():
            continue
        theirs = read_json(layout.table_path(source, name))
        ours = _read(layout.table_path(target, name))
        merged = {m: dict(by_class) for m, by_class in ours.items()}
        for method, by_class in theirs.items():
            for cls, value in by_class.items():
                merged.setdefault(method, {}).setdefault(cls, value)
        merged = {m: in_class_order(by) for m, by in merged.items()}
        if merged != ours:
            out[name] = merged
    return out


def _read(path: Path) -> dict:
    return read_json(path) if path.exists() else {}


def merge_results(study: Study, source, target) -> MergePlan:
    """Copies into ``target`` what ``plan_merge`` found missing (each file written atomically),
    then the grown tables; returns the plan. Refused merges write nothing."""
    plan = plan_merge(study, source, target)
    record_settings(study, target)
    for src, dst in plan.copies:
        dst.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(dst, src.read_bytes())
    for name, table in plan.tables.items():
        write_json(layout.table_path(target, name), table)
    return plan
