"""The models axis sharded over a ("models", "data") mesh: the mesh-shape rule and its refusal
(fast), and on 8 simulated CPU devices (subprocesses: XLA_FLAGS must be set before jax is
imported) a tiny digits study as one models program giving the per-class path's cells, and a
kill -9 of the sharded program resumed exactly."""

import dataclasses
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from test_devices import _env, _free_port, _run_together
from test_models_axis import PAIRS, RUN, _assert_same_folder, _aurocs, _leaves, _study

from anogan_jax.devices import DeviceError, check_models_batch, models_mesh, models_mesh_shape
from anogan_jax.runs.checkpoint import latest_step
from anogan_jax.runs.config import RunError
from anogan_jax.runs.gan import train_gans
from anogan_jax.runs.models import load_gan
from anogan_jax.runs.seeds import SEED_MODE_ENV
from anogan_jax.studies.layout import load_cells
from anogan_jax.studies.run import run_study

HERE = Path(__file__).parent


@pytest.mark.parametrize(
    "models, devices, shape",
    [
        (6, 8, (2, 4)),
        (8, 8, (8, 1)),
        (3, 8, (1, 8)),
        (30, 8, (2, 4)),
        (4, 8, (4, 2)),
        (6, 6, (6, 1)),
    ],
)
def test_mesh_shape_is_gcd_models_by_the_rest(models, devices, shape):
    assert models_mesh_shape(models, devices) == shape


def test_batch_that_does_not_split_over_the_data_axis_is_refused():
    check_models_batch(6, 8, 16)  # 2 x 4: 16 rows split 4 ways
    with pytest.raises(
        DeviceError,
        match=r"6 models on 8 devices form a mesh of 2 model slice\(s\) x 4 data devices "
        r"\(models = gcd\(6, 8\)\), and the batch size 10 does not split over 4 devices; use a "
        r"batch size that is a multiple of 4, or --devices 2 \(no data split\)",
    ):
        check_models_batch(6, 8, 10)


def test_one_device_keeps_the_single_device_program_and_more_are_refused(tmp_path):
    assert jax.device_count() == 1
    assert models_mesh(6, 1, batch_size=7) is None
    assert models_mesh(6, "all", batch_size=7) is None
    with pytest.raises(DeviceError, match="this machine has 1 cpu device"):
        models_mesh(6, 2, batch_size=16)
    configs = [dataclasses.replace(RUN, cls=c, seed=s) for c, s in PAIRS]
    outs = [tmp_path / f"c{c}_s{s}" for c, s in PAIRS]
    with pytest.raises(DeviceError, match="--devices 2: this machine has 1"):
        train_gans(configs, outs, progress=False, devices=2)
    assert not any(tmp_path.iterdir())
    study = _study("mlp")
    with pytest.raises(RunError, match="devices 2 shard the models program only"):
        run_study(study, tmp_path / "r", tmp_path / "runs", progress=False, devices=2)
    with pytest.raises(DeviceError, match="--devices 2: this machine has 1"):
        run_study(study, tmp_path / "r", tmp_path / "runs", program="models", devices=2)
    assert not any(tmp_path.iterdir())


def test_run_study_cli_passes_the_devices(tmp_path, monkeypatch, capsys):
    import experiments.run_study as cli_study

    seen = {}
    monkeypatch.setattr(cli_study, "run_study", lambda *a, **kw: seen.update(kw) or [])
    monkeypatch.setattr(cli_study, "write_report", lambda *a, **kw: "")
    config = str(cli_study.ROOT / "experiments" / "configs" / "mnist_one_class_normal.py")
    argv = [config, "--results", str(tmp_path / "r"), "--runs", str(tmp_path / "runs")]
    assert cli_study.main([*argv, "--program", "models", "--devices", "all"]) == 0
    assert seen["devices"] == "all"
    assert cli_study.main([*argv, "--program", "models", "--devices", "4"]) == 0
    assert seen["devices"] == 4
    assert cli_study.main(argv) == 0 and seen["devices"] == 1
    seen.clear()
    assert cli_study.main([*argv, "--devices", "0"]) == 2
    err = capsys.readouterr().err
    assert "error: --devices '0': give a number of devices (1 or more) or 'all'" in err
    assert not seen


def _run(args, env, timeout=900):
    out = subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The tiny study run by multidevice_worker.models_study on 8 simulated devices."""
    root = tmp_path_factory.mktemp("mesh_study")
    out = _run([str(HERE / "multidevice_worker.py"), "study", str(root)], _env(8))
    return root, json.loads(out.strip().splitlines()[-1])


def _cells(root: Path, name: str) -> list[Path]:
    return sorted((root / name / "results" / "cells").glob("*.json"))


def _max_gan_diff(root: Path, a: str, b: str) -> float:
    """The largest difference of any GAN parameter, statistic or optimiser state of any
    model between two runs of the study."""
    worst = 0.0
    for folder in sorted((root / a / "runs").glob("class_*/seed_*")):
        other = root / b / "runs" / folder.relative_to(root / a / "runs")
        for x, y in zip(_leaves(load_gan(folder)[2]), _leaves(load_gan(other)[2]), strict=True):
            worst = max(worst, float(np.max(np.abs(x.astype(np.float64) - y))))
    return worst


# float32 reductions over 4 data devices (and the vmapped program over 3 models per device)
# add in another order; 3 Adam steps of the GAN keep that near 1e-5.
TOLERANCE = 1e-4


@pytest.mark.slow
def test_looped_models_one_device_each_give_the_per_class_cells_bit_for_bit(study):
    """6 models on 6 of the 8 devices (a 6 x 1 mesh): each model's program alone on its
    device, so every cell, GAN and encoder is the per-class path's, byte for byte."""
    root, got = study
    assert got["device_count"] == 8
    # Each model's state held on its one device, its whole batch there.
    assert got["placed"]["models_loop_6"]["()"]["devices"] == 1
    assert got["placed"]["models_loop_6"]["(None, 'data')"]["devices"] == 1
    a, b = _cells(root, "class_loop_1"), _cells(root, "models_loop_6")
    assert len(a) == 12 and [p.name for p in a] == [p.name for p in b]
    for x, y in zip(a, b, strict=True):
        assert x.read_bytes() == y.read_bytes(), x.name
    for folder in sorted((root / "class_loop_1" / "runs").glob("class_*/seed_*")):
        twin = root / "models_loop_6" / "runs" / folder.relative_to(root / "class_loop_1" / "runs")
        _assert_same_folder(folder, twin)


@pytest.mark.slow
def test_looped_models_split_their_batch_on_a_2x4_mesh_within_rounding(study):
    """6 models on 8 devices: 2 slices of 4, each model's batch of 16 split 4 x 4 rows; the
    reductions over the 4 devices round otherwise: parameters within TOLERANCE, AUROCs equal
    to 3 decimals."""
    root, got = study
    placed = got["placed"]["models_loop_all"]
    assert placed["()"]["devices"] == 4
    batch = placed["(None, 'data')"]
    assert batch["devices"] == 4 and [s[1] for s in batch["shards"]] == [4]
    assert _max_gan_diff(root, "class_loop_1", "models_loop_all") < TOLERANCE
    reference = _aurocs(load_cells(root / "class_loop_1" / "results"))
    assert len(reference) == 12
    assert _aurocs(load_cells(root / "models_loop_all" / "results")) == reference


@pytest.mark.slow
def test_vmapped_models_sharded_over_8_devices_within_rounding(study):
    """The vmapped program over 6 models on a 2 x 4 mesh: states split 3 models per slice,
    stacked batches (6, k, 16, ...) split as (3, k, 4, ...); parameters within TOLERANCE of
    the per-class path, AUROCs equal to 3 decimals."""
    root, got = study
    placed = got["placed"]["models_vmap_all"]
    assert placed["('models',)"]["devices"] == 8
    assert [s[0] for s in placed["('models',)"]["shards"]] == [3]
    batch = placed["('models', None, 'data')"]
    assert batch["devices"] == 8 and [(s[0], s[2]) for s in batch["shards"]] == [(3, 4)]
    assert _max_gan_diff(root, "class_loop_1", "models_vmap_all") < TOLERANCE
    reference = _aurocs(load_cells(root / "class_loop_1" / "results"))
    assert _aurocs(load_cells(root / "models_vmap_all" / "results")) == reference


KILL_SEED = int(os.environ.get("KILL_TEST_SEED", random.SystemRandom().randrange(1 << 30)))
TRAIN = """
import dataclasses, json, sys
from anogan_jax.runs.config import RunConfig
from anogan_jax.runs.checkpoint import latest_step
from anogan_jax.runs.config import RunError
from anogan_jax.runs.gan import train_gans
base, outs, pairs, resume = json.loads(sys.argv[1])
configs = [dataclasses.replace(RunConfig(**base), cls=c, seed=s) for c, s in pairs]
train_gans(configs, outs, resume=resume, progress=False, devices="all")
"""


def _train(run, outs, mode, resume=False):
    arg = json.dumps([dataclasses.asdict(run), [str(o) for o in outs], PAIRS, resume])
    env = {**_env(8), SEED_MODE_ENV: mode}
    return subprocess.Popen([sys.executable, "-c", TRAIN, arg], env=env)


def _saved(folder):
    ckpts = folder / "checkpoints"
    return ckpts.exists() and any(p.name.isdigit() for p in ckpts.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["vmap", "loop"])
def test_kill_sharded_models_program_then_resume_is_bit_identical(tmp_path, mode):
    """4 models over 8 devices (a 4 x 2 mesh: vmapped, or each model's program on its slice
    of 2 devices) killed at a random point after each has a checkpoint, then resumed on the
    same mesh: every model bit for bit the uninterrupted program's."""
    rng = random.Random(KILL_SEED)
    print(f"kill point drawn with KILL_TEST_SEED={KILL_SEED}")
    run = dataclasses.replace(RUN, steps=300, checkpoint_every=5, sample_every=300, log_every=50)
    full = [tmp_path / "full" / f"c{c}_s{s}" for c, s in PAIRS]
    killed = [tmp_path / "killed" / f"c{c}_s{s}" for c, s in PAIRS]
    assert _train(run, full, mode).wait(timeout=600) == 0
    proc = _train(run, killed, mode)
    deadline = time.time() + 300
    while not all(_saved(f) for f in killed) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(rng.uniform(0.0, 0.4))
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the program finished before the kill: make it longer"
    steps = [latest_step(f / "checkpoints") for f in killed]
    if len(set(steps)) > 1:
        # Each would resume alone on one device, where the 2-way data split rounds otherwise.
        pytest.skip(f"killed between the models' saves (steps {steps}); rerun for another point")
    assert steps[0] < 300, "nothing left to resume"
    assert _train(run, killed, mode, resume=True).wait(timeout=600) == 0
    for a, b in zip(full, killed, strict=True):
        _assert_same_folder(a, b)


@pytest.mark.slow
def test_two_process_sharded_models_program_matches_one_device(tmp_path):
    """A localhost jax.distributed job of 2 processes x 4 devices trains 4 GANs vmapped over
    a 4 x 2 ("models", "data") mesh spanning both (each process builds only its devices'
    shards): every model ends where the one-device program ends, up to the rounding of
    reductions over 2 data devices."""
    from multidevice_worker import models_fit

    cmd = [sys.executable, str(HERE / "multidevice_worker.py"), "distributed", str(_free_port())]
    outs = _run_together([[*cmd, str(i), str(tmp_path / f"p{i}.npz")] for i in range(2)], _env(4))
    for out in outs:
        got = json.loads(re.search(r'^\{"global_devices".*\}$', out, re.M).group(0))
        assert got == {"global_devices": 8, "local_devices": 4, "mesh": {"models": 4, "data": 2}}
    single = [x for model in models_fit(None) for x in model]
    for i in range(2):
        with np.load(tmp_path / f"p{i}.npz") as saved:
            leaves = [saved[f"arr_{k}"] for k in range(len(saved.files))]
        assert len(leaves) == len(single)
        for got, want in zip(leaves, single, strict=True):
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert jax.device_count() == 1  # this process was untouched
