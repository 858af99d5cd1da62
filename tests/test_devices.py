"""Several devices on CPU: 8 forced host devices in a subprocess (XLA_FLAGS must be set before
jax is imported), and a two-process jax.distributed job on localhost."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

HERE = Path(__file__).parent

# Each test starts subprocesses with several (virtual) devices: integration tests.
pytestmark = pytest.mark.slow


def _env(device_count):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={device_count}"
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(HERE.parent), env.get("PYTHONPATH", "")])
    return env


@pytest.fixture(scope="module")
def eight():
    out = subprocess.run(
        [sys.executable, str(HERE / "multidevice_worker.py")],
        env=_env(8),
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_training_on_8_devices_equals_1(eight):
    assert eight["device_count"] == 8
    # Tolerance: the 8-way batch reductions add in another order (float32 rounding ~1e-7);
    # three Adam steps can amplify that where a gradient is tiny, and b1=0 (WGAN-GP) the most.
    assert eight["train_non_saturating_max_abs_diff"] < 1e-5
    assert eight["train_wgan_gp_max_abs_diff"] < 2e-4


def test_batch_is_really_split(eight):
    # (n_critic=2, B=16) split on axis 1 over 8 devices: each holds (2, 2, 28, 28, 1).
    assert eight["train_batch_shards"] == [[2, 2, 28, 28, 1]] * 8
    assert eight["search_input_devices"] == eight["search_output_devices"] == 8


def test_search_on_8_devices_equals_1(eight):
    assert eight["search_max_rel_diff"] < 1e-5


def test_indivisible_batch_is_a_clear_error(eight):
    assert "batch size 12 does not split evenly over 8 devices" in eight["indivisible_error"]


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _run_together(commands, env, timeout=600):
    """Starts the commands at once (the processes of one job) and returns their stdouts."""
    procs = [
        subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c in commands
    ]
    outs = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=timeout)
            assert p.returncode == 0, stderr[-2000:]
            outs.append(stdout)
    finally:
        for p in procs:
            p.kill()
    return outs


@pytest.mark.slow
def test_two_process_distributed_run_matches_one_process(tmp_path):
    """Each process of a two-process job ends with every parameter, BatchNorm statistic and
    optimiser state of the single-process run, element by element."""
    cmd = [sys.executable, str(HERE / "distributed_worker.py"), str(_free_port())]
    outs = _run_together([[*cmd, str(i), str(tmp_path / f"p{i}.npz")] for i in range(2)], _env(2))
    results = [json.loads(out.strip().splitlines()[-1]) for out in outs]
    assert [r["global_devices"] for r in results] == [4, 4]
    # Each process holds only its own half of the batch: 2 local devices x 4 rows.
    assert results[0]["local_shards"] == [[1, 4, 28, 28, 1]] * 2
    sys.path.insert(0, str(HERE))
    from multidevice_worker import train

    single, _ = train("non_saturating", None)
    for i in range(2):
        with np.load(tmp_path / f"p{i}.npz") as saved:
            leaves = [saved[f"arr_{k}"] for k in range(len(saved.files))]
        assert len(leaves) == len(single)
        for got, want in zip(leaves, single, strict=True):
            assert got.shape == np.shape(want)
            # float32 reductions over 4 devices in another order, through three Adam steps
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert jax.device_count() == 1  # this process was untouched


CLI_DEVICES = """
import json, sys
from pathlib import Path
import jax, numpy as np
from anogan_jax import cli
from anogan_jax.runs.models import load_gan

root = Path(sys.argv[1])
tiny = ["--arch", "mlp", "--batch-size", "16", "--latent-dim", "8", "--quiet", "--steps", "3"]
score = ["--method", "anogan", "--num-steps", "3", "--batch-size", "8", "--limit", "16"]
score += ["--val-images", "4", "--quiet"]
out = {"device_count": jax.device_count()}
for d in ("1", "2"):
    assert cli.main(["train", *tiny, "--devices", d, "--out", str(root / f"run{d}")]) == 0
    argv = ["score", "--run", str(root / "run1"), *score, "--devices", d]
    assert cli.main([*argv, "--out", str(root / f"score{d}")]) == 0
leaves = [jax.tree.leaves(load_gan(root / f"run{d}")[2]) for d in ("1", "2")]
out["train_max_abs_diff"] = max(
    float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(*leaves, strict=True)
)
A = [
    np.concatenate([np.load(p)["A"] for p in sorted((root / f"score{d}" / "parts").glob("*.npz"))])
    for d in ("1", "2")
]
out["num_scores"] = [len(a) for a in A]
out["score_max_rel_diff"] = float(np.max(np.abs(A[1] - A[0]) / np.abs(A[0])))
json.dump(out, sys.stdout)
"""


@pytest.mark.slow
def test_train_and_score_through_the_cli_on_2_devices_equal_1(tmp_path):
    """``train --devices 2`` gives the parameters of ``--devices 1``, and ``score --devices 2``
    its scores, up to float32 rounding (2 simulated CPU devices in a subprocess)."""
    env = _env(2)
    out = subprocess.run(
        [sys.executable, "-c", CLI_DEVICES, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["device_count"] == 2
    assert got["num_scores"][0] == got["num_scores"][1] > 0
    assert got["train_max_abs_diff"] < 1e-5
    assert got["score_max_rel_diff"] < 1e-5
