"""GAN metrics of a run: finite, complete, written atomically, reproducible; the training
monitor agrees with the full evaluation and scores the validation set against itself as ~0."""

import json
import math

import pytest

from anogan_jax import gan_metrics
from anogan_jax.runs import manifest, owned
from anogan_jax.runs.classifier import ClassifierError, train_classifier
from anogan_jax.runs.config import RunConfig
from anogan_jax.runs.evaluate import PARZEN_BANDWIDTHS, evaluate_run
from anogan_jax.runs.fid import make_fid_monitor
from anogan_jax.runs.gan import OWNED, load_data, train_gan
from anogan_jax.runs.models import load_gan

METRICS = ("fid", "kid_mean", "kid_std", "is_mean", "is_std")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    # Feature quality does not matter here, only that the metrics are computed through it.
    train_classifier("digits", root / "classifiers", steps=20, batch_size=32, progress=False)
    run = root / "run"
    train_gan(RunConfig(arch="mlp", latent_dim=8, batch_size=16, steps=3), run, progress=False)
    return run, root / "classifiers"


def test_evaluate_run_reports_finite_metrics(trained):
    run, classifiers = trained
    report = evaluate_run(run, num_samples=100, classifier_root=classifiers, seed=0)
    assert json.loads((run / "evaluation.json").read_text()) == report
    num_val = len(load_data(RunConfig.from_json(run / "config.json")).val)
    assert report["num_val"] == num_val and report["step"] == 3
    for part in (report, report["reference"]):
        for key in METRICS:
            assert math.isfinite(part[key]), key
        assert 1.0 <= part["is_mean"] <= 10.0
    assert report["fid"] > 0 and report["kid_std"] >= 0
    parzen = report["parzen"]
    assert math.isfinite(parzen["log_likelihood"]) and parzen["bandwidth"] in PARZEN_BANDWIDTHS
    assert parzen["num_select"] + parzen["num_eval"] == num_val
    assert len(parzen["selection_log_likelihoods"]) == len(PARZEN_BANDWIDTHS)

    again = evaluate_run(run, num_samples=100, classifier_root=classifiers, seed=0, step=3)
    assert (run / "evaluation_step_0000003.json").exists()
    assert {k: again[k] for k in METRICS} == {k: report[k] for k in METRICS}
    # Both reports are the run's: listed in its manifest, so train --overwrite removes them.
    assert "evaluation.json" in manifest.read(run)
    mine, others = owned.plan(run, OWNED)
    assert {"evaluation.json", "evaluation_step_0000003.json"} <= set(mine) and not others


def test_monitor_matches_evaluation_and_validation_against_itself_is_zero(trained):
    run, classifiers = trained
    config, models, state = load_gan(run)
    data = load_data(config)
    monitor = make_fid_monitor(
        config, models, data, classifier_root=classifiers, num_samples=100, seed=0
    )
    assert abs(monitor.score_images(data.val)["fid"]) < 1e-2
    assert abs(float(gan_metrics.fid(monitor.val_features, monitor.val_features))) < 1e-2
    first = monitor(state)
    assert set(first) == {"fid", "kid"} and monitor(state) == first
    # Same seed, same latents, same validation features: the FID of the full evaluation.
    report = evaluate_run(run, num_samples=100, classifier_root=classifiers, seed=0)
    assert first["fid"] == pytest.approx(report["fid"], rel=1e-5)
    assert first["fid"] > 10 * abs(monitor.score_images(data.val)["fid"])


def test_missing_classifier_is_a_clear_error(trained, tmp_path):
    run, _ = trained
    with pytest.raises(ClassifierError, match="train-classifier --dataset digits"):
        evaluate_run(run, num_samples=10, classifier_root=tmp_path)
