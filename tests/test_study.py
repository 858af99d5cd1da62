"""A tiny study, run twice from scratch: byte-identical cell results; reruns skip cells."""

import pytest

from anogan_jax.runs.config import EncoderConfig, RunConfig, ScoreConfig
from anogan_jax.runs.study import Method, Study, cells, run_study
from anogan_jax.runs.study_report import total_hours, write_report

TINY = Study(
    name="tiny",
    run=RunConfig(
        dataset="digits",
        arch="mlp",
        latent_dim=8,
        steps=3,
        batch_size=16,
        checkpoint_every=3,
        sample_every=3,
    ),
    classes=(0,),
    seeds=(0, 1),
    methods=(
        Method("anogan", ScoreConfig(num_steps=3, batch_size=32, limit=40, val_images=8)),
        Method("fanogan", ScoreConfig(method="fanogan", batch_size=64, val_images=8)),
    ),
    encoder=EncoderConfig(steps=3, batch_size=16, checkpoint_every=3),
    published={"paper": {0: 90.0, 1: 80.0}},
)


def _cell_bytes(results):
    return {p.name: p.read_bytes() for p in sorted((results / "cells").glob("*.json"))}


@pytest.mark.slow
def test_tiny_study_is_byte_identical_and_resumable(tmp_path):
    first = run_study(TINY, tmp_path / "r1", tmp_path / "runs1", progress=False)
    assert len(first) == len(cells(TINY)) == 4
    run_study(TINY, tmp_path / "r2", tmp_path / "runs2", progress=False)
    a, b = _cell_bytes(tmp_path / "r1"), _cell_bytes(tmp_path / "r2")
    assert len(a) == 4 and a == b
    # A rerun skips every finished cell: nothing is rewritten.
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "r1" / "cells").iterdir()}
    run_study(TINY, tmp_path / "r1", tmp_path / "runs1", progress=False)
    assert mtimes == {p: p.stat().st_mtime_ns for p in (tmp_path / "r1" / "cells").iterdir()}
    text = write_report(
        TINY, first, tmp_path / "r1", command="cmd", timings=total_hours(tmp_path / "r1")
    )
    assert "| 0 |" in text and "paper" in text and "**mean**" in text
    assert (tmp_path / "r1" / "auroc_by_class.png").exists()
    assert (tmp_path / "r1" / "roc_seed0.png").exists()
    # A cell whose score was non-finite on every image is named and left out of the means.
    import copy

    broken = copy.deepcopy(first)
    broken[0]["scores"][broken[0]["column"]] = {"auroc": None, "auprc": None, "num_finite": 0}
    text = write_report(TINY, broken, tmp_path / "r3", command="cmd", timings={})
    name = "class {class} seed {seed} {method}".format_map(broken[0])
    assert f"Left out of the means, no finite score on any image: {name}." in text
