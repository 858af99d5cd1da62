"""What a command wrote into its folder: the folder's manifest ``.written.jsonl``, one JSON
line per file the tool wrote there ``{"path": <relative, "/"-separated>, "size": <bytes>,
"sha256": <hex>}``, the latest line of a path counting. ``--overwrite`` removes a file only
where the manifest lists it and its bytes are still the ones written (``plan``).

A folder is recorded while this process holds it (``recording``, which ``folders.folder_lock``
enters): every file the package writes under it (``files.written``: its atomic writes, the
orbax checkpoint folders, the TensorBoard event files as they grow) is recorded in the nearest
folder being recorded. Each record is appended after its file is complete, in one ``write``
of one line, so a killed process can only lose or cut short its last record, which is then
not read: the manifest never lists a file the tool did not finish writing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from anogan_jax import files, hosts

MANIFEST = ".written.jsonl"

# Absolute folder -> how many ``recording`` contexts hold it.
_RECORDING: dict[Path, int] = {}
# (folder, relative path) -> (inode, size, running sha256) of a file that grows (event files).
_GROWING: dict[tuple[Path, str], tuple[int, int, object]] = {}


@contextlib.contextmanager
def recording(folder):
    """Records in ``folder``'s manifest what the package writes under it until the end."""
    folder = Path(folder).resolve()
    first = folder not in _RECORDING
    _RECORDING[folder] = _RECORDING.get(folder, 0) + 1

    def record(path: Path, data: bytes | None) -> None:
        path = Path(path).parent.resolve() / Path(path).name
        if _holder(path) == folder and path != folder / MANIFEST:
            _record(folder, path, data)

    try:
        with files.watch(record) if first else contextlib.nullcontext():
            yield
    finally:
        _RECORDING[folder] -= 1
        if not _RECORDING[folder]:
            del _RECORDING[folder]
            for key in [k for k in _GROWING if k[0] == folder]:
                del _GROWING[key]


def _holder(path: Path) -> Path | None:
    for parent in path.parents:
        if parent in _RECORDING:
            return parent
    return None


def _record(folder: Path, path: Path, data: bytes | None) -> None:
    if not hosts.is_writer():
        return  # process 0 of a multi-host run writes the files, and their manifest
    if data is None and not path.exists():
        return  # written on another host's disk (a process of a multi-host run)
    if data is not None:
        entries = [_entry(folder, path, len(data), hashlib.sha256(data))]
    elif path.is_dir():
        entries = [_entry(folder, p, *_hashed(p)) for p in sorted(path.rglob("*")) if _is_file(p)]
    else:
        entries = [_grown(folder, path)]
    text = "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries)
    try:
        fd = os.open(folder / MANIFEST, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
    except OSError as err:
        raise files.WriteError(
            f"could not write {folder / MANIFEST}: {err.strerror or err}"
        ) from err


def _entry(folder: Path, path: Path, size: int, digest) -> dict:
    return {"path": path.relative_to(folder).as_posix(), "size": size, "sha256": digest.hexdigest()}


def _is_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def _hashed(path: Path) -> tuple[int, object]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest


def _grown(folder: Path, path: Path) -> dict:
    """The entry of a file the package appends to: only the bytes added since its last record
    are read (hashing an event file once, not once per event)."""
    key = (folder, path.relative_to(folder).as_posix())
    inode, size, digest = _GROWING.get(key, (None, 0, None))
    stat = path.stat()
    if stat.st_ino != inode or stat.st_size < size:
        size, digest = 0, hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(size)
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    _GROWING[key] = (stat.st_ino, size, digest)
    return _entry(folder, path, size, digest.copy())


def read(folder) -> dict[str, dict] | None:
    """The manifest of ``folder``: relative path -> its latest entry; None when the folder has
    none (one the tool wrote before it kept manifests, or never wrote into). A line cut short
    by a killed process is not read."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    entries = {}
    for line in path.read_bytes().decode(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            entries[entry["path"]] = entry
    return entries


def still_written(folder, entry: dict | None) -> bool:
    """Whether the file ``entry`` names still holds the bytes the tool wrote there."""
    if entry is None:
        return False
    path = Path(folder) / entry["path"]
    if not _is_file(path) or path.stat().st_size != entry.get("size"):
        return False
    return _hashed(path)[1].hexdigest() == entry.get("sha256")


def adopt(folder, paths) -> None:
    """Writes a manifest for ``folder`` listing ``paths`` (relative) as they are now: a folder
    the tool wrote before it kept manifests takes the files its names match as its own once,
    so that what the user changes afterwards is told apart."""
    folder = Path(folder)
    lines = []
    for rel in sorted(paths):
        size, digest = _hashed(folder / rel)
        lines.append(json.dumps({"path": rel, "size": size, "sha256": digest.hexdigest()}))
    files.atomic_write_text(folder / MANIFEST, "".join(line + "\n" for line in lines))


def compact(folder) -> None:
    """Rewrites ``folder``'s manifest, if it has one, with the latest entry of each path (a
    resumed folder's manifest does not grow with each opening)."""
    entries = read(folder)
    if entries is not None:
        rewrite(folder, entries)


def rewrite(folder, entries: dict[str, dict]) -> None:
    """Replaces ``folder``'s manifest with ``entries`` (atomically)."""
    text = "".join(json.dumps(e, sort_keys=True) + "\n" for _, e in sorted(entries.items()))
    files.atomic_write_text(Path(folder) / MANIFEST, text)
