"""Every user error through the real CLI entry point: exit status 2, one clear message naming
what is wrong and what to do, and no traceback."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from anogan_jax import cli

TINY = ["--arch", "mlp", "--batch-size", "16", "--latent-dim", "8", "--quiet"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """A workspace: a tiny trained run and a few .npz datasets, good and bad."""
    root = tmp_path_factory.mktemp("bad")
    assert cli.main(["train", "--steps", "2", "--out", str(root / "run"), *TINY]) == 0
    rng = np.random.default_rng(0)

    def npz(name, x_train, y_train=None, **extra):
        y = y_train if y_train is not None else rng.integers(0, 5, len(x_train))
        arrays = dict(x_train=x_train, y_train=y, x_test=x_train[:10], y_test=y[:10])
        arrays.update(extra)
        np.savez(root / name, **arrays)

    good = rng.integers(0, 256, (60, 28, 28), dtype=np.uint8)
    npz("five_classes.npz", good)
    npz("wrong_shape.npz", rng.integers(0, 256, (60, 32, 32), dtype=np.uint8))
    npz("rgb.npz", rng.integers(0, 256, (60, 28, 28, 3), dtype=np.uint8))
    npz("range.npz", good.astype(np.float32))
    nan = good.astype(np.float32) / 128 - 1
    nan[3, 4, 5] = np.nan
    npz("nan.npz", nan)
    np.savez(root / "missing.npz", x_train=good)
    (root / "empty_tfds").mkdir()
    (root / "not_a_run").mkdir()
    for seed in (0, 2):  # the parent of a `train --seeds 0,2` run (only what the check reads)
        (root / "multi" / f"seed_{seed}").mkdir(parents=True)
        shutil.copy(root / "run" / "config.json", root / "multi" / f"seed_{seed}")
    return root


def _case(ws, name):
    """Builds the argv of a case (some cases first prepare files)."""
    r = str(ws / "run")
    out = str(ws / "out" / name)
    train = ["train", "--out", out, *TINY, "--steps", "1"]
    score = ["score", "--run", r, "--out", out, "--num-steps", "2", "--quiet"]
    npz = lambda f: [*train, "--dataset", str(ws / f)]  # noqa: E731
    if name == "other_model":
        other = ws / "other"
        if not other.exists():
            assert (
                cli.main(
                    [
                        "train",
                        "--out",
                        str(other),
                        *TINY[:-3],
                        "--latent-dim",
                        "16",
                        "--steps",
                        "1",
                        "--quiet",
                    ]
                )
                == 0
            )
            shutil.rmtree(other / "checkpoints")
            shutil.copytree(ws / "run" / "checkpoints", other / "checkpoints")
        return ["score", "--run", str(other), "--out", out, "--quiet"]
    if name == "corrupt":
        bad = ws / "corrupt_run"
        if not bad.exists():
            shutil.copytree(ws / "run", bad)
            for f in (bad / "checkpoints").rglob("*"):
                if f.is_file() and f.name != "model.json" and f.stat().st_size > 0:
                    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
        return ["score", "--run", str(bad), "--out", out, "--quiet"]
    if name in ("no_encoder_before_data", "devices_before_data"):
        # The run's data is gone too: what the command can check without it is named first.
        gone = ws / "data_gone_run"
        if not gone.exists():
            shutil.copytree(ws / "run", gone)
            config = json.loads((gone / "config.json").read_text())
            (gone / "config.json").write_text(json.dumps({**config, "dataset": str(ws / "x.npz")}))
        score_gone = ["score", "--run", str(gone), "--out", out, "--quiet"]
        if name == "devices_before_data":
            return [*score_gone, "--devices", "64"]
        return [*score_gone, "--method", "fanogan"]
    if name == "no_checkpoint":
        bare = ws / "bare_run"
        if not bare.exists():
            shutil.copytree(ws / "run", bare)
            shutil.rmtree(bare / "checkpoints")
        return ["score", "--run", str(bare), "--out", out, "--quiet"]
    if name == "locked":
        Path(out).mkdir(parents=True, exist_ok=True)
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        (Path(out) / ".lock").write_text(str(sleeper.pid))
        return train
    if name == "existing":
        assert cli.main(train) == 0
        return train
    if name == "resume_changed":
        assert cli.main(score) == 0
        return [*score[:-2], "3", "--quiet", "--resume"]
    return {
        "dataset": [*train, "--dataset", "cifar10"],
        "class_range": [*train, "--class", "12"],
        "protocol": [*train, "--protocol", "two_class"],
        "objective": [*train, "--objective", "wgan"],
        "arch": [*train, "--arch", "resnet"],
        "update": [*train, "--update", "fused"],
        "prior": [*train, "--prior", "laplace"],
        "method": [*score, "--method", "ganomaly"],
        "empty_class": [*npz("five_classes.npz"), "--class", "7"],
        "shape": npz("wrong_shape.npz"),
        "channels": npz("rgb.npz"),
        "value_range": npz("range.npz"),
        "nan_pixels": npz("nan.npz"),
        "npz_arrays": npz("missing.npz"),
        "npz_missing": npz("nope.npz"),
        "batch_zero": [*train, "--batch-size", "0"],
        "batch_too_big": [*train, "--batch-size", "100000"],
        "steps_zero": [*train, "--steps", "0"],
        "score_batch_zero": [*score, "--batch-size", "0"],
        "no_run": ["score", "--run", str(ws / "nowhere"), "--out", out],
        "not_a_run": ["score", "--run", str(ws / "not_a_run"), "--out", out],
        "multi_seed_parent": ["score", "--run", str(ws / "multi"), "--out", out],
        "multi_seed_parent_encoder": ["train-encoder", "--run", str(ws / "multi")],
        "no_data": [*train, "--dataset", "mnist", "--data-dir", str(ws / "empty_tfds")],
        "resume_and_overwrite": [*train, "--resume", "--overwrite"],
        "encoder_mode": ["train-encoder", "--run", r, "--mode", "zzz", "--quiet"],
        "no_encoder": [*score, "--method", "fanogan"],
        "kappa": [*score, "--method", "fanogan", "--kappa", "big"],
        "init": [*score, "--init", "random"],
    }[name]


CASES = {
    "dataset": "unknown dataset 'cifar10'",
    "class_range": "class 12 does not exist; classes are 0-9",
    "protocol": "unknown protocol 'two_class'; choose one of one_class_normal",
    "objective": "unknown objective 'wgan'; choose one of minimax",
    "arch": "unknown arch 'resnet'; choose one of dcgan28",
    "update": "unknown update 'fused'",
    "prior": "unknown prior 'laplace'",
    "method": "unknown method 'ganomaly'; choose one of anogan, fanogan",
    "empty_class": "class 7 has no images",
    "shape": "have shape (60, 32, 32, 1)",
    "channels": "use a folder dataset (folder:PATH",
    "value_range": "outside (-1.0, 1.0); scale images to [-1, 1]",
    "nan_pixels": "NaN or infinite pixels in 1 images (first: [3])",
    "npz_arrays": "lacks the arrays ['y_train', 'x_test', 'y_test']",
    "npz_missing": "nope.npz does not exist",
    "batch_zero": "batch_size must be positive, got 0",
    "batch_too_big": "batch size 100000 is larger than the",
    "steps_zero": "steps must be positive, got 0",
    "score_batch_zero": "--batch-size and --num-steps must be positive",
    "no_run": "does not exist; train one with `anogan-jax train`",
    "not_a_run": "holds no config.json",
    "multi_seed_parent": "multi holds the runs of seeds 0, 2 (`train --seeds`), not one run: "
    "point --run at one of them (",
    "multi_seed_parent_encoder": "or give `score` and `train-encoder` --seeds 0,2 to use them all",
    "no_encoder_before_data": "encoder_izi_f holds no trained encoder; run `anogan-jax "
    "train-encoder --run",
    "devices_before_data": "--devices 64: this machine has",
    "no_checkpoint": "no checkpoint in",
    "other_model": "latent_dim: checkpoint 8 vs config 16",
    "corrupt": "could not restore the checkpoint at step 2",
    "no_data": "no prepared copy of dataset 'mnist'",
    "existing": "already holds results (config.json); pass --resume",
    "resume_and_overwrite": "--resume and --overwrite exclude each other",
    "resume_changed": "differ from the saved ones",
    "locked": "is in use by another process",
    "encoder_mode": "unknown encoder mode 'zzz'",
    "no_encoder": "holds no trained encoder; run `anogan-jax train-encoder",
    "kappa": "--kappa 'big': give a number or 'calibrated'",
    "init": "unknown --init 'random'",
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gets_a_clear_message(ws, name, refused):
    refused(_case(ws, name), CASES[name])


def test_there_are_at_least_twenty_cases():
    assert len(CASES) >= 20


def test_nothing_written_outside_the_output_folder(ws):
    # A refused run leaves an existing run's files untouched.
    before = {p: p.read_bytes() for p in (ws / "run").rglob("*") if p.is_file()}
    assert cli.main(["train", "--out", str(ws / "run"), *TINY, "--steps", "1"]) == 2
    after = {p: p.read_bytes() for p in (ws / "run").rglob("*") if p.is_file()}
    assert before == after
    assert os.path.exists(ws / "run" / "config.json")
