"""Output folders: one process per folder (a lock), refusing to clobber results, removing only
what the tool wrote, and the settings a resumed run continues with.

The order every driver follows: ``folder_lock`` -> ``check_output`` (refuses, changes
nothing) -> build and validate everything (data, models, checkpoints) -> ``clear_owned``
when overwriting -> write. So a refused command changes no byte of an existing run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import fnmatch
import os
import shutil
import socket
from pathlib import Path

from anogan_jax.files import read_jsonl, write_json, write_jsonl
from anogan_jax.runs.checkpoint import latest_step
from anogan_jax.runs.config import RunError, load_config, resumed_config
from anogan_jax.runs.events import EVENTS, EventLog

# A multi-seed run, encoder or score folder holds one ordinary folder per seed.
SEED_FOLDERS = "seed_*"


def seed_dir(out, seed: int) -> Path:
    return Path(out) / f"seed_{seed}"


def seeds_holding(root, name: str) -> list[int]:
    """The seeds whose folder under ``root`` (``seed_dir``) holds ``name``, in order."""
    found = (p.name.removeprefix("seed_") for p in Path(root).glob(SEED_FOLDERS))
    return sorted(int(s) for s in found if s.isdigit() and (seed_dir(root, int(s)) / name).exists())


@contextlib.contextmanager
def folder_lock(folder):
    """Refuses a second process on the same output folder. The lock is an ``flock`` on the
    folder's ``.lock`` file, which holds the pid and host of its holder: taking it is atomic,
    and the kernel drops it when its process dies, so a lock file left by a killed process is
    taken over by exactly one of the processes that find it. The folder is created if need be,
    and removed again, with the parents made for it, when the command fails while it is still
    empty."""
    folder = Path(folder)
    _check_creatable(folder)
    created = [p for p in (folder, *folder.parents) if not p.exists()]  # deepest first
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / ".lock"
    fd = _take_lock(folder, lock)
    try:
        yield
    except BaseException:
        # A refused or failed command leaves no trace: the folders this lock created are
        # removed again while they are empty (nothing else is touched).
        _release_lock(lock, fd)
        fd = None
        for path in created:
            try:
                path.rmdir()
            except OSError:
                break
        raise
    finally:
        if fd is not None:
            _release_lock(lock, fd)


def _take_lock(folder: Path, lock: Path) -> int:
    """An open descriptor of ``lock`` holding its flock, with our pid and host written in.
    Raises RunError when another process holds it (or held it and cannot be checked)."""
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 256).decode(errors="replace")
            os.close(fd)
            pid = holder.strip().partition(" ")[0] or "?"
            raise RunError(
                f"{folder} is in use by another process (pid {pid}, lock file {lock}); "
                "wait for it to finish or choose another output folder"
            ) from None
        # The holder before us removes the file as it lets go: the file we locked must still
        # be the one at ``lock``, or a third process may lock the new one there at once.
        if _same_file(fd, lock):
            break
        os.close(fd)
    try:
        _check_stale(folder, lock, os.read(fd, 256).decode(errors="replace"))
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}".encode(), 0)
    except BaseException:
        os.close(fd)  # the file stays: it names its (other) holder
        raise
    return fd


def _same_file(fd: int, path: Path) -> bool:
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)


def _release_lock(lock: Path, fd: int) -> None:
    """Removes the lock file while still holding its flock (so it is ours), then lets go."""
    try:
        lock.unlink(missing_ok=True)
    finally:
        os.close(fd)


@contextlib.contextmanager
def folder_locks(folders):
    """``folder_lock`` on each of ``folders`` (all or none)."""
    with contextlib.ExitStack() as stack:
        for folder in folders:
            stack.enter_context(folder_lock(folder))
        yield


def _check_stale(folder: Path, lock: Path, holder: str) -> None:
    """Refuses, once its flock is ours, a lock file whose ``holder`` (its content) may still
    hold the folder: one written by a process on another host (a folder on a shared disk, or a
    disk moved to a new machine), which cannot be checked from here, so it is never taken
    over: the person who knows removes it; or one naming a live process on this host (a
    version of the tool that did not flock). A lock of the earlier format holds only a pid."""
    pid, _, host = holder.strip().partition(" ")
    if host and host != socket.gethostname():
        raise RunError(
            f"{folder} is in use by process {pid or '?'} on host {host} (lock file {lock}), "
            "which cannot be checked from here; wait for it to finish, or, if no process on "
            f"{host} works on this folder any more (the run stopped, or the disk moved to a new "
            "machine), delete the lock file and run again"
        ) from None
    if pid.isdigit() and _alive(int(pid)):
        raise RunError(
            f"{folder} is in use by another process (pid {pid}, lock file {lock}); "
            "wait for it to finish or choose another output folder"
        ) from None


def lock_holder(folder) -> str | None:
    """The pid of the live process on this host that holds ``folder`` (``folder_lock``), or
    None. Reads the lock file only: taking the lock to test it would refuse its owner."""
    try:
        pid, _, host = (Path(folder) / ".lock").read_text().strip().partition(" ")
    except OSError:
        return None
    here = not host or host == socket.gethostname()
    return pid if here and pid.isdigit() and _alive(int(pid)) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _check_creatable(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise RunError(f"{folder} is a file, not a folder; choose another output folder")
    for parent in folder.parents:
        if parent.exists() and not parent.is_dir():
            raise RunError(f"{folder} lies under {parent}, which is a file; choose another folder")


def _forbidden(out: Path) -> str | None:
    resolved = out.resolve()
    if resolved == Path(resolved.anchor):
        return "the root folder"
    if resolved == Path.home().resolve():
        return "your home folder"
    if resolved == Path.cwd().resolve():
        return "the current folder"
    return None


# The record each kind of folder the tool writes holds (``check_output``'s ``marker``).
FOLDER_KINDS = {
    "config.json": "a run folder of `train`",  # and of `train-classifier`
    "encoder_config.json": "an encoder folder of `train-encoder`",
    "score_config.json": "a score folder of `score`",
    "scorer.json": "an export folder of `export`",
    "predict.json": "a predict folder of `predict`",
}


# What the tool writes inside the sub-folders it owns (relative globs): --overwrite removes
# these and keeps anything else there; a sub-folder goes too only when that leaves it empty.
# A pattern ending in "/" is a folder the tool makes whole (an orbax checkpoint step).
_CHECKPOINTS = ("[0-9]*/", "*.orbax-checkpoint-tmp*/", "model.json", "best.json")
OWNED_CONTENTS = {
    "checkpoints": _CHECKPOINTS,
    "checkpoints_best": _CHECKPOINTS,
    "samples": ("step_*.png",),
    EVENTS: ("events.out.tfevents.*",),
    "parts": ("[0-9]*.npz", "val/[0-9]*.npz", "images/[0-9]*.npz"),
    "images": ("[0-9][0-9][0-9][0-9][0-9]*_*.png",),
}


def _is_owned(name: str, owned) -> bool:
    """Whether an entry of a folder is one of its command's ``owned`` names, or the temporary
    file of an atomic write of one (``files.atomic_write_bytes``) left by a killed process."""
    if name.startswith(".") and name.endswith(".tmp"):
        name = name[1:].rsplit(".", 2)[0]
    return any(fnmatch.fnmatch(name, pattern) for pattern in owned)


def _entries(out: Path) -> list[str]:
    return sorted(c.name for c in out.iterdir() if c.name != ".lock") if out.is_dir() else []


def check_output(
    out: Path,
    *,
    resume: bool,
    overwrite: bool,
    marker: str,
    protect=(),
    owned=(),
    resumable: bool = True,
    done: str | None = None,
) -> None:
    """Refuses, before anything is written, an output folder that holds files but is not this
    command's (no ``marker``, and not only ``owned`` names: a command stopped before it wrote
    its marker), whatever the options; one that already holds results (``marker``) unless
    resuming (where ``resumable``) or overwriting, saying so when the run stopped before its
    last file ``done``; ``--overwrite`` of /, home or the current folder; and, with or without
    ``--overwrite``, a folder that is or holds one of ``protect`` (the runs the command reads:
    their folders are not the command's to write into or clear), or that another command of
    the tool wrote (``FOLDER_KINDS``: its files and these would mix)."""
    if resume and overwrite:
        raise RunError("--resume and --overwrite exclude each other; choose one")
    out = Path(out)
    for p in protect:
        p = Path(p).resolve()
        if p == out.resolve() or out.resolve() in p.parents:
            action = "--overwrite of" if overwrite else "writing results into"
            raise RunError(
                f"{action} {out} would mix them with (or delete) {p}, which this command "
                "reads; choose an output folder that neither is nor holds it, such as "
                f"{p / 'scores'}"
            )
    other = next((m for m in FOLDER_KINDS if m != marker and (out / m).exists()), None)
    if other is not None:
        raise RunError(
            f"{out} is {FOLDER_KINDS[other]} (it holds {other}); this command's results would "
            f"mix with it: choose another output folder, such as {out / 'results'}"
        )
    if overwrite and _forbidden(out):
        raise RunError(
            f"--overwrite refuses {out}: it is {_forbidden(out)}; choose a dedicated folder"
        )
    _check_mine(out, marker, owned, resume or overwrite)
    if (out / marker).exists() and not (resume or overwrite):
        kind = FOLDER_KINDS[marker]
        if done is not None and not (out / done).exists():
            raise RunError(
                f"{out} holds {kind} that stopped before it finished (it has no {done}); "
                "pass --overwrite to redo it, or choose another --out"
            )
        again = "--resume to continue them or --overwrite to start again"
        raise RunError(
            f"{out} already holds results ({marker}); pass "
            f"{again if resumable else '--overwrite to replace them, or choose another --out'}"
        )


def _check_mine(out: Path, marker: str, owned, again: bool) -> None:
    """Refuses a folder that holds files but no ``marker``: one the user made (never written
    into, nor cleared), or, unless ``again``, one where this command stopped before writing
    its marker (only ``owned`` names)."""
    entries = _entries(out)
    if not entries or (out / marker).exists():
        return
    shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
    if not (owned and all(_is_owned(name, owned) for name in entries)):
        raise RunError(
            f"{out} holds files ({shown}) but no {marker}, so it is not a folder this tool "
            "wrote; its files are left alone: choose another --out (a new or empty folder)"
        )
    if not again:
        raise RunError(
            f"{out} holds part of {FOLDER_KINDS[marker]} that stopped before it wrote "
            f"{marker} ({shown}); pass --overwrite to redo it, or choose another --out"
        )


def clear_owned(out: Path, owned: tuple[str, ...]) -> None:
    """Removes what this kind of folder's command wrote into ``out``: its files whose names
    match one of ``owned`` (glob patterns), and in its sub-folders of those names only what the
    tool writes there (``OWNED_CONTENTS``). Anything else is left alone."""
    out = Path(out)
    if not out.is_dir():
        return
    for child in sorted(out.iterdir()):
        if not _is_owned(child.name, owned):
            continue
        if child.is_dir() and not child.is_symlink():
            _clear_contents(child, OWNED_CONTENTS.get(child.name, ()))
        else:
            child.unlink()


def _clear_contents(folder: Path, patterns) -> None:
    for pattern in patterns:
        whole = pattern.endswith("/")
        for path in sorted(folder.glob(pattern.rstrip("/"))):
            if whole and path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif not whole and (path.is_file() or path.is_symlink()):
                path.unlink()
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
        with contextlib.suppress(OSError):
            sub.rmdir()  # only where nothing is left
    with contextlib.suppress(OSError):
        folder.rmdir()


def start_folder(out: Path, owned: tuple[str, ...], *, overwrite: bool, records: dict) -> None:
    """The first writes of a command into its folder, once every check has passed: with
    ``overwrite``, remove what an earlier run of the command wrote (``clear_owned``), else
    check the step logs a resume continues (``STEP_LOGS``: read before anything changes);
    then write ``records`` (relative path -> JSON object)."""
    if overwrite:
        clear_owned(out, owned)
    else:
        for name in STEP_LOGS:
            read_jsonl(Path(out) / name, steps=True)
    for name, obj in records.items():
        write_json(Path(out) / name, obj)


def check_steps(ckpt_dir: Path, steps: int, out: Path) -> None:
    """Refuses a run whose checkpoints are already past ``steps`` (a resume would go back)."""
    done = latest_step(ckpt_dir)
    if done is not None and done > steps:
        raise RunError(
            f"{out} is already at step {done}; --steps {steps} would go back. "
            f"Give --steps >= {done}"
        )


def settings_for(cls, path: Path, given: dict, *, resume: bool):
    """The config a command runs with: with ``resume`` and a saved config at ``path``, the
    saved settings updated with the ``given`` ones (see ``config.resumed_config``); else the
    given ones over the defaults."""
    path = Path(path)
    if resume and path.exists():
        return resumed_config(load_config(cls, path), given, path.parent)
    return cls(**given)


def continue_config(config, path: Path, *, resume: bool):
    """``config`` checked against the one saved at ``path`` when resuming: every setting must
    match except those in ``config.RESUMABLE``. Returns the config to run with."""
    path = Path(path)
    if resume and path.exists():
        return resumed_config(
            load_config(type(config), path), dataclasses.asdict(config), path.parent
        )
    return config


# The logs of steps a resumed folder continues (``MetricsLog``).
STEP_LOGS = ("metrics.jsonl", "fid.jsonl")


class MetricsLog:
    """A JSON-lines log rewritten atomically at each record, continuing a resumed run's
    records up to its step. With ``events`` (an ``events.EventLog`` opened at the same step),
    each record's numbers also go to TensorBoard as ``<tag>/<name>`` at the record's step."""

    def __init__(self, path: Path, start: int, events: EventLog | None = None, tag: str = ""):
        self.path = Path(path)
        self.records = [r for r in read_jsonl(self.path, steps=True) if r["step"] <= start]
        self.events, self.tag = events, tag

    def append(self, record: dict) -> None:
        self.records.append(record)
        write_jsonl(self.path, self.records)
        if self.events is not None:
            self.events.scalars(record["step"], record, self.tag)
