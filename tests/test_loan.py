"""The lent accelerator's payload (experiments/loan.py), end to end on the CPU: its data carried
as a decoded copy, the accelerator check, a tiny study by the models-axis program in groups of
classes, and what comes back in --out."""

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from anogan_jax import datasets
from experiments import loan

TINY_STUDY = """
from anogan_jax.runs.config import EncoderConfig, RunConfig, ScoreConfig
from anogan_jax.studies.config import Method, Study

STUDY = Study(
    name="loan_tiny",
    run=RunConfig(dataset="digits", arch="mlp", latent_dim=8, steps=3, batch_size=16,
                  checkpoint_every=3, sample_every=3),
    classes=(0, 1, 2),
    seeds=(0,),
    methods=(Method("fanogan", ScoreConfig(method="fanogan", batch_size=64, val_images=8)),),
    encoder=EncoderConfig(steps=3, batch_size=16, checkpoint_every=3),
)
"""


def test_carried_data_is_where_the_loader_finds_its_decoded_copy(tmp_path, monkeypatch):
    monkeypatch.delenv("TFDS_DATA_DIR", raising=False)
    carried = tmp_path / "carry"
    carried.mkdir()
    arrays = {"x_train": np.zeros((2, 28, 28, 1), np.uint8), "y_train": np.arange(2)}
    np.savez_compressed(carried / "mnist.npz", **arrays)
    monkeypatch.setenv("ANOGAN_JAX_CACHE", str(tmp_path / "elsewhere"))
    loan.use_data(carried, tmp_path / "cache")
    target = datasets.tfds_cache_path("mnist")
    assert target.is_relative_to(tmp_path / "cache")  # the loan's own cache, set for its steps
    with np.load(target) as f:
        assert np.array_equal(f["y_train"], arrays["y_train"])


@pytest.mark.slow
def test_loan_runs_the_check_and_the_study_in_groups_and_packs_them(tmp_path):
    config = tmp_path / "loan_tiny.py"
    config.write_text(TINY_STUDY)
    out = tmp_path / "out"
    argv = ["--out", str(out), "--study", str(config), "--tiny", "--group", "2"]
    assert loan.main([*argv, "--check-s", "0", "--work", str(tmp_path / "work")]) == 0
    check = json.loads(next(out.glob("accelerator_*.json")).read_text())
    assert check["tiny"] and check["device"]["machine"]["jax_backend"] == "cpu"
    log = (out / "loan.log").read_text()
    # Two groups: classes 0,1 as one program, then class 2, each with the models axis.
    assert "--program models --quiet --classes 0,1" in log and "--classes 2" in log
    assert log.count("# exit 0") == 3, log
    with tarfile.open(out / "study_loan_tiny.tgz") as tar:
        names = set(tar.getnames())
    cells = {Path(n).name for n in names if "/cells/" in n}
    assert cells == {f"c{c}_s0_fanogan.json" for c in (0, 1, 2)}
    # A second loan finds every class done and trains nothing.
    assert (
        loan.pending_classes(
            loan.load_config(str(config)), tmp_path / "work" / "results" / "loan_tiny"
        )
        == []
    )
