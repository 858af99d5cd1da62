"""GAN training through the real CLI entry point: artefacts, resume, refusals."""

import json

import jax
import numpy as np
import pytest

from anogan_jax import cli
from anogan_jax.runs.config import RunConfig
from anogan_jax.runs.models import load_gan

TINY = ["--arch", "mlp", "--batch-size", "16", "--latent-dim", "8", "--quiet"]


def _train(out, steps, *extra):
    argv = ["train", "--steps", str(steps), "--out", str(out), *TINY]
    argv += ["--checkpoint-every", "3", "--log-every", "2", "--sample-every", "3", *extra]
    return cli.main(argv)


def _params(run):
    _, _, state = load_gan(run)
    return jax.tree.leaves(state)


def test_train_writes_artefacts_and_resume_is_bit_identical(tmp_path):
    assert _train(tmp_path / "full", 6) == 0
    full = tmp_path / "full"
    for name in ("config.json", "metrics.jsonl", "loss_curve.png", "samples/step_0000006.png"):
        assert (full / name).exists(), name
    records = [json.loads(x) for x in (full / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4, 6]
    assert RunConfig.from_json(full / "config.json").arch == "mlp"

    assert _train(tmp_path / "part", 3) == 0
    assert _train(tmp_path / "part", 6, "--resume") == 0
    for a, b in zip(_params(full), _params(tmp_path / "part"), strict=True):
        np.testing.assert_array_equal(a, b)
    part = [json.loads(x) for x in (tmp_path / "part" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in part] == [2, 3, 4, 6]


def test_refuses_existing_results_and_bad_names(tmp_path, capsys):
    assert _train(tmp_path / "r", 1) == 0
    assert _train(tmp_path / "r", 1) == 2
    assert "already holds results" in capsys.readouterr().err
    assert _train(tmp_path / "r", 1, "--overwrite") == 0
    assert cli.main(["train", "--out", str(tmp_path / "x"), "--objective", "wgan"]) == 2
    assert "unknown objective 'wgan'" in capsys.readouterr().err
    assert cli.main(["train", "--out", str(tmp_path / "x"), "--class", "12"]) == 2
    assert "class 12 does not exist" in capsys.readouterr().err


def test_load_gan_missing_run_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_gan(tmp_path / "nope")


def test_train_resumed_without_repeating_any_option_equals_an_uninterrupted_run(tmp_path):
    """``train --out R --resume --steps N``, nothing else repeated, continues with the saved
    architecture, sizes, seed and intervals and ends with the parameters of one run."""
    assert _train(tmp_path / "full", 6, "--seed", "3") == 0
    assert _train(tmp_path / "part", 3, "--seed", "3") == 0
    argv = ["train", "--out", str(tmp_path / "part"), "--resume", "--steps", "6", "--quiet"]
    assert cli.main(argv) == 0
    for a, b in zip(_params(tmp_path / "full"), _params(tmp_path / "part"), strict=True):
        np.testing.assert_array_equal(a, b)
    full, part = (json.loads((tmp_path / r / "config.json").read_text()) for r in ("full", "part"))
    assert part == full


def test_train_that_goes_nonfinite_names_the_first_bad_step(tmp_path, capsys):
    """A learning rate of 1e30 makes step 1 non-finite; with logs every 5 steps the check runs
    at step 5 and names step 1, in one error line, exit code 2, and writes no metrics."""
    out = tmp_path / "r"
    capsys.readouterr()
    assert _train(out, 10, "--g-lr", "1e30", "--d-lr", "1e30", "--log-every", "5") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: training produced a non-finite loss or parameter at step 1 (")
    assert "Try: a lower learning rate (--g-lr/--d-lr)" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (out / "metrics.jsonl").exists()
