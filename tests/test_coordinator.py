"""Multi-host runs through the real CLI: two processes on localhost joined by ``--coordinator``,
each with 2 simulated CPU devices (4 in all), against one process with 4 devices."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from anogan_jax import hosts
from anogan_jax.runs.locks import folder_lock
from anogan_jax.runs.models import load_gan

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parent.parent
TINY = ["--arch", "mlp", "--batch-size", "8", "--latent-dim", "8", "--quiet", "--steps", "3"]
SCORE = ["--method", "anogan", "--num-steps", "3", "--batch-size", "8", "--limit", "16"]
SCORE += ["--val-images", "4", "--quiet"]
# A run of two processes takes well under a minute alone on 2 busy cores; a process that waits
# for a peer that has left waits minutes (the coordination service's timeouts).
TIMEOUT_S = 240


def _env(devices: int) -> dict:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(argv, devices: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "anogan_jax.cli", *argv],
        env=_env(devices),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(procs) -> list[tuple[int, str, str]]:
    """(status, stdout, stderr) of each process; fails the test (killing them all) when one
    has not finished within TIMEOUT_S."""
    deadline, results = time.monotonic() + TIMEOUT_S, []
    try:
        for p in procs:
            try:
                out, err = p.communicate(timeout=max(deadline - time.monotonic(), 1))
            except subprocess.TimeoutExpired:
                pytest.fail(f"a process of {p.args[3:]} still ran after {TIMEOUT_S} s")
            results.append((p.returncode, out, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return results


def two_processes(argv) -> list[tuple[int, str, str]]:
    """Runs the CLI as the two processes of one multi-host run (2 CPU devices each)."""
    joined = ["--coordinator", f"127.0.0.1:{_free_port()}", "--num-processes", "2"]
    return _finish([_cli([*argv, *joined, "--process-id", str(i)], 2) for i in range(2)])


def one_process(argv) -> tuple[int, str, str]:
    return _finish([_cli(argv, 4)])[0]


def _ok(result) -> str:
    status, out, err = result
    assert status == 0, err[-3000:]
    return out


def _error_line(stderr: str) -> str:
    """The last line of a refused process's stderr, checked to be its only ``error:`` line,
    with no traceback before it (lines the runtime logs may precede it)."""
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = stderr.strip().splitlines()
    assert [line for line in lines if line.startswith("error:")] == lines[-1:], stderr[-3000:]
    return lines[-1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same tiny run trained by two processes (``two``) and by one of 4 devices (``one``)."""
    root = tmp_path_factory.mktemp("coord")
    two = two_processes(["train", *TINY, "--devices", "all", "--out", str(root / "two")])
    for r in two:
        assert "trained to step 3" in _ok(r)
    _ok(one_process(["train", *TINY, "--devices", "all", "--out", str(root / "one")]))
    return root


def test_two_process_train_ends_with_the_one_process_state(runs):
    """Every leaf (parameters, BatchNorm statistics, optimiser states, step) of the state the
    two processes saved equals the one-process run's, element by element."""
    two, one = (jax.tree.leaves(load_gan(runs / name)[2]) for name in ("two", "one"))
    assert len(two) == len(one) > 10
    diffs = []
    for got, want in zip(two, one, strict=True):
        got, want = np.asarray(got), np.asarray(want)
        assert got.shape == want.shape and got.dtype == want.dtype
        # The batch reductions add over 4 devices in another grouping (float32 rounding
        # ~1e-7). Adam scales each gradient element to about +-lr (2e-4) in its first steps,
        # so where a gradient element is near 0 that rounding can move its weight by a
        # fraction of lr: atol 5e-5, and such elements must stay rare.
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=5e-5)
        diffs.append(np.abs(got.astype(np.float64) - want).ravel())
    assert np.mean(np.concatenate(diffs) > 1e-6) < 0.01


def test_two_process_train_writes_each_file_once(runs):
    """Process 0 writes the folder's files (one metrics record per logged step, one event
    file, the samples); both processes' checkpoint holds step 3; no lock is left."""
    two = runs / "two"
    records = [json.loads(line) for line in (two / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [3]
    one = json.loads((runs / "one" / "metrics.jsonl").read_text())
    assert records[0]["d_loss"] == pytest.approx(one["d_loss"], rel=1e-5)
    assert len(list((two / "events").iterdir())) == 1
    assert sorted(p.name for p in (two / "samples").iterdir()) == ["step_0000003.png"]
    assert sorted(p.name for p in (two / "checkpoints").iterdir()) == ["3", "model.json"]
    assert not (two / ".lock").exists()


def test_two_process_score_of_a_one_process_run_gives_its_report(runs):
    """A run trained by one process (4 devices) is restored by two processes onto their
    devices and scored as one process scores it: the same AUROCs, the same scores up to
    float32 rounding of the sharded search."""
    run = runs / "one"
    for r in two_processes(["score", "--run", str(run), *SCORE, "--devices", "all", "--out",
                            str(runs / "score_two")]):  # fmt: skip
        assert "AUROC: A" in _ok(r)
    _ok(one_process(["score", "--run", str(run), *SCORE, "--out", str(runs / "score_one")]))
    two, one = (
        json.loads((runs / s / "metrics.json").read_text()) for s in ("score_two", "score_one")
    )
    assert {k: v["auroc"] for k, v in two["scores"].items()} == {
        k: v["auroc"] for k, v in one["scores"].items()
    }
    rows = [(runs / s / "scores.csv").read_text().splitlines() for s in ("score_two", "score_one")]
    assert rows[0][0] == rows[1][0] and len(rows[0]) == len(rows[1]) == 21  # 16 test, 4 val
    got, want = (np.array([r.split(",")[4:] for r in x[1:]], float) for x in rows)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_train_refused_in_both_processes_stops_both_with_the_error(tmp_path):
    """An input both processes refuse: each prints the one error line and exits 2 (none waits
    for the other), and no folder is made."""
    out = tmp_path / "run"
    t0 = time.monotonic()
    results = two_processes(["train", *TINY, "--batch-size", "6", "--devices", "all",
                             "--out", str(out)])  # fmt: skip
    for status, _, err in results:
        assert status == 2, err[-3000:]
        assert _error_line(err).startswith("error: batch size 6 does not split evenly over 4")
        assert "Traceback" not in err
    assert time.monotonic() - t0 < 120
    assert not out.exists()


def test_a_process_whose_peer_fails_stops_with_the_peers_error(tmp_path):
    """Process 0 is refused (another command holds the folder); process 1, which does not
    take the lock, stops at the next meeting point naming process 0's error."""
    out = tmp_path / "run"
    with folder_lock(out):
        results = two_processes(["train", *TINY, "--devices", "all", "--out", str(out)])
    held = f"{out} is in use by another process (pid {os.getpid()}"
    (s0, _, e0), (s1, _, e1) = results
    assert (s0, s1) == (2, 2), e0[-2000:] + e1[-2000:]
    assert _error_line(e0).startswith(f"error: {held}")
    assert _error_line(e1).startswith(f"error: process 0 of this run stopped: {held}")
    assert list(out.iterdir()) == []  # nothing written by the run


def test_devices_must_span_every_process(tmp_path):
    out = tmp_path / "run"
    for status, _, err in two_processes(["train", *TINY, "--devices", "2", "--out", str(out)]):
        assert status == 2
        line = _error_line(err)
        assert line.startswith("error: --devices 2 with --coordinator") and "--devices all" in line
    assert not out.exists()


def _training(out):
    """The two processes of a long run, once both are training into ``out``."""
    joined = ["--coordinator", f"127.0.0.1:{_free_port()}", "--num-processes", "2"]
    argv = ["train", *TINY[:-1], "100000", "--devices", "all", "--out", str(out), *joined]
    procs = [_cli([*argv, "--process-id", str(i)], 2) for i in range(2)]
    deadline = time.monotonic() + TIMEOUT_S
    while not (out / "config.json").exists() and time.monotonic() < deadline:
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.2)
    time.sleep(2)
    assert all(p.poll() is None for p in procs)
    return procs


def test_sigterm_stops_the_processes_of_a_run(tmp_path):
    """SIGTERM (a user's kill, a scheduler's stop) ends each process at once; the runtime's
    preemption notifier, which would catch it and keep the process running, is off."""
    procs = _training(tmp_path / "run")
    try:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            assert p.wait(timeout=20) == -signal.SIGTERM
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_a_killed_process_stops_the_other(tmp_path):
    """Process 1 killed mid-run: process 0 (which hosts the coordination service) stops with a
    nonzero status within the heartbeat timeout instead of waiting for it."""
    procs = _training(tmp_path / "run")
    try:
        procs[1].kill()
        t0 = time.monotonic()
        assert procs[0].wait(timeout=hosts.HEARTBEAT_TIMEOUT_S + 30) != 0
        assert time.monotonic() - t0 < hosts.HEARTBEAT_TIMEOUT_S + 30
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
