"""train-classifier, train --fid-every (label-free best checkpoint) and evaluate via the CLI."""

import json

import pytest

from anogan_jax import cli
from tests.test_events import HAS_READER, assert_scalars_match

TRAIN = ["train", "--arch", "mlp", "--latent-dim", "8", "--batch-size", "16", "--quiet"]


@pytest.mark.slow
def test_classifier_fid_selection_and_evaluate(tmp_path, capsys):
    root = tmp_path / "classifiers"
    argv = ["train-classifier", "--dataset", "digits", "--steps", "30", "--quiet"]
    assert cli.main([*argv, "--classifier-dir", str(root)]) == 0
    info = json.loads((root / "digits" / "classifier.json").read_text())
    assert info["test_accuracy"] > 0.3  # 30 steps: well above chance (0.1)
    run = tmp_path / "run"
    fid = ["--steps", "4", "--fid-every", "2", "--classifier-dir", str(root)]
    assert cli.main([*TRAIN, *fid, "--out", str(run)]) == 0
    records = [json.loads(x) for x in (run / "fid.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    best = json.loads((run / "checkpoints_best" / "best.json").read_text())
    assert best["fid"] == min(r["fid"] for r in records)
    if HAS_READER:  # FID and KID in TensorBoard as in fid.jsonl
        assert_scalars_match(run, "fid.jsonl", "fid")
    capsys.readouterr()
    evaluate = ["evaluate", "--run", str(run), "--classifier-dir", str(root)]
    assert cli.main([*evaluate, "--num-samples", "64"]) == 0
    assert "FID" in capsys.readouterr().out
    report = json.loads((run / "evaluation.json").read_text())
    assert report["fid"] > 0 and report["num_val"] > 0


def test_evaluate_without_classifier_is_a_clear_error(tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main([*TRAIN, "--steps", "1", "--out", str(run)]) == 0
    code = cli.main(["evaluate", "--run", str(run), "--classifier-dir", str(tmp_path / "none")])
    assert code == 2
    assert "train-classifier --dataset digits" in capsys.readouterr().err
