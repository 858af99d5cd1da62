"""GAN sample quality without test labels: FID, KID, IS and Parzen log-likelihood of a run.

Every number here compares generated samples with NORMAL data only: the run's normal
validation split (``data.val``, held out of GAN training) and, for reference, its normal
training images. No test image or test label is touched, so these metrics can choose between
checkpoints, objectives or hyperparameters (label-free model selection) without leaking the
anomaly-detection test set.

Features and class probabilities come from the dataset's feature classifier
(``classifier.py``; train it once with ``anogan-jax train-classifier --dataset <name>``).
The classifier sees images as the dataset gives them, in [-1, 1]; with ``--gcn`` runs the
features are computed on GCN-scaled images it was not trained on (still comparable between
runs with the same preprocessing, not with the others).
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from anogan_jax import gan_metrics
from anogan_jax.files import write_json
from anogan_jax.runs.classifier import load_classifier, make_feature_fn
from anogan_jax.runs.config import RunError
from anogan_jax.runs.fid import check_val, eval_keys, make_sample_fn
from anogan_jax.runs.folders import recording
from anogan_jax.runs.gan import OWNED, load_data
from anogan_jax.runs.identity import check_run_data
from anogan_jax.runs.models import load_gan
from anogan_jax.state import g_variables

# Parzen bandwidths tried (pixel units of images in [-1, 1]); the best on one half of the
# validation data is evaluated on the other half.
PARZEN_BANDWIDTHS = tuple(float(s) for s in np.geomspace(0.05, 2.0, 12))


def _parzen(samples, val, key) -> dict:
    """Bandwidth chosen on one half of ``val`` (seeded split), log-likelihood on the other."""
    perm = np.asarray(jax.random.permutation(key, len(val)))
    half = len(val) // 2
    select, held_out = val[np.sort(perm[:half])], val[np.sort(perm[half:])]
    bandwidth, lls = gan_metrics.select_parzen_bandwidth(samples, select, PARZEN_BANDWIDTHS)
    ll = gan_metrics.parzen_log_likelihood(samples, held_out, bandwidth)
    return {
        "log_likelihood": float(ll),
        "bandwidth": bandwidth,
        "bandwidth_at_grid_edge": bandwidth in (PARZEN_BANDWIDTHS[0], PARZEN_BANDWIDTHS[-1]),
        "selection_log_likelihoods": [float(x) for x in lls],
        "num_select": len(select),
        "num_eval": len(held_out),
    }


def _quality(features, probs, val_features, key) -> dict:
    kid_mean, kid_std = gan_metrics.kid(features, val_features, key=key, subset_size=1000)
    is_mean, is_std = gan_metrics.inception_score(probs, num_splits=min(10, len(probs)))
    return {
        "fid": float(gan_metrics.fid(features, val_features)),
        "kid_mean": float(kid_mean),
        "kid_std": float(kid_std),
        "is_mean": float(is_mean),
        "is_std": float(is_std),
    }


def evaluate_run(
    run,
    *,
    num_samples: int = 5000,
    classifier_root=None,
    data_dir: str | None = None,
    seed: int = 0,
    step: int | None = None,
) -> dict:
    """Sample-quality metrics of a trained run, written to ``<run>/evaluation.json``.

    Draws ``num_samples`` images from G (inference mode, latents from ``fold_in`` of the
    seed), and compares them with the run's normal validation split (all of it; its size is
    reported as ``num_val``): FID, KID (mean, std over 100 subsets of min(1000, N) rows), IS
    (mean, std over 10 splits) of the samples, and the Parzen log-likelihood (nats per image,
    pixel space) of held-out normal images under the samples, its bandwidth chosen on half of
    the validation images and evaluated on the other half. ``reference`` holds FID / KID / IS
    of up to ``num_samples`` normal training images in place of the samples: what a generator
    that reproduced the training data would score against this validation set. For one-class
    runs a good generator's IS is near the reference (about 1, a single class); a higher IS
    means samples the classifier assigns to several classes.

    Args:
      step: a checkpoint step to evaluate (written to ``evaluation_step_<step>.json``);
        None: the latest (written to ``evaluation.json``).
    Returns:
      the report (also written as JSON).
    Raises:
      RunError / CheckpointError: not a run folder; ClassifierError: no trained classifier.
    """
    if num_samples < 2:
        raise RunError(f"num_samples must be >= 2, got {num_samples}")
    run = Path(run)
    config, models, state = load_gan(run, step=step)
    data = load_data(config, data_dir, run=run)
    check_run_data(run, config.dataset, data, f"evaluate of {run}")
    check_val(data.val)
    classifier = load_classifier(config.dataset, classifier_root)
    features_fn = make_feature_fn(classifier)
    keys = eval_keys(seed)
    samples = make_sample_fn(models, config.prior, num_samples, keys["z"])(g_variables(state))
    val_features, _ = features_fn(data.val)
    reference = data.train[:num_samples]
    report = {
        "run": str(run),
        "step": int(state.step),
        "dataset": config.dataset,
        "cls": config.cls,
        "protocol": config.protocol,
        "num_samples": num_samples,
        "num_val": len(data.val),
        "seed": seed,
        "classifier_test_accuracy": classifier.info.get("test_accuracy"),
        **_quality(*features_fn(samples), val_features, keys["kid"]),
        "parzen": _parzen(samples, data.val, keys["parzen_split"]),
        "reference": {
            "num_images": len(reference),
            **_quality(*features_fn(reference), val_features, keys["kid"]),
        },
    }
    name = "evaluation.json" if step is None else f"evaluation_step_{step:07d}.json"
    with recording(run, OWNED):  # the run's file: a train --overwrite removes it
        write_json(run / name, report)
    return report
