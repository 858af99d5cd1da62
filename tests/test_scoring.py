"""Scoring through the real CLI entry point on a tiny trained run."""

import csv
import json

import numpy as np
import pytest

from anogan_jax import cli

TRAIN = ["train", "--arch", "mlp", "--batch-size", "16", "--latent-dim", "8", "--quiet"]
SCORE = ["score", "--num-steps", "5", "--batch-size", "32", "--limit", "70", "--quiet"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "r"
    assert cli.main([*TRAIN, "--steps", "4", "--out", str(out)]) == 0
    return out


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_score_writes_everything_and_resumes_exactly(run, tmp_path):
    out = tmp_path / "s"
    args = [*SCORE, "--run", str(run), "--val-images", "10"]
    assert cli.main([*args, "--out", str(out)]) == 0
    for name in (
        "scores.csv",
        "metrics.json",
        "roc.png",
        "pr.png",
        "histograms.png",
        "extremes.png",
    ):
        assert (out / name).exists(), name
    rows = _rows(out / "scores.csv")
    assert sum(r["split"] == "test" for r in rows) == 70
    assert sum(r["split"] == "val" for r in rows) == 10
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["scores"]) == {"A", "D", "R"} and 0 <= m["scores"]["A"]["auroc"] <= 1
    assert "threshold" in m["scores"]["A"]
    # Simulate a crash after the first batch: drop the later parts and the report, resume.
    parts = sorted((out / "parts").iterdir())
    assert len(parts) == 3  # 80 images in batches of 32
    for p in parts[1:]:
        p.unlink()
    (out / "scores.csv").unlink()
    assert cli.main([*args, "--out", str(out), "--resume"]) == 0
    assert _rows(out / "scores.csv") == rows


def test_score_refusals(run, tmp_path, capsys):
    out = tmp_path / "s"
    assert cli.main([*SCORE, "--run", str(run), "--out", str(out)]) == 0
    assert cli.main([*SCORE, "--run", str(run), "--out", str(out)]) == 2
    assert "already holds results" in capsys.readouterr().err
    changed = [*SCORE[:2], "6", *SCORE[3:], "--run", str(run), "--out", str(out), "--resume"]
    assert cli.main(changed) == 2
    assert "differ from the saved ones" in capsys.readouterr().err
    assert cli.main([*SCORE, "--run", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert np.isfinite(1.0)
