"""A tiny study, run twice from scratch: byte-identical cell results; reruns skip cells."""

import dataclasses
import json
import re

import numpy as np
import pytest

from anogan_jax import metrics
from anogan_jax.runs.config import EncoderConfig, RunConfig, ScoreConfig
from anogan_jax.runs.forms import choose_form
from anogan_jax.runs.provenance import settings
from anogan_jax.studies.config import Method, Study
from anogan_jax.studies.derived import ensemble_cells
from anogan_jax.studies.layout import score_files
from anogan_jax.studies.numbers import total_hours
from anogan_jax.studies.report import write_report
from anogan_jax.studies.run import cells, run_study

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
    ensembles=("fanogan",),
    frontier=("fanogan", "anogan"),
)


def _cell_bytes(results):
    return {p.name: p.read_bytes() for p in sorted((results / "cells").glob("*.json"))}


@pytest.mark.slow
def test_tiny_study_is_byte_identical_and_resumable(tmp_path):
    first = run_study(TINY, tmp_path / "r1", tmp_path / "runs1", progress=False)
    assert len(first) == len(cells(TINY)) + 1 == 5  # + the seed ensemble of fanogan
    run_study(TINY, tmp_path / "r2", tmp_path / "runs2", progress=False)
    a, b = _cell_bytes(tmp_path / "r1"), _cell_bytes(tmp_path / "r2")
    assert len(a) == 5 and a == b
    # Each cell's per-image scores are kept beside it, byte-identical across the two runs.
    kept = [sorted(p.read_bytes() for p in score_files(tmp_path / r)) for r in ("r1", "r2")]
    assert len(kept[0]) == 4 and kept[0] == kept[1]
    # A rerun skips every finished cell: nothing is rewritten.
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "r1" / "cells").iterdir()}
    run_study(TINY, tmp_path / "r1", tmp_path / "runs1", progress=False)
    assert mtimes == {p: p.stat().st_mtime_ns for p in (tmp_path / "r1" / "cells").iterdir()}
    # A study stopped before a cell was written resumes its class (GAN, encoders and scores
    # from their folders) and writes that cell byte for byte as before.
    lost = tmp_path / "r1" / "cells" / "c0_s1_anogan.json"
    lost.unlink()
    run_study(TINY, tmp_path / "r1", tmp_path / "runs1", progress=False)
    assert _cell_bytes(tmp_path / "r1") == a
    # A crash between the seeds' final checkpoint saves (before any encoder or score) leaves
    # them at different steps (here seed 1 has none): the study trains each seed alone
    # instead of refusing on every rerun. Seed 0 is untouched, so its cells are the same.
    import shutil

    class_dir = tmp_path / "runs1" / "class_0"
    ckpt = class_dir / "seed_1" / "checkpoints" / "3"
    for folder in [ckpt, class_dir / "scores", *class_dir.glob("seed_*/encoder_*")]:
        shutil.rmtree(folder)
    for cell in (tmp_path / "r1" / "cells").glob("c0_*"):
        cell.unlink()
    run_study(TINY, tmp_path / "r1", tmp_path / "runs1", progress=False)
    again = _cell_bytes(tmp_path / "r1")
    assert ckpt.is_dir() and again.keys() == a.keys()
    assert {k: v for k, v in again.items() if "_s0_" in k} == {
        k: v for k, v in a.items() if "_s0_" in k
    }
    # The quiet frontier benchmark times each frontier method on one trained run.
    from experiments.bench_frontier import measure

    rows = measure(TINY, tmp_path / "runs1" / "class_0" / "seed_0", None, 2, 0.01)
    assert [r["method"] for r in rows] == list(TINY.frontier)
    assert [r["batch_size"] for r in rows] == [64, 32]
    assert all(r["images_per_s"] > 0 and len(r["samples_s"]) == 2 for r in rows)
    text = write_report(
        TINY, first, tmp_path / "r1", command="cmd", timings=total_hours(tmp_path / "r1")
    )
    assert "| method | 0 | **mean** |" in text and "| paper | 90.0 | 90.0 |" in text
    assert "| `fanogan_ens` |" in text and "## Quality against cost" in text
    assert "| method | mean AUROC | paper |" in text
    # Each cell's timings say where it was computed; the report counts them.
    where = json.loads((tmp_path / "r1" / "timings" / "c0_s0_anogan.json").read_text())
    keys = {"hardware", "versions", "git_commit", "models_form", "models_form_source"}
    keys |= {"settings"} if settings() else set()
    assert set(where["computed_on"]) == keys
    assert where["computed_on"]["models_form"] == choose_form(TINY.run.arch).form
    assert f"- 4 cells computed on {where['computed_on']['hardware']};" in text
    # anogan scores a subsample of 40 test images: its mean carries that sampling error.
    sub = json.loads((tmp_path / "r1" / "subsample_se.json").read_text())
    assert set(sub) == {"anogan"} and set(sub["anogan"]) == {"0"} and sub["anogan"]["0"] > 0
    assert f"(subsample ± {sub['anogan']['0']:.1f})" in text
    assert (tmp_path / "r1" / "frontier.png").exists()
    assert (tmp_path / "r1" / "auroc_by_class.png").exists()
    assert (tmp_path / "r1" / "roc_seed0.png").exists()
    # A cell whose score was non-finite on every image is named and left out of the means.
    import copy

    broken = copy.deepcopy(first)
    broken[0]["scores"][broken[0]["column"]] = {"auroc": None, "auprc": None, "num_finite": 0}
    text = write_report(TINY, broken, tmp_path / "r3", command="cmd", timings={})
    name = "class {class} seed {seed} {method}".format_map(broken[0])
    assert f"Left out of the means, no finite score on any image: {name}." in text
    # Complexity-discounted rows from the real score folders: the search's L1 residual and
    # f-AnoGAN's image term, each of the two seeds, shown as their own rows.
    from anogan_jax.studies.complexity import complexity_cells
    from anogan_jax.studies.layout import load_cells

    ic = dataclasses.replace(TINY, complexity=("anogan", "fanogan"))
    assert complexity_cells(ic, tmp_path / "r2", tmp_path / "runs2") == 4
    derived = json.loads((tmp_path / "r2" / "cells" / "c0_s1_fanogan_ic.json").read_text())
    plain = json.loads((tmp_path / "r2" / "cells" / "c0_s1_fanogan.json").read_text())
    assert derived["column"] == "img_mse_ic" and derived["num_test"] == plain["num_test"]
    assert 0.0 <= derived["scores"]["img_mse_ic"]["auroc"] <= 1.0
    text = write_report(ic, load_cells(tmp_path / "r2"), tmp_path / "r2", command="c", timings={})
    assert "| `anogan_ic` |" in text and "| `fanogan_ic` |" in text
    assert "Cells finished: 9 of 9" in text and "- 4 cells computed on" in text


def _write_scores(path, index, labels, test, val, digits=None):
    digits = labels if digits is None else digits
    lines = ["index,split,label,class,A"]
    lines += [
        f"{i},test,{y},{d},{float(v)!r}"
        for i, y, d, v in zip(index, labels, digits, test, strict=True)
    ]
    lines += [f"{1000 + i},val,0,-1,{float(v)!r}" for i, v in enumerate(val)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def test_seed_ensemble_standardises_each_seed_on_its_normal_validation_scores(tmp_path):
    """Two seeds on scales 1 and 1000: the ensemble is the mean of the standardised scores,
    with each seed's mean and std taken from its own normal validation images."""
    rng = np.random.default_rng(0)
    labels = np.array([0] * 30 + [1] * 10)
    index = np.arange(40)
    study = dataclasses.replace(TINY, seeds=(0, 1), ensembles=("anogan",), frontier=())
    expected = []
    for seed, scale in ((0, 1.0), (1, 1000.0)):
        test = scale * (rng.normal(size=40) + 1.5 * labels)
        val = scale * rng.normal(size=12) + scale
        _write_scores(
            tmp_path / "runs" / "class_0" / "scores" / "anogan" / f"seed_{seed}" / "scores.csv",
            index,
            labels,
            test,
            val,
        )
        (tmp_path / "res" / "cells").mkdir(parents=True, exist_ok=True)
        (tmp_path / "res" / "cells" / f"c0_s{seed}_anogan.json").write_text("{}")
        expected.append((test - val.mean()) / val.std())
    ensemble_cells(study, tmp_path / "res", tmp_path / "runs")
    cell = json.loads((tmp_path / "res" / "cells" / "c0_ens_anogan.json").read_text())
    assert cell["method"] == "anogan_ens" and cell["seed"] == "ensemble"
    want = metrics.auroc(labels, np.mean(expected, axis=0))
    assert cell["scores"]["A"]["auroc"] == pytest.approx(want, abs=1e-12)
    # Without standardising, the scale-1000 seed alone would decide the ranking.
    assert want != metrics.auroc(labels, expected[0] + expected[1] * 1000)


def test_seed_standard_error_of_the_class_mean():
    from anogan_jax.studies.numbers import seed_standard_errors

    def cell(method, seed, cls, auroc):
        return {
            "method": method,
            "seed": seed,
            "class": cls,
            "column": "A",
            "scores": {"A": {"auroc": auroc}},
        }

    # Seed means over classes 0 and 1: 90 and 94 (%) -> std 2.828, SE 2.0.
    cells = [cell("m", 0, 0, 0.88), cell("m", 0, 1, 0.92), cell("m", 1, 0, 0.92)]
    cells += [cell("m", 1, 1, 0.96), cell("one_seed", 0, 0, 0.5), cell("one_seed", 0, 1, 0.5)]
    cells += [cell("m_ens", "ensemble", 0, 0.9), cell("m_ens", "ensemble", 1, 0.9)]
    se = seed_standard_errors(cells, [0, 1])
    assert se == {"m": pytest.approx(2.0)}
    # A seed missing a class gives no SE rather than a wrong one.
    assert seed_standard_errors(cells[:3], [0, 1]) == {}


def test_report_mean_row_of_an_unfinished_study_covers_its_finished_classes_only():
    from anogan_jax.studies.report import _table

    study = dataclasses.replace(TINY, classes=(0, 1, 2), published={"paper": {0: 90, 1: 80, 2: 70}})
    auroc = {"anogan": {0: (95.0, 1.0, 2), 1: (85.0, 1.0, 2)}, "fanogan": {0: (91.0, 0.5, 2)}}
    lines = _table(study, auroc)
    assert lines[0] == "| method | 0 | 1 | 2 | **mean of the 2 finished classes** |"
    assert lines[2:] == [
        "| `anogan` | 95.0 ± 1.0 | 85.0 ± 1.0 | - | **90.0** |",
        "| `fanogan` | 91.0 ± 0.5 | - | - | **91.0** (1 of 2 classes) |",
        "| paper | 90.0 | 80.0 | 70.0 | 85.0 |",
    ]
    auroc["anogan"][2] = auroc["fanogan"][2] = (75.0, 1.0, 2)
    auroc["fanogan"][1] = (81.0, 1.0, 2)
    lines = _table(study, auroc, {"anogan": 0.5}, references=False)
    assert lines[0] == "| method | 0 | 1 | 2 | **mean** |"
    assert lines[2:] == [
        "| `anogan` | 95.0 ± 1.0 | 85.0 ± 1.0 | 75.0 ± 1.0 | **85.0** ± 0.5 |",
        "| `fanogan` | 91.0 ± 0.5 | 81.0 ± 1.0 | 75.0 ± 1.0 | **82.3** |",
    ]


def test_frontier_uses_the_quiet_benchmark_rates_when_they_are_there(tmp_path):
    from anogan_jax.studies.numbers import frontier_points

    def cell(method, seed, auroc):
        scores = {"A": {"auroc": auroc}}
        return {"method": method, "seed": seed, "class": 0, "column": "A", "scores": scores}

    cells = [cell("fanogan", 0, 0.9), cell("fanogan", 1, 0.8), cell("anogan", 0, 0.7)]
    for c in cells:
        c.update(num_test=90, num_val=10)
        timing = tmp_path / "timings" / f"c0_s{c['seed']}_{c['method']}.json"
        timing.parent.mkdir(exist_ok=True)
        timing.write_text(json.dumps({"score": 2.0}))
    points = {p["method"]: p for p in frontier_points(TINY, cells, tmp_path)}
    # From the cells' timings: (100 + 100) images over 4 s; 100 images over 2 s.
    assert points["fanogan"]["images_per_s"] == 50.0 and points["anogan"]["images_per_s"] == 50.0
    assert points["fanogan"]["auroc"] == pytest.approx(85.0)
    rows = [
        {"method": "fanogan", "images_per_s": 1234.5},
        {"method": "anogan", "images_per_s": 9.5},
    ]
    (tmp_path / "frontier_speed.json").write_text(json.dumps({"rows": rows}))
    points = {p["method"]: p for p in frontier_points(TINY, cells, tmp_path)}
    assert points["fanogan"]["images_per_s"] == 1234.5 and points["anogan"]["images_per_s"] == 9.5


def test_subsample_error_of_the_seed_mean_and_of_the_class_mean(tmp_path):
    """Per class: DeLong's SE of the mean of the seeds' AUROCs on their shared subsample; two
    identical seeds have exactly the one-scorer SE. Over classes: independent errors."""
    from anogan_jax.studies.derived import subsample_errors
    from anogan_jax.studies.numbers import subsample_mean_errors

    rng = np.random.default_rng(0)
    labels = np.array([0] * 30 + [1] * 10)
    study = dataclasses.replace(TINY, classes=(0, 1), seeds=(0, 1))
    runs = tmp_path / "runs"
    scores = {}
    for cls in (0, 1):
        base = rng.normal(size=40) + labels
        for seed in (0, 1):
            scores[cls, seed] = base if cls == 0 else base + rng.normal(size=40)
            path = runs / f"class_{cls}" / "scores" / "anogan" / f"seed_{seed}" / "scores.csv"
            _write_scores(path, np.arange(40), labels, scores[cls, seed], rng.normal(size=5))
    got = subsample_errors(study, tmp_path / "res", runs)
    assert set(got) == {"anogan"}  # fanogan scores the full test set: no subsample error
    _, var = metrics.auroc_covariance(labels, scores[0, 0])
    assert got["anogan"]["0"] == pytest.approx(100 * np.sqrt(var[0, 0]), rel=1e-12)
    _, cov = metrics.auroc_covariance(labels, np.stack([scores[1, 0], scores[1, 1]]))
    assert got["anogan"]["1"] == pytest.approx(100 * np.sqrt(cov.sum() / 4), rel=1e-12)
    saved = json.loads((tmp_path / "res" / "subsample_se.json").read_text())
    assert saved == got
    # Class 0's score folders gone (another machine): its saved error stays, class 1's is
    # computed again.
    import shutil

    shutil.rmtree(runs / "class_0")
    assert subsample_errors(study, tmp_path / "res", runs) == got
    (tmp_path / "res" / "subsample_se.json").write_text(json.dumps({"anogan": {"0": 3, "1": 4}}))
    both = {"anogan": {0: (90, 1, 2), 1: (80, 1, 2)}}
    assert subsample_mean_errors(tmp_path / "res", both) == {"anogan": 2.5}
    assert subsample_mean_errors(tmp_path / "res", {"anogan": {0: (90, 1, 2)}}) == {"anogan": 3}
    assert subsample_mean_errors(tmp_path / "res", {"anogan": {2: (9, 1, 2)}}) == {}


def test_auroc_of_each_pair_of_classes_and_its_report_section(tmp_path):
    """Normal 0s scored 0..19; the 1s' scores put them above 5 of the 20 zeros (seed 0) and
    above 15 (seed 1): 25% and 75%, mean 50; the 7s above all (a seed's NaN left out)."""
    from anogan_jax.studies.derived import pair_aurocs

    digits = np.array([0] * 20 + [1] * 10 + [7] * 10)
    labels = (digits != 0).astype(int)
    study = dataclasses.replace(
        TINY, seeds=(0, 1), methods=TINY.methods[:1], ensembles=(), frontier=()
    )
    runs = tmp_path / "runs"
    for seed, ones in ((0, 4.5), (1, 14.5)):
        test = np.concatenate([np.arange(20.0), np.full(10, ones), np.full(10, 100.0)])
        test[-1] = np.nan if seed else test[-1]
        path = runs / "class_0" / "scores" / "anogan" / f"seed_{seed}" / "scores.csv"
        _write_scores(path, np.arange(40), labels, test, np.zeros(3), digits)
    got = pair_aurocs(study, tmp_path / "res", runs)
    assert got == {"anogan": {"0": {"1": 50.0, "7": 100.0}}}
    assert json.loads((tmp_path / "res" / "auroc_by_pair.json").read_text()) == got
    # A class scored elsewhere, whose folders are not here, keeps its saved row.
    saved = {"anogan": {"3": {"1": 60.0}, **got["anogan"]}}
    (tmp_path / "res" / "auroc_by_pair.json").write_text(json.dumps(saved))
    assert pair_aurocs(study, tmp_path / "res", runs) == {
        "anogan": {"0": {"1": 50.0, "7": 100.0}, "3": {"1": 60.0}}
    }
    (tmp_path / "res" / "auroc_by_pair.json").write_text(json.dumps(got))
    text = write_report(study, [], tmp_path / "res", command="cmd", timings={})
    assert "| `anogan` | 0 vs 1: 50.0, 0 vs 7: 100.0 |" in text
    assert (tmp_path / "res" / "auroc_by_pair.png").stat().st_size > 10_000
    # Under one-class-anomalous the study class is the anomaly, so the same table is worded
    # "normal vs anomalous" the other way round (only the wording is checked here).
    anomalous = dataclasses.replace(
        study, run=dataclasses.replace(study.run, protocol="one_class_anomalous")
    )
    text = write_report(anomalous, [], tmp_path / "res", command="cmd", timings={})
    assert "| `anogan` | 1 vs 0: 50.0, 7 vs 0: 100.0 |" in text


def test_one_class_anomalous_seeds_score_their_own_images(tmp_path):
    """Each seed of one-class-anomalous draws its own test set: a seed ensemble is refused when
    the config is built; the pair table takes each seed on its own images, and the subsample
    error is left out (the seeds' spread already holds it)."""
    from anogan_jax.runs.config import RunError
    from anogan_jax.studies.derived import pair_aurocs, subsample_errors

    anomalous = dataclasses.replace(TINY.run, protocol="one_class_anomalous")
    with pytest.raises(RunError, match="drop ensembles"):
        dataclasses.replace(TINY, run=anomalous)
    study = dataclasses.replace(
        TINY, run=anomalous, ensembles=(), methods=TINY.methods[:1], frontier=()
    )
    runs = tmp_path / "runs"
    # Class 3 is the anomaly (label 1), scored 10 (seed 0) or 15 (seed 1); the normal 0s score
    # 0.5..19.5 (3s above 10 and 15 of them: 50%, 75%) and the 5s 5 (100%).
    for seed, anomaly in ((0, 10.0), (1, 15.0)):
        classes = np.array([3] * 5 + [0] * 20 + [5] * 4)
        test = np.concatenate([np.full(5, anomaly), np.arange(20) + 0.5, np.full(4, 5.0)])
        path = runs / "class_3" / "scores" / "anogan" / f"seed_{seed}" / "scores.csv"
        index = np.arange(29)  # positions in each seed's own test set: equal, not the same
        _write_scores(path, index, (classes == 3).astype(int), test, np.zeros(3), classes)
    study = dataclasses.replace(study, classes=(3,))
    assert pair_aurocs(study, tmp_path / "res", runs) == {"anogan": {"3": {"0": 62.5, "5": 100.0}}}
    assert subsample_errors(study, tmp_path / "res", runs) == {}
    text = write_report(study, [], tmp_path / "res", command="cmd", timings={})
    assert "each seed draws its own train/test split" in text
    assert "| `anogan` | 0 vs 3: 62.5, 5 vs 3: 100.0 |" in text
    normal = write_report(TINY, [], tmp_path / "res2", command="cmd", timings={})
    assert "draws its own" not in normal


def test_seeds_of_one_class_normal_that_scored_other_images_are_refused(tmp_path):
    # One-class-normal's test set does not depend on the seed: seeds whose score files list
    # other images were scored from other data, and nothing is derived from them.
    from anogan_jax.runs.config import RunError
    from anogan_jax.studies.derived import subsample_errors

    labels = np.array([0] * 6 + [1] * 4)
    for seed in (0, 1):
        path = tmp_path / "runs" / "class_0" / "scores" / "anogan" / f"seed_{seed}" / "scores.csv"
        _write_scores(path, np.arange(10) + seed, labels, np.arange(10.0), np.zeros(3))
    study = dataclasses.replace(TINY, seeds=(0, 1), ensembles=())
    with pytest.raises(RunError, match="scored different images"):
        subsample_errors(study, tmp_path / "res", tmp_path / "runs")


def test_report_says_where_each_cell_was_computed_and_which_cells_do_not_say(tmp_path):
    from anogan_jax.studies.reproduce import computed_on

    here = {"hardware": "cpu A", "versions": "jax 1", "git_commit": "abc"}
    (tmp_path / "timings").mkdir()
    cells = []
    for seed, method, where in ((0, "m", here), (1, "m", here), (0, "k", None)):
        cells.append({"class": 3, "seed": seed, "method": method})
        timing = {"score": 1.0} if where is None else {"score": 1.0, "computed_on": where}
        (tmp_path / "timings" / f"c3_s{seed}_{method}.json").write_text(json.dumps(timing))
    gpu = {**here, "hardware": "1 x H200 (gpu); host B", "settings": "XLA_FLAGS=--det"}
    cells.append({"class": 4, "seed": 0, "method": "m"})
    (tmp_path / "timings" / "c4_s0_m.json").write_text(json.dumps({"computed_on": gpu}))
    cells.append({"class": 3, "seed": 2, "method": "k"})  # no timings file at all
    cells.append({"class": 3, "seed": "ensemble", "method": "m_ens"})  # derived: not counted
    assert computed_on(tmp_path, cells) == [
        "- 2 cells computed on cpu A; jax 1; git commit abc",
        "- 1 cells computed on 1 x H200 (gpu); host B; jax 1; git commit abc; with XLA_FLAGS=--det",
        "- 2 cells carry no record of where they were computed (written before studies "
        "recorded it); the notes say what is known",
    ]


def _run_classes(study, results, runs, classes):
    """One process of a shared study (run in a spawned process)."""
    run_study(study, results, runs, classes=classes, progress=False)


@pytest.mark.slow
def test_classes_shared_between_processes_give_the_same_cells(tmp_path):
    """Two processes, running at once on the same results and runs folders, each on its own
    class, write the same cells, byte for byte, as one run of the whole study."""
    import multiprocessing

    study = dataclasses.replace(
        TINY, classes=(0, 1), methods=TINY.methods[:1], ensembles=(), frontier=()
    )
    run_study(study, tmp_path / "all", tmp_path / "runs_all", progress=False)
    spawn = multiprocessing.get_context("spawn")  # no forked jax runtime
    procs = [
        spawn.Process(target=_run_classes, args=(study, tmp_path / "split", tmp_path / "runs", [c]))
        for c in (1, 0)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=600)
        assert p.exitcode == 0
    assert _cell_bytes(tmp_path / "split") == _cell_bytes(tmp_path / "all")
    assert len(_cell_bytes(tmp_path / "all")) == 4


@pytest.mark.parametrize(
    "classes, message",
    [("12", r"has the classes \[0, 1, 2, 3, 4, 5, 6, 7, 8, 9\]"), ("1,x", "separated by commas")],
)
def test_classes_outside_the_study_are_refused_before_anything_is_written(
    tmp_path, capsys, classes, message
):
    from experiments.run_study import ROOT, main

    config = str(ROOT / "experiments" / "configs" / "mnist_one_class_normal_fanogan_mlp.py")
    argv = [config, "--results", str(tmp_path / "res"), "--runs", str(tmp_path / "runs")]
    assert main([*argv, "--classes", classes, "--quiet"]) == 2
    assert re.search(message, capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_training_time_spans_every_process_of_a_resumed_class(tmp_path):
    """A log of 3 records, the last after a resume (10 steps at 2/s, 10 at 5/s, 20 at 4/s: 5 +
    2 + 5 s): seeds trained in one program share it (counted once); seeds trained alone are
    summed; a class still training is left out; saved classes whose runs are gone stay."""
    from anogan_jax.files import write_jsonl
    from anogan_jax.studies.layout import TRAINING_TIME
    from anogan_jax.studies.training_time import logged_seconds, training_times

    run = dataclasses.replace(TINY.run, steps=40)
    study = dataclasses.replace(
        TINY, classes=(0, 1, 2), methods=TINY.methods[:1], run=run, frontier=(), ensembles=()
    )
    shared = [{"step": 10, "steps_per_s": 2.0}, {"step": 20, "steps_per_s": 5.0},
              {"step": 40, "steps_per_s": 4.0}]  # fmt: skip
    alone = [{"step": 40, "steps_per_s": 8.0}]
    logs = {(0, 0): shared, (0, 1): shared, (1, 0): shared, (1, 1): alone, (2, 0): shared[:2]}
    logs[2, 1] = shared[:2]
    for (cls, seed), records in logs.items():
        write_jsonl(tmp_path / "runs" / f"class_{cls}" / f"seed_{seed}" / "metrics.jsonl", records)
    assert logged_seconds(tmp_path / "runs" / "class_0" / "seed_0" / "metrics.jsonl") == 12.0
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / TRAINING_TIME).write_text(json.dumps({"7": {"gan": 1.0, "encoder": 2.0}}))
    got = training_times(study, tmp_path / "res", tmp_path / "runs")
    assert got == {
        "7": {"gan": 1.0, "encoder": 2.0},
        "0": {"gan": 12.0, "encoder": 0.0},
        "1": {"gan": 17.0, "encoder": 0.0},
    }
    assert json.loads((tmp_path / "res" / TRAINING_TIME).read_text()) == got
    hours = total_hours(tmp_path / "res")
    assert hours["logged_classes"] == 3 and hours["logged_training_hours"] == 32.0 / 3600


def test_the_report_gives_each_class_its_minutes_by_part(tmp_path):
    """Class 3 has run logs (training_time.json); class 4 has only cell timings, one of its
    methods written by a second process that trained nothing (the seed's largest record is
    taken). Scoring sums every seed and method."""
    from anogan_jax.studies.layout import TRAINING_TIME, timing_path
    from anogan_jax.studies.numbers import class_times
    from anogan_jax.studies.reproduce import _time_by_class

    res = tmp_path / "res"
    for cls, seed, method, train, enc, score in [
        (3, 0, "a", 100.0, 50.0, 30.0),
        (3, 1, "a", 100.0, 50.0, 30.0),
        (4, 0, "a", 600.0, 300.0, 60.0),
        (4, 1, "a", 600.0, 300.0, 60.0),
        (4, 0, "b", 0.0, 0.0, 120.0),
        (4, 1, "b", 0.0, 0.0, 120.0),
    ]:
        path = timing_path(res, cls, seed, method)
        path.parent.mkdir(parents=True, exist_ok=True)
        timing = {"train_per_seed": train, "encoder": enc, "score": score}
        path.write_text(json.dumps(timing))
    (res / TRAINING_TIME).write_text(json.dumps({"3": {"gan": 1800.0, "encoder": 600.0}}))
    assert class_times(res) == {
        3: {"gan": 1800.0, "encoder": 600.0, "score": 60.0, "logged": True},
        4: {"gan": 1200.0, "encoder": 600.0, "score": 360.0, "logged": False},
    }
    table = _time_by_class(res)
    assert table[-2:] == ["| 3 | 30 | 10 | 1 | 41 |", "| 4 | 20* | 10* | 6 | 36 |"]
    assert _time_by_class(tmp_path / "empty") == []


def test_classes_trained_as_one_program_share_its_training_time(tmp_path):
    """run_study --program models: every model of every class logs the one program's rates;
    its time is split among the classes, not counted once per class."""
    from anogan_jax.files import write_jsonl
    from anogan_jax.studies import layout
    from anogan_jax.studies.training_time import logged_training_times

    study = dataclasses.replace(
        TINY, classes=(0, 1), methods=TINY.methods[:1], ensembles=(), frontier=()
    )
    shared = [{"step": 3, "steps_per_s": 0.5}]  # 6 s for every model of both classes
    own = [{"step": 3, "steps_per_s": 1.5}]  # 2 s
    for cls in (0, 1):
        for s in study.seeds:
            run = layout.seed_run(tmp_path, cls, s)
            run.mkdir(parents=True)
            write_jsonl(run / "metrics.jsonl", shared)
    times = logged_training_times(study, tmp_path)
    assert times == {"0": {"gan": 3.0, "encoder": 0.0}, "1": {"gan": 3.0, "encoder": 0.0}}
    # Classes trained one after another log their own rates: each keeps its program's time.
    for s in study.seeds:
        write_jsonl(layout.seed_run(tmp_path, 1, s) / "metrics.jsonl", own)
    times = logged_training_times(study, tmp_path)
    assert times == {"0": {"gan": 6.0, "encoder": 0.0}, "1": {"gan": 2.0, "encoder": 0.0}}
