"""Files the package writes: atomic writes (never a half-written file where a good one was),
JSON and JSON-lines, created with the user's umask."""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from anogan_jax import hosts
from anogan_jax.errors import UserError


class FileFormatError(UserError, ValueError):
    """A file the package wrote earlier that can no longer be read (damaged or edited)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class WriteError(UserError, OSError):
    """A file that could not be written (a full disk, no permission); the file it would have
    replaced, and every file written before, are intact."""


# What is told of each file the package finishes writing (``watch``, ``written``).
_WATCHERS: list = []


@contextlib.contextmanager
def watch(fn):
    """Calls ``fn(path, data)`` for each file the package finishes writing (``written``)
    until the end of the context."""
    _WATCHERS.append(fn)
    try:
        yield
    finally:
        _WATCHERS.remove(fn)


def written(path, data: bytes | None = None) -> None:
    """Tells the watchers (``watch``) that ``path`` is complete: a file of bytes ``data``
    (None: read it back; a file that grows, or a folder written whole, such as a checkpoint)."""
    for fn in list(_WATCHERS):
        fn(Path(path), data)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Writes to a temporary file in the same folder, fsyncs, then renames over ``path``
    (and tells the watchers: ``written``). The file gets the permissions a plain
    ``open(path, "w")`` would (0666 less the umask). Raises WriteError naming ``path`` when
    the system refuses (ENOSPC, EACCES, ...). In a multi-host run only process 0 writes
    (``hosts.is_writer``); the others share its folders."""
    try:
        _atomic_write(Path(path), data)
    except WriteError:
        raise
    except OSError as err:
        raise WriteError(f"could not write {path}: {err.strerror or err}") from err
    written(path, data)


def _atomic_write(path: Path, data: bytes) -> None:
    if not hosts.is_writer():
        return  # process 0 of a multi-host run writes the files of the folders they share
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def write_json(path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path) -> dict:
    """The JSON object in ``path``. Raises FileFormatError naming the file when it is not a
    readable JSON object."""
    try:
        with open(path) as f:
            obj = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise FileFormatError(
            f"{path} is damaged ({err}); restore it from a backup, or start that folder again "
            "with --overwrite"
        ) from None
    if not isinstance(obj, dict):
        raise FileFormatError(
            f"{path} holds a JSON {type(obj).__name__}, not an object; restore it from a "
            "backup, or start that folder again with --overwrite"
        )
    return obj


def read_jsonl(path, *, steps: bool = False) -> list[dict]:
    """The records of a JSON-lines file ([] when it does not exist). A damaged LAST line (a
    write cut short) is dropped with a warning; a damaged line before it is an error, as is,
    with ``steps`` (a log of a run's steps), a record without an integer "step"."""
    path = Path(path)
    if not path.exists():
        return []
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    records = []
    for i, line in enumerate(lines):
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except ValueError as err:
            if i == len(lines) - 1:
                warnings.warn(
                    f"{path}: dropped its damaged last line ({err})", RuntimeWarning, stacklevel=2
                )
                break
            raise FileFormatError(
                f"{path} line {i + 1} is damaged ({err}); remove that line, or start the "
                "folder again with --overwrite"
            ) from None
        step = record.get("step")
        if steps and (not isinstance(step, int) or isinstance(step, bool)):
            raise FileFormatError(
                f"{path} line {i + 1} has no integer step (it has {step!r}); correct or "
                "remove that line, or start the folder again with --overwrite"
            )
        records.append(record)
    return records


def write_jsonl(path, records: list[dict]) -> None:
    """Rewrites a JSON-lines file atomically."""
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in records))


def dataset_cache_dir() -> Path:
    """Where decoded datasets are kept: $ANOGAN_JAX_CACHE/datasets (default
    ~/.cache/anogan_jax/datasets)."""
    root = Path(os.environ.get("ANOGAN_JAX_CACHE", Path.home() / ".cache" / "anogan_jax"))
    return root / "datasets"


def write_npz_quietly(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Saves ``arrays`` atomically as .npz; a read-only cache only costs the decoding time next
    run, so an OSError is swallowed."""
    try:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(path, buf.getvalue())
    except OSError:
        pass


def cached_arrays(path: Path, build, check=lambda arrays: None) -> dict[str, np.ndarray]:
    """The arrays cached in the .npz file ``path`` when they load and ``check(arrays)`` does
    not raise; else ``build()``'s, cached there (``write_npz_quietly``). A damaged cache is
    rebuilt, never trusted."""
    path = Path(path)
    if path.exists():
        try:
            with np.load(path) as f:
                arrays = {k: f[k] for k in f.files}
            check(arrays)
            return arrays
        except Exception:  # a damaged cache is rebuilt, never trusted
            path.unlink(missing_ok=True)
    arrays = build()
    write_npz_quietly(path, arrays)
    return arrays


def keyed_cached_arrays(path: Path, key: str, build, check=lambda arrays: None) -> dict:
    """``cached_arrays`` of an entry valid exactly for the content hash ``key``: the entry
    holds its key ("cache_key"), and one whose key differs, or whose arrays ``check`` rejects,
    is rebuilt, never trusted. Returns the arrays without the key."""

    def keyed_check(arrays):
        if str(arrays.get("cache_key", "")) != key:
            raise ValueError("the cache entry was made for other files")
        check({k: v for k, v in arrays.items() if k != "cache_key"})

    arrays = cached_arrays(path, lambda: {**build(), "cache_key": np.array(key)}, keyed_check)
    arrays.pop("cache_key")
    return arrays
