"""The models axis of scoring: ``score_runs`` scores M runs of several classes and seeds in one
pass, each into its own ordinary score folder equal to that run scored alone, and
``run_study(program="models")`` scores each method over every pending class at once."""

import dataclasses
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from anogan_jax.runs.config import EncoderConfig, RunConfig, RunError, ScoreConfig
from anogan_jax.runs.encoder_run import train_encoders
from anogan_jax.runs.gan import train_gans
from anogan_jax.runs.scoring import score_run, score_runs
from anogan_jax.runs.seeds import SEED_MODE_ENV
from anogan_jax.studies.config import Method, Study
from anogan_jax.studies.layout import load_cells
from anogan_jax.studies.run import run_study

RUN = RunConfig(
    dataset="digits",
    arch="mlp",
    latent_dim=8,
    steps=3,
    batch_size=16,
    checkpoint_every=3,
    sample_every=3,
    log_every=3,
)
ENCODER = EncoderConfig(steps=3, batch_size=16, checkpoint_every=3, log_every=3)
PAIRS = [(c, s) for c in (0, 1, 2) for s in (0, 1)]
# 13 validation images: digits' class 1 holds out 13, classes 0 and 2 only 12, so the six
# models score two item counts and run as two programs. 40 test + 12 or 13 val images in
# batches of 16 end in a partial batch.
SEARCH = ScoreConfig(num_steps=3, batch_size=16, limit=40, val_images=13)
METHODS = {
    "anogan": SEARCH,
    "fanogan": ScoreConfig(
        method="fanogan", kappa="calibrated", batch_size=32, limit=40, val_images=13
    ),
    "hybrid": dataclasses.replace(SEARCH, init="encoder"),
}
TIMING = ("wall_seconds", "images_per_second")
RECORDS = ("score_config.json", "scored.json", "data.json", "scores.csv")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Six GANs (3 classes x 2 seeds) with their encoders."""
    root = tmp_path_factory.mktemp("models")
    folders = [root / f"c{c}_s{s}" for c, s in PAIRS]
    train_gans([dataclasses.replace(RUN, cls=c, seed=s) for c, s in PAIRS], folders, progress=False)
    train_encoders(folders, ENCODER, progress=False)
    return folders


def _untimed(report: dict) -> dict:
    return {k: v for k, v in report.items() if k not in TIMING}


def _score_both(trained, tmp_path, config):
    """(reports, folders) of the six runs scored as one program and each alone."""
    together = [tmp_path / "together" / r.name for r in trained]
    alone = [tmp_path / "alone" / r.name for r in trained]
    reports = score_runs(trained, together, config, progress=False)
    singles = [score_run(r, o, config, progress=False) for r, o in zip(trained, alone, strict=True)]
    return (reports, singles), (together, alone)


def _columns(folder):
    lines = (folder / "scores.csv").read_text().splitlines()
    header, rows = lines[0].split(","), [r.split(",") for r in lines[1:]]
    first = header.index("class") + 1
    index = [r[0] for r in rows]
    return index, {
        h: np.array([float(r[i]) for r in rows]) for i, h in enumerate(header) if i >= first
    }


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(METHODS))
def test_looped_models_score_bit_for_bit_as_each_run_alone(trained, tmp_path, monkeypatch, method):
    monkeypatch.setenv(SEED_MODE_ENV, "loop")
    (reports, singles), (together, alone) = _score_both(trained, tmp_path, METHODS[method])
    assert [r["num_val"] for r in reports] == [12, 12, 13, 13, 12, 12]
    for report, single, a, b in zip(reports, singles, together, alone, strict=True):
        assert _untimed(report) == _untimed(single)
        for name in RECORDS:
            assert (a / name).read_bytes() == (b / name).read_bytes(), (a.name, name)
        metrics = [json.loads((f / "metrics.json").read_text()) for f in (a, b)]
        assert [_untimed(m) for m in metrics] == [_untimed(metrics[1])] * 2
        parts = [sorted((f / "parts").glob("*.npz")) for f in (a, b)]
        size, count = METHODS[method].batch_size, report["num_test"] + report["num_val"]
        assert [p.name for p in parts[0]] == [f"{i:08d}.npz" for i in range(0, count, size)]
        assert [p.name for p in parts[0]] == [p.name for p in parts[1]]
        for x, y in zip(*parts, strict=True):
            with np.load(x) as f, np.load(y) as g:
                assert sorted(f) == sorted(g)
                for k in f:
                    np.testing.assert_array_equal(f[k], g[k], err_msg=f"{x} {k}")
    # The six models are six GANs: their scores differ.
    column = "A_cal" if method == "fanogan" else "A"
    firsts = {float(_columns(f)[1][column][0]) for f in together}
    assert len(firsts) == 6


@pytest.mark.slow
def test_vmapped_models_score_as_each_run_alone_to_rounding(trained, tmp_path):
    """The MLP's models vmap (``seed_mode``): a few Adam steps from one start (and one encoder
    pass) in another summation order agree to float32 rounding, the AUROCs to 3 decimals."""
    for method in ("anogan", "fanogan"):
        out = tmp_path / method
        (reports, singles), (together, alone) = _score_both(trained, out, METHODS[method])
        for report, single, a, b in zip(reports, singles, together, alone, strict=True):
            (ia, ca), (ib, cb) = _columns(a), _columns(b)
            assert ia == ib and ca.keys() == cb.keys()
            for k in ca:
                np.testing.assert_allclose(ca[k], cb[k], rtol=1e-4, atol=1e-5, err_msg=k)
            for k, s in single["scores"].items():
                assert round(report["scores"][k]["auroc"], 3) == round(s["auroc"], 3), k
            assert report["num_test"] == single["num_test"] == 40


@pytest.mark.slow
def test_one_class_anomalous_models_score_their_own_test_sets(tmp_path, monkeypatch):
    """Under one-class-anomalous each class has its own test split and each seed its own
    subsample of it: scored as one program, each model still scores its own items."""
    monkeypatch.setenv(SEED_MODE_ENV, "loop")
    pairs = [(0, 0), (0, 1), (2, 0)]
    run = dataclasses.replace(RUN, protocol="one_class_anomalous", steps=2, checkpoint_every=2)
    folders = [tmp_path / f"c{c}_s{s}" for c, s in pairs]
    train_gans([dataclasses.replace(run, cls=c, seed=s) for c, s in pairs], folders, progress=False)
    config = dataclasses.replace(SEARCH, num_steps=2, limit=30, val_images=8)
    together = [tmp_path / "together" / f.name for f in folders]
    score_runs(folders, together, config, progress=False)
    tests = []
    for f, t in zip(folders, together, strict=True):
        alone = tmp_path / "alone" / f.name
        score_run(f, alone, config, progress=False)
        assert (t / "scores.csv").read_bytes() == (alone / "scores.csv").read_bytes()
        index, _ = _columns(t)
        tests.append(set(index[:30]))
    assert len({frozenset(t) for t in tests}) == 3


@pytest.mark.slow
def test_models_scoring_resumes_from_each_folders_saved_batches(trained, tmp_path, monkeypatch):
    """A models-axis score stopped part way (here: each folder at another batch, as a kill
    between the folders' saves of one batch leaves them) resumes from each folder's own saved
    batches, recomputing only the missing ones, to the same files."""
    monkeypatch.setenv(SEED_MODE_ENV, "loop")
    full, part = tmp_path / "full", tmp_path / "part"
    outs = [full / r.name for r in trained]
    score_runs(trained, outs, SEARCH, progress=False)
    shutil.copytree(full, part)
    resumed = [part / r.name for r in trained]
    kept = {}
    for i, folder in enumerate(resumed):
        parts = sorted((folder / "parts").glob("*.npz"))
        for p in parts[i % 4 :]:
            p.unlink()
        for name in ("scores.csv", "metrics.json"):
            (folder / name).unlink()
        kept.update({p: p.stat().st_mtime_ns for p in parts[: i % 4]})
    with pytest.raises(RunError, match="already holds results"):
        score_runs(trained, resumed, SEARCH, progress=False)
    score_runs(trained, resumed, SEARCH, resume=True, progress=False)
    for a, b in zip(outs, resumed, strict=True):
        assert (a / "scores.csv").read_bytes() == (b / "scores.csv").read_bytes()
    assert kept and kept == {p: p.stat().st_mtime_ns for p in kept}  # loaded, not rewritten
    # A resume with other settings is refused for the folder that differs, before writing.
    with pytest.raises(RunError, match="settings or a model that differ"):
        score_runs(trained, resumed, dataclasses.replace(SEARCH, lr=0.01), resume=True)
    assert (resumed[0] / "scores.csv").read_bytes() == (outs[0] / "scores.csv").read_bytes()
    # A saved batch of other images than the resume scores is refused.
    bad = resumed[3] / "parts" / "00000016.npz"
    with np.load(bad) as f:
        arrays = dict(f)
    arrays["index"] = arrays["index"] + 1
    np.savez(bad, **arrays)
    with pytest.raises(RunError, match="holds other images"):
        score_runs(trained, resumed, SEARCH, resume=True, progress=False)


@pytest.mark.slow
def test_models_scoring_refuses_mixed_settings_and_folders_before_writing(tmp_path):
    folders = [tmp_path / "g0", tmp_path / "g1"]
    tiny = dataclasses.replace(RUN, steps=1, checkpoint_every=1, sample_every=1, log_every=1)
    train_gans([tiny, dataclasses.replace(tiny, cls=1)], folders, progress=False)
    other = tmp_path / "g2"
    shutil.copytree(folders[1], other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "g_lr": 0.5}))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    outs = [tmp_path / "s" / "a", tmp_path / "s" / "b"]
    with pytest.raises(
        RunError,
        match=r"g2 has other settings than .*g0 \(g_lr 0.5, not None\), and only cls and seed",
    ):
        score_runs([folders[0], other], outs, SEARCH, progress=False)
    with pytest.raises(RunError, match="one score folder per run: 2 runs and 1 folders"):
        score_runs(folders, outs[:1], SEARCH, progress=False)
    with pytest.raises(RunError, match="repeat one"):
        score_runs(folders, [outs[0], outs[0]], SEARCH, progress=False)
    with pytest.raises(RunError, match="which this command reads"):
        score_runs(folders, [outs[0], folders[1]], SEARCH, progress=False)
    with pytest.raises(RunError, match="run folder .*missing does not exist"):
        score_runs([folders[0], tmp_path / "missing"], outs, SEARCH, progress=False)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def _study() -> Study:
    return Study(
        name="models_scoring",
        run=RUN,
        classes=(0, 1, 2),
        seeds=(0, 1),
        methods=(
            Method("anogan", dataclasses.replace(SEARCH, val_images=8)),
            Method("fanogan", ScoreConfig(method="fanogan", batch_size=64, val_images=8)),
        ),
        encoder=ENCODER,
    )


@pytest.mark.slow
def test_models_study_scores_every_class_at_once_to_the_per_class_cells(tmp_path, monkeypatch):
    """Looped, a study whose classes are scored as one program per method writes every cell
    byte for byte as the per-class program; each cell's score time is an equal share of its
    method's program, and each model's score folder is an ordinary one."""
    monkeypatch.setenv(SEED_MODE_ENV, "loop")
    study = _study()
    run_study(study, tmp_path / "rc", tmp_path / "runs_c", progress=False, program="class")
    cells = run_study(study, tmp_path / "rm", tmp_path / "runs_m", progress=False, program="models")
    assert len(cells) == 12
    files = [sorted((tmp_path / r / "cells").glob("*.json")) for r in ("rc", "rm")]
    assert [p.name for p in files[0]] == [p.name for p in files[1]]
    for a, b in zip(*files, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    timings = tmp_path / "rm" / "timings"
    for method in ("anogan", "fanogan"):
        shares = {json.loads(p.read_text())["score"] for p in timings.glob(f"*_{method}.json")}
        assert len(shares) == 1 and shares.pop() > 0
    seed_scores = tmp_path / "runs_m" / "class_2" / "scores" / "anogan" / "seed_1"
    for name in (*RECORDS, "metrics.json", "parts/00000000.npz"):
        assert (seed_scores / name).exists(), name
    # Cells lost for one class and one method: only those are scored again, alike.
    for cell in (tmp_path / "rm" / "cells").glob("c1_*_fanogan.json"):
        cell.unlink()
    shutil.rmtree(tmp_path / "runs_m" / "class_1" / "scores" / "fanogan")
    untouched = tmp_path / "runs_m" / "class_0" / "scores" / "fanogan" / "seed_0" / "metrics.json"
    mtime = untouched.stat().st_mtime_ns
    run_study(study, tmp_path / "rm", tmp_path / "runs_m", progress=False, program="models")
    assert untouched.stat().st_mtime_ns == mtime
    for a, b in zip(*files, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert len(load_cells(tmp_path / "rm")) == 12


KILL_SEED = int(os.environ.get("KILL_TEST_SEED", random.SystemRandom().randrange(1 << 30)))
SCORE = """
import json, sys
from anogan_jax.runs.config import ScoreConfig
from anogan_jax.runs.scoring import score_runs
runs, outs, config, resume = json.loads(sys.argv[1])
score_runs(runs, outs, ScoreConfig(**config), resume=resume, progress=False)
"""


@pytest.mark.slow
def test_kill_models_scoring_then_resume_reuses_parts_to_the_same_files(
    trained, tmp_path, monkeypatch
):
    """SIGKILL at a random point after a first batch is saved; the resumed score keeps every
    saved batch and ends with each folder's files as the uninterrupted score's."""
    rng = random.Random(KILL_SEED)
    print(f"kill point drawn with KILL_TEST_SEED={KILL_SEED}")
    config = dataclasses.replace(SEARCH, num_steps=100, limit=320)
    full = [tmp_path / "full" / r.name for r in trained]
    killed = [tmp_path / "killed" / r.name for r in trained]
    env = {**os.environ, "JAX_PLATFORMS": "cpu", SEED_MODE_ENV: "loop"}
    arg = [[str(r) for r in trained], [str(o) for o in killed], dataclasses.asdict(config), False]
    proc = subprocess.Popen([sys.executable, "-c", SCORE, json.dumps(arg)], env=env)
    deadline = time.time() + 240
    while proc.poll() is None and time.time() < deadline:
        if any(next((o / "parts").glob("*.npz"), None) for o in killed if (o / "parts").exists()):
            break
        time.sleep(0.02)
    time.sleep(rng.uniform(0.0, 0.5))
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the score finished before the kill: make it longer"
    saved = {p: p.stat().st_mtime_ns for o in killed for p in (o / "parts").glob("*.npz")}
    assert saved and not any((o / "scores.csv").exists() for o in killed)
    monkeypatch.setenv(SEED_MODE_ENV, "loop")
    score_runs(trained, full, config, progress=False)
    score_runs(trained, killed, config, resume=True, progress=False)
    for a, b in zip(full, killed, strict=True):
        assert (a / "scores.csv").read_bytes() == (b / "scores.csv").read_bytes()
    assert saved == {p: p.stat().st_mtime_ns for p in saved}
