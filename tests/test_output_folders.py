"""Output folders through the CLI: a command writes only into a folder it made (or one of its
own kind), ``--overwrite`` removes only the files the tool wrote, and one process at a time
holds a folder, a stale lock taken over by exactly one of the processes that find it."""

import multiprocessing
import os
import socket
import time
from pathlib import Path

import pytest

from anogan_jax.errors import UserError
from anogan_jax.runs.folders import folder_lock

DEAD = 2**22 + 1  # above Linux's pid_max: no process has it


def _hold(folder: str, start, results) -> None:
    """One racer: waits for the start, then holds the folder for a moment if it can, noting
    (through an O_EXCL file) whether another holder was inside at the same time."""
    start.wait()
    try:
        with folder_lock(folder):
            try:
                fd = os.open(Path(folder) / "inside", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                results.put("two holders")
                return
            time.sleep(0.01)
            os.close(fd)
            os.unlink(Path(folder) / "inside")
        results.put("held")
    except UserError:
        results.put("refused")


@pytest.mark.parametrize("stale", [False, True])
def test_two_processes_never_hold_one_folder(tmp_path, stale):
    """Two processes race for one folder (with a stale lock of a dead process there, or none)
    many times: each time at most one holds it, and no lock is left behind."""
    ctx = multiprocessing.get_context("fork")
    for i in range(40):
        folder = tmp_path / f"f{i}"
        folder.mkdir()
        if stale:
            (folder / ".lock").write_text(f"{DEAD} {socket.gethostname()}")
        start, results = ctx.Barrier(2), ctx.Queue()
        racers = [ctx.Process(target=_hold, args=(str(folder), start, results)) for _ in "ab"]
        for p in racers:
            p.start()
        for p in racers:
            p.join(30)
        got = sorted(results.get(timeout=5) for _ in racers)
        assert "two holders" not in got, (i, got)
        assert "held" in got, (i, got)
        assert not (folder / ".lock").exists(), i
