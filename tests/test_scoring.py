"""Scoring through the real CLI entry point on a tiny trained run."""

import csv
import json

import numpy as np
import pytest

from anogan_jax import cli
from anogan_jax.runs.config import RunError

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


def test_nonfinite_scores_are_left_out_per_score(run, tmp_path, capsys):
    """One score NaN on every image, another on one image: the first gets no metrics (None),
    the second is evaluated on its finite images, the rest on all; nothing crashes."""
    from anogan_jax.runs.models import load_gan
    from anogan_jax.runs.score_report import write_report

    _, models, state = load_gan(run)
    rng = np.random.default_rng(0)
    n_test, n_val = 40, 6
    labels = np.r_[np.zeros(20, int), np.ones(20, int), np.zeros(n_val, int)]
    split = np.array(["test"] * n_test + ["val"] * n_val)
    good = labels + rng.normal(0, 0.1, len(labels))  # separates perfectly
    partial = good.copy()
    partial[25] = np.inf
    results = {
        "A": good,
        "partial": partial,
        "dead": np.full(len(labels), np.nan),
        "index": np.arange(len(labels)),
        "z": rng.normal(size=(len(labels), 8)).astype(np.float32),
        "compute_seconds": 1.0,
    }
    images = rng.uniform(-1, 1, (len(labels), 28, 28, 1)).astype(np.float32)
    report = write_report(
        tmp_path, results, images, labels, np.zeros(len(labels), int), split, models, state,
        wall_seconds=1.0,
    )  # fmt: skip
    assert report["scores"]["A"]["auroc"] == 1.0 and report["scores"]["A"]["num_finite"] == 40
    assert report["scores"]["partial"]["auroc"] == 1.0
    assert report["scores"]["partial"]["num_finite"] == 39
    assert report["scores"]["dead"] == {"auroc": None, "auprc": None, "num_finite": 0}
    assert "per score: {'partial': 1, 'dead': 46}" in capsys.readouterr().out
    assert json.loads((tmp_path / "metrics.json").read_text())["scores"]["dead"]["auroc"] is None


def test_calibrated_term_with_zero_mean_is_left_out():
    from anogan_jax.runs.methods import _calibrated

    term = np.float32([0.0, 2.0, 4.0])
    np.testing.assert_allclose(_calibrated(term, np.float32(2.0)), [0.0, 1.0, 2.0])
    # A discriminator whose features collapsed: feat_mse is 0 on every normal image.
    np.testing.assert_array_equal(_calibrated(np.zeros(3, np.float32), np.float32(0.0)), 0.0)


def _score_columns(path):
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    rows = [line.split(",") for line in lines[1:]]
    return {c: [r[i] for r in rows] for i, c in enumerate(header)}


# The conv model (about 30 s) runs with the slow suite; the MLP by default.
@pytest.mark.parametrize("arch", ["mlp", pytest.param("dcgan28_light", marks=pytest.mark.slow)])
def test_scores_are_bit_identical_for_any_batch_size(tmp_path, arch):
    """Every image's scores (written with 9 significant digits, and compared as arrays in
    metrics) are the same whatever --batch-size: batches run in blocks of --micro-batch."""
    run = tmp_path / "run"
    tiny = ["--batch-size", "16", "--latent-dim", "8", "--quiet", "--arch", arch]
    assert cli.main(["train", *tiny, "--steps", "2", "--out", str(run)]) == 0
    methods = {"anogan": ["--method", "anogan"]}
    if arch == "mlp":  # the slow run also covers the encoder's one pass and the hybrid
        enc = ["train-encoder", "--run", str(run), "--steps", "2", "--batch-size", "16"]
        assert cli.main([*enc, "--quiet"]) == 0
        methods["fanogan"] = ["--method", "fanogan"]
        methods["hybrid"] = ["--method", "anogan", "--init", "encoder"]
    for method, options in methods.items():
        base = ["score", "--run", str(run), *options, "--num-steps", "3"]
        base += ["--limit", "21", "--val-images", "2", "--quiet"]
        results = {}
        for bs in (1, 3, 7, 16, 64):
            out = tmp_path / f"{method}_{bs}"
            assert cli.main([*base, "--batch-size", str(bs), "--out", str(out)]) == 0
            results[bs] = _score_columns(out / "scores.csv")
            parts = [np.load(p) for p in sorted((out / "parts").glob("*.npz"))]
            results[bs]["_A"] = np.concatenate([p["A"] for p in parts])
        for bs in (3, 7, 16, 64):
            assert results[bs].keys() == results[1].keys()
            for column, values in results[1].items():
                if column == "_A":
                    assert np.array_equal(results[bs][column], values), (method, bs)
                else:
                    assert results[bs][column] == values, (method, bs, column)


def test_rate_counts_only_the_images_computed_in_this_call(tmp_path):
    """A resumed score loads finished parts: its images/s is the images it computed over the
    time it spent computing them, not all images over that time."""
    from anogan_jax.runs.scoring import run_batches

    images = np.zeros((10, 28, 28, 1), np.float32)
    indices = np.arange(10)

    def batch_fn(imgs, idx):
        return {"A": np.asarray(idx, np.float32)}

    parts = tmp_path / "parts"
    first = run_batches(batch_fn, images, indices, batch_size=4, parts_dir=parts, progress=False)
    assert first["computed_images"] == 10 and list(first["A"]) == list(range(10))
    for p in sorted(parts.glob("*.npz"))[1:]:
        p.unlink()  # a run stopped after its first batch
    again = run_batches(batch_fn, images, indices, batch_size=4, parts_dir=parts, progress=False)
    assert again["computed_images"] == 6  # batches 2 and 3; batch 1 was loaded
    assert list(again["A"]) == list(range(10))
    # A resume whose images are not the saved batch's (another subsample) is refused, also
    # when only one seed's column of a multi-seed batch differs.
    with pytest.raises(RunError, match="holds other images"):
        run_batches(batch_fn, images, indices + 1, batch_size=4, parts_dir=parts, progress=False)
    two = np.stack([indices, indices], axis=1)
    both = tmp_path / "two"
    run_batches(batch_fn, images, two, batch_size=4, parts_dir=both, progress=False)
    two[1, 1] = 99
    with pytest.raises(RunError, match="holds other images"):
        run_batches(batch_fn, images, two, batch_size=4, parts_dir=both, progress=False)


def test_stratified_subsample_has_exactly_limit_items_per_class_by_share():
    from anogan_jax.runs.scoring import stratified_subsample

    # Shares 33.3 / 33.3 / 33.3 of 100 round to 99: the largest remainder (ties: class order)
    # gets one more. 4 classes of 25 at limit 10: 2.5 each rounds (to even) to 8; +2.
    classes = np.repeat([0, 1, 2], 300)
    got = stratified_subsample(classes, 100, seed=0)
    assert len(got) == 100 and np.bincount(classes[got]).tolist() == [34, 33, 33]
    assert np.array_equal(got, np.unique(got))  # sorted, no repeats
    classes = np.repeat([0, 1, 2, 3], 25)
    assert np.bincount(classes[stratified_subsample(classes, 10, 0)]).tolist() == [3, 3, 2, 2]
    # Over: shares 0.75 / 0.75 / 3.5 round to 1 + 1 + 4 = 6 > 5; the smallest remainder (3.5
    # - 4) gives one back. Where the shares add up, the old rule's sample is kept (seeded).
    classes = np.repeat([0, 1, 2], [150, 150, 700])
    assert np.bincount(classes[stratified_subsample(classes, 5, 3)]).tolist() == [1, 1, 3]
    mnist_like = np.repeat(np.arange(10), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    sub = stratified_subsample(mnist_like, 1000, 0)
    assert np.bincount(mnist_like[sub]).tolist() == [98, 114, 103, 101, 98, 89, 96, 103, 97, 101]
    rng = np.random.default_rng(np.random.SeedSequence([0, 7919]))
    first = rng.choice(np.flatnonzero(mnist_like == 0), size=98, replace=False)
    assert np.array_equal(np.sort(first), sub[:98])
    assert len(stratified_subsample(mnist_like, 0, 0)) == 10000
