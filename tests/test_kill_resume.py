"""SIGKILL at a random point of train, train-encoder and score; --resume then finishes with
results bit-identical to an uninterrupted run."""

import csv
import os
import random
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from anogan_jax import cli
from anogan_jax.runs.encoder_run import load_encoder
from anogan_jax.runs.models import load_gan

SEED = int(os.environ.get("KILL_TEST_SEED", random.SystemRandom().randrange(1 << 30)))
TINY = ["--arch", "mlp", "--batch-size", "16", "--latent-dim", "8", "--quiet"]


def _kill_when(argv, ready, rng, timeout=240):
    """Starts the CLI in a subprocess, waits until ``ready()``, sleeps a random 0-0.4 s and
    sends SIGKILL. Returns the process's return code (-9 when killed mid-run)."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.Popen([sys.executable, "-m", "anogan_jax.cli", *argv], env=env)
    deadline = time.time() + timeout
    while not ready() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(rng.uniform(0.0, 0.4))
    proc.send_signal(signal.SIGKILL)
    return proc.wait()


def _has_step_dir(folder):
    return lambda: folder.exists() and any(p.name.isdigit() for p in folder.iterdir())


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


@pytest.fixture(scope="module")
def rng():
    print(f"kill points drawn with KILL_TEST_SEED={SEED}")
    return random.Random(SEED)


@pytest.mark.slow
def test_kill_train_then_resume_is_bit_identical(tmp_path, rng):
    args = [*TINY, "--steps", "200", "--checkpoint-every", "5", "--log-every", "50"]
    assert cli.main(["train", "--out", str(tmp_path / "full"), *args]) == 0
    killed = tmp_path / "killed"
    rc = _kill_when(
        ["train", "--out", str(killed), *args], _has_step_dir(killed / "checkpoints"), rng
    )
    assert rc == -signal.SIGKILL, "the run finished before the kill: make it longer"
    assert cli.main(["train", "--out", str(killed), *args, "--resume"]) == 0
    for a, b in zip(
        _leaves(load_gan(tmp_path / "full")[2]), _leaves(load_gan(killed)[2]), strict=True
    ):
        np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("gan") / "run"
    assert cli.main(["train", "--out", str(run), *TINY, "--steps", "5"]) == 0
    return run


@pytest.mark.slow
def test_kill_train_encoder_then_resume_is_bit_identical(tmp_path, gan_run, rng):
    import shutil

    other = tmp_path / "run2"
    shutil.copytree(gan_run, other)
    args = ["--steps", "300", "--batch-size", "16", "--checkpoint-every", "5", "--quiet"]
    assert cli.main(["train-encoder", "--run", str(gan_run), *args, "--overwrite"]) == 0
    ckpts = other / "encoder_izi_f" / "checkpoints"
    rc = _kill_when(["train-encoder", "--run", str(other), *args], _has_step_dir(ckpts), rng)
    assert rc == -signal.SIGKILL, "the run finished before the kill: make it longer"
    assert cli.main(["train-encoder", "--run", str(other), *args, "--resume"]) == 0
    rc_config = load_gan(gan_run)[0]
    a = load_encoder(gan_run, "izi_f", rc_config)[1]
    b = load_encoder(other, "izi_f", rc_config)[1]
    for x, y in zip(_leaves(a), _leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.slow
def test_kill_score_then_resume_is_bit_identical(tmp_path, gan_run, rng):
    args = [
        "--run",
        str(gan_run),
        "--num-steps",
        "300",
        "--batch-size",
        "8",
        "--limit",
        "120",
        "--val-images",
        "8",
        "--quiet",
    ]
    assert cli.main(["score", *args, "--out", str(tmp_path / "full")]) == 0
    killed = tmp_path / "killed"
    parts = killed / "parts"
    ready = lambda: parts.exists() and any(parts.iterdir())  # noqa: E731
    rc = _kill_when(["score", *args, "--out", str(killed)], ready, rng)
    assert rc == -signal.SIGKILL, "scoring finished before the kill: make it longer"
    assert not (killed / "scores.csv").exists()
    assert cli.main(["score", *args, "--out", str(killed), "--resume"]) == 0

    def rows(p):
        with open(p / "scores.csv") as f:
            return list(csv.reader(f))

    assert rows(killed) == rows(tmp_path / "full")
