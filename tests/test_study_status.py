"""`run_study --status`: how far each class has come and the hours left, writing nothing."""

import dataclasses
import json
import re

import numpy as np
import pytest

from anogan_jax.files import write_json
from anogan_jax.runs.checkpoint import Checkpointer
from anogan_jax.studies.layout import TRAINING_TIME, cell_path, ensemble_path
from anogan_jax.studies.status import format_status, study_status
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
    assert "5 of 12 scored cells, 1 of 3 classes done" in text
    assert re.search(r"\n\s+1\s+20/40\s+0/30\s+0/2\s+0/1\s+0\.2\n", text)
    assert "hours left: 0.5 for one process" in text
    assert "no class was computed on this machine, so every class done" in text
    only = study_status(STUDY, results, runs, classes=(2,))
    assert only["hours_left"] * 3600 == pytest.approx(920.0)


def test_the_pace_is_that_of_the_classes_computed_on_this_machine(tmp_path):
    """Class 0 computed on machine A at 10 s a step, class 2 on machine B at 30 s: asked from
    A (or B), the pace is that class's alone; from a third machine, the mean of both."""
    results, runs = _folders(tmp_path)
    write_json(
        results / TRAINING_TIME,
        {"0": {"gan": 400.0, "encoder": 300.0}, "2": {"gan": 1200.0, "encoder": 900.0}},
    )
    for seed in STUDY.seeds:
        for method, seconds in (("anogan", 300.0), ("fanogan", 30.0)):
            _done_cell(results, 2, seed, method, seconds)
    for cls, where in ((0, "cpu A, 2 logical cores (2 usable by this process)"), (2, "cpu B")):
        for path in (results / "timings").glob(f"c{cls}_*.json"):
            record = json.loads(path.read_text())
            write_json(path, {**record, "computed_on": {"hardware": f"{where}, Linux 6"}})
    here_a = study_status(
        STUDY, results, runs, here="cpu A, 2 logical cores (2 usable by this process)"
    )
    assert (here_a["pace"].gan, here_a["pace"].score["anogan"], here_a["pace"].classes) == (
        10.0,
        200.0,
        1,
    )
    assert here_a["pace"].this_machine
    # another core count is another machine
    assert (
        study_status(
            STUDY, results, runs, here="cpu A, 2 logical cores (1 usable by this process)"
        )["pace"].classes
        == 2
    )
    here_b = study_status(STUDY, results, runs, here="cpu B")
    assert (here_b["pace"].gan, here_b["pace"].score["fanogan"]) == (30.0, 60.0)
    elsewhere = study_status(STUDY, results, runs, here="cpu C")
    assert (elsewhere["pace"].gan, elsewhere["pace"].classes) == (20.0, 2)
    assert not elsewhere["pace"].this_machine
    assert "those computed on this machine" in format_status(STUDY, here_b)


def test_derived_rows_are_counted_per_class(tmp_path):
    """The ensemble of fanogan (one file) and a complexity row (one file per seed) are counted
    only when all of their files are written."""
    study = dataclasses.replace(STUDY, complexity=("fanogan",))
    results, runs = _folders(tmp_path)
    write_json(ensemble_path(results, 0, "fanogan"), {"class": 0})
    write_json(cell_path(results, 0, 0, "fanogan_ic"), {"class": 0})
    status = study_status(study, results, runs)
    assert status["classes"][0].derived == ("fanogan_ens",)
    write_json(cell_path(results, 0, 1, "fanogan_ic"), {"class": 0})
    status = study_status(study, results, runs)
    assert status["classes"][0].derived == ("fanogan_ens", "fanogan_ic")
    assert (status["cells_done"], status["cells_total"]) == (5, 12)  # method cells only
    assert re.search(r"\n\s+0\s+40/40\s+30/30\s+2/2\s+2/2\s+0\.0\n", format_status(study, status))


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
    assert "1 of 36 scored cells, 0 of 2 classes done" in out
    # seed 0 has no checkpoint; 3 derived rows (the seed ensembles), none written
    assert re.search(r"\n\s+4\s+0/3700\s+0/18600\s+0/6\s+0/3\s+\?\n", out)
    assert main([*argv, "--classes", "3,11"]) == 2
    assert "has the classes" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*argv, "--report-only"])
    assert _snapshot(tmp_path) == before
    assert json.loads((results / "cells" / "c3_s0_anogan.json").read_text()) == {"class": 3}


def test_a_class_in_training_shows_the_step_its_log_has_reached(tmp_path):
    """Class 1's GAN checkpoints are at 20 and 30 (it resumes from 20) while its logs have
    reached 25 and 33: the status shows 20/40 (25), says what the bracket means, and still
    counts the hours from the checkpoint. Class 0 is done; class 2 has no log at all."""
    from anogan_jax.files import write_jsonl

    results, runs = _folders(tmp_path)
    for seed, last in ((0, 25), (1, 33)):
        records = [{"step": 10, "steps_per_s": 1.0}, {"step": last, "steps_per_s": 1.0}]
        write_jsonl(runs / "class_1" / f"seed_{seed}" / "metrics.jsonl", records)
    status = study_status(STUDY, results, runs)
    by_class = {r.cls: r for r in status["classes"]}
    assert (by_class[1].gan_step, by_class[1].gan_logged, by_class[1].encoder_logged) == (20, 25, 0)
    assert (by_class[0].gan_logged, by_class[2].gan_logged) == (40, 0)
    assert by_class[1].hours_left * 3600 == pytest.approx(720.0)
    text = format_status(STUDY, status)
    assert re.search(r"\n\s+1\s+20/40 \(25\)\s+0/30\s+0/2\s+0/1\s+0\.2\n", text)
    assert re.search(r"\n\s+2\s+0/40\s+0/30\s", text)
    assert "in brackets, the step its run log has reached" in text
    quiet = format_status(STUDY, study_status(STUDY, *_folders(tmp_path / "other")))
    assert "brackets" not in quiet
