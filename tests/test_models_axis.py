"""The models axis over (class, seed): ``train_gans`` / ``train_encoders`` train models of
several classes as one program, each model the same run as its class trained alone, and
``run_study(program="models")`` gives the cells of the per-class path."""

import dataclasses
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from anogan_jax.files import read_jsonl
from anogan_jax.runs.config import EncoderConfig, RunConfig, RunError, ScoreConfig
from anogan_jax.runs.encoder_run import load_encoder, train_encoder, train_encoders
from anogan_jax.runs.folders import seed_dir
from anogan_jax.runs.gan import train_gan, train_gans
from anogan_jax.runs.models import load_gan
from anogan_jax.runs.seeds import SEED_MODE_ENV
from anogan_jax.studies.config import Method, Study
from anogan_jax.studies.layout import load_cells
from anogan_jax.studies.run import run_study

RUN = RunConfig(
    dataset="digits",
    arch="mlp",
    latent_dim=8,
    steps=3,
    batch_size=16,
    checkpoint_every=3,
    sample_every=3,
    log_every=1,
)
ENCODER = EncoderConfig(steps=3, batch_size=16, checkpoint_every=3, log_every=1)
PAIRS = [(0, 0), (0, 1), (2, 0), (2, 1)]


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def _records(path):
    """A metrics log without its rates (wall-clock time, not the run's numbers)."""
    return [{k: v for k, v in r.items() if k != "steps_per_s"} for r in read_jsonl(path)]


def _assert_same_folder(a, b):
    """The same GAN run: config and model signature byte for byte, the whole state bit for
    bit, the logged numbers alike."""
    for name in ("config.json", "checkpoints/model.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    for x, y in zip(_leaves(load_gan(a)[2]), _leaves(load_gan(b)[2]), strict=True):
        np.testing.assert_array_equal(x, y)
    assert _records(a / "metrics.jsonl") == _records(b / "metrics.jsonl")


@pytest.mark.slow
def test_models_of_several_classes_equal_each_class_trained_alone(tmp_path, monkeypatch):
    """Looped, 2 classes x 2 seeds as one program are bit for bit the per-class runs, GANs
    and encoders."""
    monkeypatch.setenv(SEED_MODE_ENV, "loop")
    models = [tmp_path / "models" / f"c{c}_s{s}" for c, s in PAIRS]
    configs = [dataclasses.replace(RUN, cls=c, seed=s) for c, s in PAIRS]
    states = train_gans(configs, models, progress=False)
    assert [int(s.step) for s in states] == [3] * 4
    for cls in (0, 2):
        config = dataclasses.replace(RUN, cls=cls)
        train_gan(config, tmp_path / f"class_{cls}", seeds=[0, 1], progress=False)
        train_encoder(tmp_path / f"class_{cls}", ENCODER, seeds=[0, 1], progress=False)
    train_encoders(models, ENCODER, progress=False)
    # And a model as the single run of its class and seed, outside any seeds program.
    train_gan(configs[-1], tmp_path / "single", progress=False)
    _assert_same_folder(models[-1], tmp_path / "single")
    for (cls, seed), folder in zip(PAIRS, models, strict=True):
        alone = seed_dir(tmp_path / f"class_{cls}", seed)
        _assert_same_folder(folder, alone)
        config = load_gan(alone)[0]
        a, b = (load_encoder(r, "izi_f", config)[1] for r in (folder, alone))
        for x, y in zip(_leaves(a), _leaves(b), strict=True):
            np.testing.assert_array_equal(x, y)
        enc = "encoder_izi_f"
        assert _records(folder / enc / "metrics.jsonl") == _records(alone / enc / "metrics.jsonl")
        assert (folder / enc / "summary.json").read_bytes() == (
            alone / enc / "summary.json"
        ).read_bytes()


def test_models_differing_in_another_field_are_refused_before_writing(tmp_path):
    configs = [dataclasses.replace(RUN, cls=0), dataclasses.replace(RUN, cls=1, steps=7)]
    outs = [tmp_path / "a", tmp_path / "b"]
    with pytest.raises(
        RunError,
        match=r"b has other settings than .*a \(steps 7, not 3\), and only cls and seed may "
        r"differ; train models of other settings in separate calls",
    ):
        train_gans(configs, outs, progress=False)
    assert not any(tmp_path.iterdir())
    with pytest.raises(RunError, match="one run folder per config: 2 configs and 1 folders"):
        train_gans(configs, outs[:1], progress=False)
    with pytest.raises(RunError, match="repeat one"):
        train_gans(configs[:1] * 2, [outs[0], outs[0]], progress=False)
    assert not any(tmp_path.iterdir())
    # The encoders of GANs of other settings (here the latent size) are refused alike.
    gans = [tmp_path / "g0", tmp_path / "g1"]
    train_gan(RUN, gans[0], progress=False)
    train_gan(dataclasses.replace(RUN, cls=1, latent_dim=4), gans[1], progress=False)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(RunError, match=r"g1 has other settings than .*g0 \(latent_dim 4, not 8\)"):
        train_encoders(gans, ENCODER, progress=False)
    with pytest.raises(RunError, match="repeat one"):
        train_encoders([gans[0], gans[0]], ENCODER, progress=False)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def _study(arch: str, **run) -> Study:
    return Study(
        name=f"models_{arch}",
        run=dataclasses.replace(RUN, arch=arch, log_every=3, **run),
        classes=(0, 1, 2),
        seeds=(0, 1),
        methods=(
            Method("anogan", ScoreConfig(num_steps=3, batch_size=32, limit=40, val_images=8)),
            Method("fanogan", ScoreConfig(method="fanogan", batch_size=64, val_images=8)),
        ),
        encoder=dataclasses.replace(ENCODER, log_every=3),
    )


def _aurocs(cells):
    return {
        (c["class"], c["seed"], c["method"]): round(c["scores"][c["column"]]["auroc"], 3)
        for c in cells
    }


@pytest.mark.slow
def test_models_study_loops_to_the_cells_of_the_per_class_study(tmp_path, monkeypatch):
    """A conv study (loop) as one models program: every cell byte for byte the per-class
    path's; the timings share the program's seconds over its models."""
    monkeypatch.setenv(SEED_MODE_ENV, "loop")
    study = _study("dcgan28_light")
    run_study(study, tmp_path / "rc", tmp_path / "runs_c", progress=False, program="class")
    cells = run_study(study, tmp_path / "rm", tmp_path / "runs_m", progress=False, program="models")
    assert len(cells) == 12
    files = [sorted((tmp_path / r / "cells").glob("*.json")) for r in ("rc", "rm")]
    assert [p.name for p in files[0]] == [p.name for p in files[1]]
    for a, b in zip(*files, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    timing = json.loads((tmp_path / "rm" / "timings" / "c1_s0_fanogan.json").read_text())
    assert timing["train_per_seed"] > 0 and timing["encoder"] > 0 and timing["score"] > 0
    # Every model's GAN and encoder are stored as its class's per-class run.
    for cls in study.classes:
        for seed in study.seeds:
            run = f"class_{cls}/seed_{seed}"
            _assert_same_folder(tmp_path / "runs_m" / run, tmp_path / "runs_c" / run)
    # A rerun finds every cell done and writes nothing.
    mtimes = {p: p.stat().st_mtime_ns for p in files[1]}
    run_study(study, tmp_path / "rm", tmp_path / "runs_m", progress=False, program="models")
    assert mtimes == {p: p.stat().st_mtime_ns for p in files[1]}
    # A crash between the models' final saves (here class 1 seed 1 kept no checkpoint):
    # the models at another step train as a program of their own; the cells come back alike.
    lost = tmp_path / "runs_m" / "class_1"
    for folder in [lost / "seed_1" / "checkpoints" / "3", lost / "scores"]:
        shutil.rmtree(folder)
    for folder in lost.glob("seed_*/encoder_*"):
        shutil.rmtree(folder)
    for cell in (tmp_path / "rm" / "cells").glob("c1_*"):
        cell.unlink()
    run_study(study, tmp_path / "rm", tmp_path / "runs_m", progress=False, program="models")
    for a, b in zip(*files, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


@pytest.mark.slow
def test_models_study_vmaps_to_the_aurocs_of_the_per_class_study(tmp_path):
    """The MLP study vmapped over 6 models rounds otherwise than over each class's 2 seeds:
    the AUROCs agree to 3 decimals."""
    study = _study("mlp")
    run_study(study, tmp_path / "rc", tmp_path / "runs_c", progress=False, program="class")
    run_study(study, tmp_path / "rm", tmp_path / "runs_m", progress=False, program="models")
    a, b = _aurocs(load_cells(tmp_path / "rc")), _aurocs(load_cells(tmp_path / "rm"))
    assert len(a) == 12 and a == b
    with pytest.raises(RunError, match="program 'mesh': choose one of class, models"):
        run_study(study, tmp_path / "rx", tmp_path / "runs_x", progress=False, program="mesh")


KILL_SEED = int(os.environ.get("KILL_TEST_SEED", random.SystemRandom().randrange(1 << 30)))
TRAIN = """
import dataclasses, json, sys
from anogan_jax.runs.config import RunConfig
from anogan_jax.runs.gan import train_gans
base, outs, pairs, resume = json.loads(sys.argv[1])
configs = [dataclasses.replace(RunConfig(**base), cls=c, seed=s) for c, s in pairs]
train_gans(configs, outs, resume=resume, progress=False)
"""


def _train(run: RunConfig, outs, resume=False):
    arg = json.dumps([dataclasses.asdict(run), [str(o) for o in outs], PAIRS, resume])
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.Popen([sys.executable, "-c", TRAIN, arg], env=env)


def _saved(folder):
    ckpts = folder / "checkpoints"
    return ckpts.exists() and any(p.name.isdigit() for p in ckpts.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["vmap", "loop"])
def test_kill_models_program_then_resume_is_bit_identical(tmp_path, monkeypatch, mode):
    """SIGKILL at a random point after every model of 2 classes x 2 seeds has a checkpoint;
    resuming finishes each model bit for bit as the uninterrupted program."""
    monkeypatch.setenv(SEED_MODE_ENV, mode)
    rng = random.Random(KILL_SEED)
    print(f"kill point drawn with KILL_TEST_SEED={KILL_SEED}")
    run = dataclasses.replace(RUN, steps=300, checkpoint_every=5, sample_every=300, log_every=50)
    full = [tmp_path / "full" / f"c{c}_s{s}" for c, s in PAIRS]
    killed = [tmp_path / "killed" / f"c{c}_s{s}" for c, s in PAIRS]
    assert _train(run, full).wait() == 0
    proc = _train(run, killed)
    deadline = time.time() + 240
    while not all(_saved(f) for f in killed) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(rng.uniform(0.0, 0.4))
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the program finished before the kill: make it longer"
    configs = [dataclasses.replace(run, cls=c, seed=s) for c, s in PAIRS]
    try:
        train_gans(configs, killed, resume=True, progress=False)
    except RunError as err:
        # Killed between two models' saves of one step: each resumes alone, which is the
        # same arithmetic only where the models loop.
        assert "different steps" in str(err)
        if mode == "vmap":
            pytest.skip(f"killed between the models' saves ({err}); rerun for another point")
        for config, folder in zip(configs, killed, strict=True):
            train_gan(config, folder, resume=True, progress=False)
    for a, b in zip(full, killed, strict=True):
        _assert_same_folder(a, b)


def test_run_study_cli_passes_the_program(tmp_path, monkeypatch, capsys):
    import experiments.run_study as cli_study

    seen = {}
    monkeypatch.setattr(cli_study, "run_study", lambda *a, **kw: seen.update(kw) or [])
    monkeypatch.setattr(cli_study, "write_report", lambda *a, **kw: "")
    config = str(cli_study.ROOT / "experiments" / "configs" / "mnist_one_class_normal.py")
    argv = [config, "--results", str(tmp_path / "r"), "--runs", str(tmp_path / "runs")]
    assert cli_study.main([*argv, "--program", "models", "--classes", "0,1"]) == 0
    assert seen["program"] == "models" and seen["classes"] == [0, 1]
    assert cli_study.main(argv) == 0 and seen["program"] == "class"
    with pytest.raises(SystemExit):
        cli_study.main([*argv, "--program", "mesh"])
    assert "invalid choice: 'mesh'" in capsys.readouterr().err
