"""Per-image scores kept with a study's cells: one compressed ``.npz`` per (class, seed,
method) under ``<results>/scores/`` (``layout.score_file``), holding every column of the seed's
``scores.csv``. They are what the study derives its rows from (seed ensembles, complexity
rows, subsample errors, pair AUROCs), so a row added later is computed from the committed files
without the run folders or any model. A method scored with the same ScoreConfig as an earlier
method of the study (f-AnoGAN ranked by another column) whose scores came out identical keeps a
file that names that method (``same_as``) instead of a second copy.

Each file reads back exactly as the ``scores.csv`` it was made from (``read_scores``): a score
column is stored as float32 where the csv's 9 significant digits (``score_report``) give back
the same float64 values from it, as float64 otherwise; integer columns in the smallest dtype
that holds them. The bytes do not depend on when the file was written."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import numpy as np

from anogan_jax.files import atomic_write_bytes
from anogan_jax.studies import layout

_INTEGER_COLUMNS = ("index", "label", "class")
_DIGITS = 9  # ``score_report.write_report`` writes each score with "%.9g"
_SAME_AS = "same_as"


def read_scores(path) -> dict[str, np.ndarray]:
    """A scores.csv (``score_report.write_report``) as one array per column: ``split`` as
    strings (and ``file``, a folder dataset's), index, label and class as integers, every score
    column as float64."""
    with open(path) as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    out = {}
    for name in reader.fieldnames or ():
        values = np.array([r[name] for r in rows], dtype=str)
        if name in _INTEGER_COLUMNS:
            values = values.astype(np.int64)
        elif name not in ("split", "file"):
            values = values.astype(np.float64)
        out[name] = values
    return out


def _from_digits(values: np.ndarray) -> np.ndarray:
    """float32 values as float64 through their ``_DIGITS`` significant digits, as a csv
    written from them reads back."""
    return np.array([float(f"{float(v):.{_DIGITS}g}") for v in values], np.float64)


def _compact(name: str, values: np.ndarray) -> np.ndarray:
    if values.dtype.kind not in "fiu":  # split, and a same_as file's method name
        return values
    if name in _INTEGER_COLUMNS:
        for dtype in (np.int8, np.int16, np.int32):
            if values.size == 0 or (
                values.min() >= np.iinfo(dtype).min and values.max() <= np.iinfo(dtype).max
            ):
                return values.astype(dtype)
        return values
    small = values.astype(np.float32)
    same = np.array_equal(_from_digits(small), values, equal_nan=True)
    return small if same else values


def write_score_file(path, table: dict[str, np.ndarray]) -> None:
    """Writes ``table`` (``read_scores``'s columns) compactly and atomically to ``path``, with
    fixed zip dates, so that the same scores give the same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, values in table.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w") as f:
                np.lib.format.write_array(f, _compact(name, np.asarray(values)))
    atomic_write_bytes(path, buf.getvalue())


def _write_link(path, same_as: str) -> None:
    write_score_file(path, {_SAME_AS: np.array(same_as)})


def read_score_file(path) -> dict[str, np.ndarray]:
    """The columns of a score file, exactly as ``read_scores`` read the scores.csv it was
    written from (of the method it names, for a ``same_as`` file)."""
    out = {}
    with np.load(path, allow_pickle=False) as data:
        if _SAME_AS in data.files:
            cls, seed, _ = layout.cell_name(path)
            twin = layout.score_file(Path(path).parent.parent, cls, seed, str(data[_SAME_AS]))
            return read_score_file(twin)
        for name in data.files:
            values = data[name]
            if name in _INTEGER_COLUMNS:
                values = values.astype(np.int64)
            elif values.dtype == np.float32:
                values = _from_digits(values)
            out[name] = values
    return out


def scores_source(results, runs, cls: int, seed: int, method: str):
    """Where the per-image scores of one (class, seed, method) are: its score file under
    ``results`` when there is one, else its scores.csv under ``runs``; None without either."""
    kept = layout.score_file(results, cls, seed, method)
    if kept.exists():
        return kept
    csv_path = layout.scores_csv(runs, cls, seed, method)
    return csv_path if csv_path.exists() else None


def read_source(path) -> dict[str, np.ndarray]:
    """A score file or a scores.csv (``scores_source``) as ``read_scores``'s columns."""
    return read_score_file(path) if str(path).endswith(".npz") else read_scores(path)


def seed_scores(results, runs, cls: int, seed: int, method: str) -> dict | None:
    """The per-image scores of one (class, seed, method) (``scores_source``), or None."""
    path = scores_source(results, runs, cls, seed, method)
    return None if path is None else read_source(path)


def twins(study, method: str) -> list[str]:
    """The methods before ``method`` in ``study`` scored with the same ScoreConfig."""
    names = [m.name for m in study.methods]
    score = study.methods[names.index(method)].score
    return [m.name for m in study.methods[: names.index(method)] if m.score == score]


def _same(a: dict, b: dict) -> bool:
    return list(a) == list(b) and all(
        a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f")
        for k in a
    )


def keep_scores(results, runs, cls: int, seed: int, method: str, same_as=()) -> bool:
    """Writes the score file of one (class, seed, method) from its scores.csv under ``runs``
    when the file is missing and the csv is there; returns whether it wrote one. ``same_as``:
    methods (``twins``) whose kept scores, when equal to these, are named instead of copied."""
    kept = layout.score_file(results, cls, seed, method)
    csv_path = layout.scores_csv(runs, cls, seed, method)
    if kept.exists() or not csv_path.exists():
        return False
    table = read_scores(csv_path)
    for twin in same_as:
        path = layout.score_file(results, cls, seed, twin)
        if path.exists() and _same(read_score_file(path), table):
            _write_link(kept, twin)
            return True
    write_score_file(kept, table)
    return True


def keep_all_scores(study, results, runs) -> int:
    """``keep_scores`` for every (class, seed, method) of ``study`` with a cell: the score
    folders still under ``runs`` are kept with the cells. Returns how many files it wrote."""
    return sum(
        keep_scores(results, runs, cls, seed, m.name, twins(study, m.name))
        for cls in study.classes
        for seed in study.seeds
        for m in study.methods
        if layout.cell_path(results, cls, seed, m.name).exists()
    )
