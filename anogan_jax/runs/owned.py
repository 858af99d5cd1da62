"""What ``--overwrite`` removes from a command's folder: the files its manifest lists whose
bytes are still the ones the tool wrote (``manifest``), never anything else.

Each command names what it writes (its ``OWNED`` names: top-level globs, with the sub-folders
it writes into described by ``OWNED_CONTENTS``). Those names decide nothing on their own:
they say where a new run of the command will write, so a file of the user's there is refused
rather than kept and then replaced; and they judge, once, a folder the tool wrote before it
kept manifests (``legacy``).
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import sys
from pathlib import Path

from anogan_jax.runs import manifest
from anogan_jax.runs.config import RunError
from anogan_jax.runs.events import EVENTS

# A multi-seed run, encoder or score folder holds one ordinary folder per seed.
SEED_FOLDERS = "seed_*"
LOCK = ".lock"

# What the tool writes inside the sub-folders it owns (relative globs). A pattern ending in
# "/" is a folder the tool makes whole (an orbax checkpoint step).
_TMP_CHECKPOINT = "*.orbax-checkpoint-tmp*/"
_CHECKPOINTS = ("[0-9]*/", _TMP_CHECKPOINT, "model.json", "best.json")
OWNED_CONTENTS = {
    "checkpoints": _CHECKPOINTS,
    "checkpoints_best": _CHECKPOINTS,
    "samples": ("step_*.png",),
    EVENTS: ("events.out.tfevents.*",),
    "parts": ("[0-9]*.npz", "val/[0-9]*.npz", "images/[0-9]*.npz"),
    "images": ("[0-9][0-9][0-9][0-9][0-9]*_*.png",),
}
# Names a new run never writes again (each opening makes new event files, each orbax save a
# new temporary folder): a file of the user's there is kept without a refusal.
_NEVER_AGAIN = {EVENTS: ("events.out.tfevents.*",), "checkpoints": (_TMP_CHECKPOINT,)}
_NEVER_AGAIN["checkpoints_best"] = _NEVER_AGAIN["checkpoints"]


def _base_name(name: str) -> str:
    """The file an atomic write's temporary file (``files.atomic_write_bytes``) stands for."""
    if name.startswith(".") and name.endswith(".tmp"):
        return name[1:].rsplit(".", 2)[0]
    return name


def is_owned(name: str, owned) -> bool:
    """Whether an entry of a folder is one of its command's ``owned`` names, or the temporary
    file of an atomic write of one left by a killed process."""
    return any(fnmatch.fnmatch(_base_name(name), pattern) for pattern in owned)


def files_in(out: Path) -> list[str]:
    """Every file (or link) under ``out`` as a relative "/"-separated path, in order; not its
    lock nor its manifest. Links are listed, never followed."""
    found = []
    for root, dirs, names in os.walk(out):
        rel = Path(root).relative_to(out)
        links = [d for d in dirs if os.path.islink(os.path.join(root, d))]
        for name in [*names, *links]:
            if rel == Path(".") and name in (LOCK, manifest.MANIFEST):
                continue
            found.append((rel / name).as_posix())
    return sorted(found)


def named(out: Path, owned, *, again: bool = False) -> list[str]:
    """The files under ``out`` that ``owned``'s names match (with ``OWNED_CONTENTS`` inside
    sub-folders, and a seed folder's as its parent's); with ``again`` only those a new run may
    write again."""
    found = []
    for rel in files_in(out):
        top, _, inner = rel.partition("/")
        if not is_owned(top, owned):
            continue
        if not inner:
            found.append(rel)
        elif fnmatch.fnmatch(top, SEED_FOLDERS) and SEED_FOLDERS in owned:
            mine = tuple(p for p in owned if p != SEED_FOLDERS)
            found += [f"{top}/{r}" for r in named(out / top, mine, again=again)]
        elif _inside(inner, OWNED_CONTENTS.get(top, ())) and not (
            again and _inside(inner, _NEVER_AGAIN.get(top, ()))
        ):
            found.append(rel)
    return sorted(set(found))


def _inside(inner: str, patterns) -> bool:
    first = inner.partition("/")[0]
    for pattern in patterns:
        if pattern.endswith("/") and "/" in inner and fnmatch.fnmatch(first, pattern[:-1]):
            return True
        if fnmatch.fnmatch(inner, pattern):
            return True
    return False


def plan(out: Path, owned) -> tuple[list[str], list[str]]:
    """(the tool's files, the others) under ``out``: with a manifest, the files it lists
    whose bytes are unchanged (and temporary files of atomic writes of those); without one,
    the files ``owned`` names (``named``: a folder written before manifests)."""
    out = Path(out)
    entries = manifest.read(out)
    if entries is None:
        mine = set(named(out, owned))
    else:
        mine = set()
        for rel in files_in(out):
            parent, _, name = rel.rpartition("/")
            base = f"{parent}/{_base_name(name)}" if parent else _base_name(name)
            temporary = base != rel and (base in entries or is_owned(base, owned))
            if temporary or manifest.still_written(out, entries.get(rel)):
                mine.add(rel)
    others = [rel for rel in files_in(out) if rel not in mine]
    return sorted(mine), others


def check_clear(out: Path, owned) -> tuple[list[str], list[str]]:
    """``plan(out, owned)``, refusing an ``--overwrite`` that would keep a file the tool did
    not write (or that changed since) where the new run writes: it would be replaced."""
    mine, others = plan(out, owned)
    again = set(named(out, owned, again=True))
    clash = [rel for rel in others if rel in again]
    if clash:
        shown = ", ".join(clash[:3]) + (", ..." if len(clash) > 3 else "")
        raise RunError(
            f"--overwrite of {out} would replace {shown}, which the tool did not write (or "
            "which changed since it did); move it out of that folder, or choose another --out"
        )
    return mine, others


def clear(out: Path, owned) -> list[str]:
    """Removes the tool's files from ``out`` (``check_clear``) and the sub-folders that
    leaves empty; says in one line what it kept. Returns the kept paths."""
    out = Path(out)
    if not out.is_dir():
        return []
    mine, others = check_clear(out, owned)
    for rel in mine:
        (out / rel).unlink()
    for folder in sorted({(out / rel).parent for rel in mine}, key=lambda p: -len(p.parts)):
        while folder != out and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
    if (out / manifest.MANIFEST).exists():
        manifest.rewrite(out, {})
    if others:
        print(f"note: --overwrite kept in {out}: {summary(others)}", file=sys.stderr)
    return others


def summary(paths) -> str:
    """Paths grouped by their top-level entry: ``a.txt, scores/ (12 files)``."""
    groups: dict[str, int] = {}
    for rel in paths:
        top, sep, _ = rel.partition("/")
        groups[top + sep] = groups.get(top + sep, 0) + 1
    parts = [
        k if not k.endswith("/") else f"{k} ({n} file{'s' * (n > 1)})" for k, n in groups.items()
    ]
    return ", ".join(parts[:8]) + (f", ... ({len(parts) - 8} more)" if len(parts) > 8 else "")


def adopt_legacy(out: Path, owned) -> None:
    """Gives a folder the tool wrote before it kept manifests (files, no manifest) one that
    lists the files ``owned`` names, as they are now."""
    out = Path(out)
    if out.is_dir() and manifest.read(out) is None and files_in(out):
        with contextlib.suppress(FileNotFoundError):
            manifest.adopt(out, named(out, owned))
