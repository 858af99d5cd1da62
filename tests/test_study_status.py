"""`run_study --status`: how far each class has come and the hours left, writing nothing."""

import dataclasses
import json
import re

import numpy as np
import pytest

from anogan_jax.files import write_json
from anogan_jax.runs.checkpoint import Checkpointer
from anogan_jax.runs.study_scores import TRAINING_TIME, cell_path
from anogan_jax.runs.study_status import format_status, study_status
from tests.test_study import TINY

STUDY = dataclasses.replace(
    TINY,
    classes=(0, 1, 2),
    run=dataclasses.replace(TINY.run, steps=40),
    encoder=dataclasses.replace(TINY.encoder, steps=30),
)


def _checkpoint(folder, step):
    ckpt = Checkpointer(folder, every=10)
    ckpt.save({"x": np.zeros(1)}, step=step)
    ckpt.close()


def _done_cell(results, cls, seed, method, score_seconds):
    write_json(cell_path(results, cls, seed, method), {"class": cls})
    write_json(results / "timings" / f"c{cls}_s{seed}_{method}.json", {"score": score_seconds})


def _folders(tmp_path):
    """Class 0 done: training 400 s (GAN) + 300 s (encoder) for 40 and 30 steps, i.e. 10 s a
    step; scoring 2 x 100 s (anogan) and 2 x 10 s (fanogan). Class 1: GAN checkpoints at 20
    and 30 (the least, 20, is where it resumes), no encoder checkpoint, one seed of anogan
    scored (not the class). Class 2: nothing."""
    results, runs = tmp_path / "res", tmp_path / "runs"
    write_json(results / TRAINING_TIME, {"0": {"gan": 400.0, "encoder": 300.0}})
    for seed in STUDY.seeds:
        _done_cell(results, 0, seed, "anogan", 100.0)
        _done_cell(results, 0, seed, "fanogan", 10.0)
    _checkpoint(runs / "class_1" / "seed_0" / "checkpoints", 20)
    _checkpoint(runs / "class_1" / "seed_1" / "checkpoints", 30)
    _done_cell(results, 1, 0, "anogan", 7.0)
    return results, runs


def test_hours_left_from_the_pace_of_the_finished_class(tmp_path):
    results, runs = _folders(tmp_path)
    status = study_status(STUDY, results, runs)
    pace = status["pace"]
    assert (pace.gan, pace.encoder, pace.score, pace.classes) == (
        10.0,
        10.0,
        {"anogan": 200.0, "fanogan": 20.0},
        1,
    )
    by_class = {r.cls: r for r in status["classes"]}
    assert (by_class[0].gan_step, by_class[0].encoder_step, by_class[0].hours_left) == (40, 30, 0)
    assert by_class[0].scored == ("anogan", "fanogan")
    assert (by_class[1].gan_step, by_class[1].encoder_step, by_class[1].scored) == (20, 0, ())
    # class 1: 20 GAN steps + 30 encoder steps at 10 s, then both methods: 720 s
    assert by_class[1].hours_left * 3600 == pytest.approx(720.0)
    assert by_class[2].hours_left * 3600 == pytest.approx(920.0)
    assert status["hours_left"] * 3600 == pytest.approx(1640.0)
    assert (status["cells_done"], status["cells_total"]) == (5, 12)
    text = format_status(STUDY, status)
    assert "5 of 12 cells, 1 of 3 classes done" in text
    assert re.search(r"\n\s+1\s+20/40\s+0/30\s+0/2\s+0\.2\n", text)
    assert "hours left: 0.5 for one process" in text
    only = study_status(STUDY, results, runs, classes=(2,))
    assert only["hours_left"] * 3600 == pytest.approx(920.0)


def test_hours_left_is_unknown_before_any_class_is_done(tmp_path):
    status = study_status(STUDY, tmp_path / "res", tmp_path / "runs")
    assert status["hours_left"] is None
    assert [r.hours_left for r in status["classes"]] == [None, None, None]
    assert "hours left: unknown until a class is trained" in format_status(STUDY, status)


def _snapshot(folder):
    return {
        p: (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


def test_status_from_the_command_line_writes_nothing(tmp_path, capsys):
    from experiments.run_study import ROOT, main

    config = str(ROOT / "experiments" / "configs" / "mnist_one_class_normal_fanogan_mlp.py")
    results, runs = tmp_path / "res", tmp_path / "runs"
    write_json(results / "cells" / "c3_s0_anogan.json", {"class": 3})
    _checkpoint(runs / "class_4" / "seed_1" / "checkpoints", 1850)
    before = _snapshot(tmp_path)
    argv = [config, "--results", str(results), "--runs", str(runs), "--status"]
    assert main([*argv, "--classes", "3,4"]) == 0
    out = capsys.readouterr().out
    assert "1 of 36 cells, 0 of 2 classes done" in out
    assert re.search(r"\n\s+4\s+0/3700\s+0/18600\s+0/6\s+\?\n", out)  # seed 0 has no checkpoint
    assert main([*argv, "--classes", "3,11"]) == 2
    assert "has the classes" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*argv, "--report-only"])
    assert _snapshot(tmp_path) == before
    assert json.loads((results / "cells" / "c3_s0_anogan.json").read_text()) == {"class": 3}
