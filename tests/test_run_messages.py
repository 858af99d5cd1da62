"""What a command says when something outside it goes wrong, through the CLI: a damaged log,
a full disk, a mistyped environment setting, a run being trained while it is scored, settings
that would silently do nothing. Each case: exit status 2, one ``error:`` line that says what
to do, no traceback, and nothing of the user's changed."""

import csv
import errno
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from anogan_jax import cli, files
from anogan_jax.runs.folders import folder_lock
from anogan_jax.runs.textures import make_texture_folder

TINY = ["--arch", "mlp", "--batch-size", "8", "--latent-dim", "8", "--quiet"]
TINY += ["--checkpoint-every", "1", "--sample-every", "1", "--log-every", "1"]
SCORE = ["--num-steps", "2", "--batch-size", "8", "--val-images", "8", "--quiet"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """A 16 x 16 texture folder and a tiny run trained on it for 2 steps."""
    root = tmp_path_factory.mktemp("messages")
    make_texture_folder(root / "ds", size=16, num_train=24, num_test_good=4, num_test_per_defect=2)
    assert cli.main([*_train(root), "--steps", "2", "--out", str(root / "run")]) == 0
    return root


def _train(ws: Path) -> list[str]:
    return ["train", "--dataset", f"folder:{ws / 'ds'}", "--image-size", "16", *TINY]


def _bytes(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(Path(folder).rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def _copy(ws: Path, tmp_path: Path) -> Path:
    shutil.copytree(ws / "run", tmp_path / "run")
    return tmp_path / "run"


@pytest.mark.parametrize("record", [{"d_loss": 1.0}, {"step": "2", "d_loss": 1.0}])
def test_a_metrics_record_without_an_integer_step_is_named(ws, tmp_path, refused, record):
    run = _copy(ws, tmp_path)
    with open(run / "metrics.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n" + json.dumps({"step": 3}) + "\n")
    before = _bytes(run)
    refused([*_train(ws), "--steps", "4", "--out", str(run), "--resume"], "has no integer step")
    assert _bytes(run) == before


def _full_disk_at(monkeypatch, name: str, after: int = 0) -> None:
    """The disk fills up when ``name`` is written the ``after``+1-th time."""
    write, seen = files._atomic_write, []

    def full(path, data):
        if path.name == name:
            seen.append(path)
            if len(seen) > after:
                raise OSError(errno.ENOSPC, "No space left on device")
        write(path, data)

    monkeypatch.setattr(files, "_atomic_write", full)


def test_a_full_disk_in_train_is_named_and_resume_continues(ws, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    _full_disk_at(monkeypatch, "metrics.jsonl", after=1)  # the step-2 record
    argv = [*_train(ws), "--steps", "3", "--out", str(out)]
    capsys.readouterr()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: could not write {out / 'metrics.jsonl'}: No space left"), err
    assert err.count("\n") == 1 and "rerun with --resume to continue" in err, err
    monkeypatch.undo()
    assert cli.main([*argv, "--resume"]) == 0
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]


def test_a_full_disk_in_score_is_named_and_resume_continues(ws, tmp_path, capsys, monkeypatch):
    out = tmp_path / "scores"
    argv = ["score", "--run", str(ws / "run"), "--out", str(out), *SCORE, "--batch-size", "4"]
    _full_disk_at(monkeypatch, "00000004.npz")  # the second batch
    capsys.readouterr()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: could not write") and "No space left on device" in err, err
    assert "rerun with --resume to continue" in err and "Traceback" not in err, err
    first = (out / "parts" / "00000000.npz").read_bytes()
    monkeypatch.undo()
    assert cli.main([*argv, "--resume"]) == 0
    assert (out / "parts" / "00000000.npz").read_bytes() == first
    assert (out / "metrics.json").exists()


def test_a_full_disk_in_predict_says_to_redo_it(ws, tmp_path, capsys, monkeypatch):
    out = tmp_path / "pred"
    argv = ["predict", "--run", str(ws / "run"), str(ws / "ds" / "test"), "--method", "anogan"]
    _full_disk_at(monkeypatch, "predictions.csv")
    capsys.readouterr()
    assert cli.main([*argv, *SCORE, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "rerun with --overwrite to redo it" in err, err
    assert "--resume" not in err


def test_an_unknown_cpu_conv_setting_is_named(ws, tmp_path, refused, monkeypatch):
    monkeypatch.setenv("ANOGAN_JAX_CPU_CONV", "oneDNN")
    out = tmp_path / "run"
    refused([*_train(ws), "--steps", "1", "--out", str(out)], "ANOGAN_JAX_CPU_CONV='oneDNN'")
    assert not out.exists()


def test_score_while_the_run_trains_says_to_wait(ws, tmp_path, refused):
    """A checkpoint rotated away by a running ``train --resume`` was called a damaged run
    ("retrain")."""
    run = _copy(ws, tmp_path)
    with folder_lock(run):  # the training process
        shutil.rmtree(run / "checkpoints" / "2" / "default")  # rotated as it was read
        argv = ["score", "--run", str(run), "--out", str(tmp_path / "s"), *SCORE]
        refused(argv, "is being trained now")


def test_a_val_fraction_of_no_image_is_refused(ws, tmp_path, refused):
    argv = [*_train(ws), "--steps", "1", "--out", str(tmp_path / "r"), "--val-fraction", "0.01"]
    message = "--val-fraction 0.01 holds out 0 of the 24 normal training images (it rounds to"
    refused(argv, message)
    refused(argv, "give --val-fraction 0.042 or more to hold out one image")
    assert cli.main([*argv[:-1], "0.042"]) == 0  # the smallest that holds one image out


def test_an_empty_folder_dataset_path_is_refused(ws, tmp_path, refused, monkeypatch):
    shutil.copytree(ws / "ds", tmp_path / "here")
    monkeypatch.chdir(tmp_path / "here")  # a dataset in the current folder is not guessed
    argv = ["train", "--dataset", "folder:", "--image-size", "16", *TINY, "--steps", "1"]
    refused([*argv, "--out", str(tmp_path / "r")], "names no folder; give folder:PATH")


def test_the_threshold_rule_reports_the_share_it_flags(ws, tmp_path):
    out = tmp_path / "pred"
    argv = ["predict", "--run", str(ws / "run"), str(ws / "ds" / "test"), "--method", "anogan"]
    assert cli.main([*argv, *SCORE, "--out", str(out), "--fpr", "0.3"]) == 0
    rows = (out / "predictions.csv").read_text().splitlines()[1:]
    rule = rows[0].split('"')[3]
    # 1 validation image (the folder's split by file name): 30% of it is no image, so the
    # threshold flags none.
    assert rule == "A exceeded by 0 of 1 normal validation images (0.0%; --fpr 30.0% asked)"


def test_a_folder_datasets_scores_csv_names_its_files(ws, tmp_path):
    out = tmp_path / "scores"
    assert cli.main(["score", "--run", str(ws / "run"), "--out", str(out), *SCORE]) == 0
    with open(out / "scores.csv") as f:
        rows = list(csv.DictReader(f))
    test = sorted(r["file"] for r in rows if r["split"] == "test")
    expected = sorted(str(p.relative_to(ws / "ds")) for p in (ws / "ds" / "test").rglob("*.png"))
    assert test == expected
    assert {r["file"] for r in rows if r["split"] == "val"} == {""}
    assert np.isfinite([float(r["A"]) for r in rows]).all()
