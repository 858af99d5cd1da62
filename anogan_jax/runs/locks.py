"""One process per output folder: an ``flock`` on the folder's ``.lock`` file, which names its
holder (pid and host). Taking it is atomic and the kernel drops it when its process dies, so
a lock file left by a killed process is taken over by exactly one of the processes that find
it; a lock written on another host is never taken over (it cannot be checked from here)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from pathlib import Path

from anogan_jax import hosts
from anogan_jax.runs.config import RunError


@contextlib.contextmanager
def folder_lock(folder):
    """Holds ``folder`` for this process (see the module docstring); RunError when another
    process holds it. The folder is created if need be, and removed again, with the parents
    made for it, when the command fails while it is still empty. In a multi-host run process
    0 holds it for all (``hosts``): the others wait until it has."""
    if not hosts.is_writer():
        hosts.sync("lock")
        yield
        return
    folder = Path(folder)
    _check_creatable(folder)
    created = [p for p in (folder, *folder.parents) if not p.exists()]  # deepest first
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / ".lock"
    fd = _take_lock(folder, lock)
    try:
        hosts.sync("lock")
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
    """``folder_lock`` on each of ``folders`` (all or none); RunError for a folder named twice
    (its runs would write over each other)."""
    folders = [Path(f) for f in folders]
    if len({f.resolve() for f in folders}) != len(folders):
        raise RunError(f"the folders {[str(f) for f in folders]} repeat one; give distinct ones")
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
