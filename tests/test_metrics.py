import json

import numpy as np
import pytest
from sklearn import metrics as skm

from anogan_jax import metrics


def _tied_data(seed: int, n: int = 300):
    """Labels with ~30% anomalies and scores rounded to one decimal, so most scores tie."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.3).astype(int)
    scores = np.round(rng.normal(size=n) * 0.5 + 0.4 * labels, 1)
    return labels, scores


SEEDS = [0, 1, 2, 3, 4]


@pytest.mark.parametrize("seed", SEEDS)
def test_auroc_and_auprc_match_sklearn_with_ties(seed):
    labels, scores = _tied_data(seed)
    assert np.unique(scores).size < scores.size // 3  # the data really is heavily tied
    np.testing.assert_allclose(
        metrics.auroc(labels, scores), skm.roc_auc_score(labels, scores), rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(
        metrics.auprc(labels, scores),
        skm.average_precision_score(labels, scores),
        rtol=0,
        atol=1e-12,
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_curves_match_sklearn_with_ties(seed):
    labels, scores = _tied_data(seed)
    fpr, tpr, thr = metrics.roc_curve(labels, scores)
    sk_fpr, sk_tpr, sk_thr = skm.roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    np.testing.assert_array_equal(thr, sk_thr)

    precision, recall, pr_thr = metrics.pr_curve(labels, scores)
    sk_p, sk_r, sk_pr_thr = skm.precision_recall_curve(labels, scores)
    np.testing.assert_allclose(precision, sk_p)
    np.testing.assert_allclose(recall, sk_r)
    np.testing.assert_array_equal(pr_thr, sk_pr_thr)


def test_auroc_counts_ties_as_half():
    # Pairs (anomaly, normal): (0.5, 0.5) tie -> 0.5, (0.5, 0.1) -> 1, (0.9, 0.5) -> 1,
    # (0.9, 0.1) -> 1: AUROC = 3.5 / 4.
    assert metrics.auroc([1, 0, 1, 0], [0.5, 0.5, 0.9, 0.1]) == pytest.approx(0.875, abs=1e-15)
    assert metrics.auroc([1, 0, 1, 0], [0.3, 0.3, 0.3, 0.3]) == pytest.approx(0.5, abs=1e-15)


def test_perfect_and_reversed_scores():
    labels = np.array([0, 0, 0, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    assert metrics.auroc(labels, scores) == 1.0
    assert metrics.auprc(labels, scores) == 1.0
    assert metrics.best_f1(labels, scores) == (1.0, 0.8)
    assert metrics.auroc(labels, -scores) == 0.0


def _brute_force_best_f1(labels, scores):
    best_f1, best_t = -1.0, None
    for t in np.unique(scores):
        pred = scores >= t
        tp = np.sum(pred & (labels == 1))
        fp = np.sum(pred & (labels == 0))
        fn = np.sum(~pred & (labels == 1))
        f1 = 2 * tp / (2 * tp + fp + fn)
        if f1 > best_f1 or (f1 == best_f1 and t > best_t):
            best_f1, best_t = f1, t
    return best_f1, best_t


@pytest.mark.parametrize("seed", SEEDS)
def test_best_f1_matches_brute_force(seed):
    labels, scores = _tied_data(seed, n=120)
    f1, threshold = metrics.best_f1(labels, scores)
    want_f1, want_t = _brute_force_best_f1(labels, scores)
    assert f1 == pytest.approx(want_f1, abs=1e-12)
    assert threshold == want_t
    pred = scores >= threshold
    assert skm.f1_score(labels, pred) == pytest.approx(f1, abs=1e-12)


def test_best_f1_known_value():
    # Threshold 0.7 flags {0.9 (anomaly), 0.7 (normal)}: TP 1, FP 1, FN 1 -> F1 0.5.
    # Threshold 0.4 flags three with TP 2, FP 1, FN 0 -> F1 0.8, the best.
    f1, threshold = metrics.best_f1([1, 0, 1, 0], [0.9, 0.7, 0.4, 0.1])
    assert f1 == pytest.approx(0.8, abs=1e-15)
    assert threshold == 0.4


def test_threshold_at_fpr_known_data():
    normal = np.arange(1.0, 101.0)  # 1, 2, ..., 100
    assert metrics.threshold_at_fpr(normal, 0.05) == 95.0  # 96..100 above: 5 %
    assert metrics.threshold_at_fpr(normal, 0.29) == 71.0  # 0.29 * 100 must not round to 28
    assert metrics.threshold_at_fpr(normal, 0.0) == 100.0
    assert metrics.threshold_at_fpr(normal, 0.055) == 95.0  # floor(5.5) = 5 allowed
    assert metrics.threshold_at_fpr(normal, 1.0) == 1.0
    # Order of the input does not matter.
    shuffled = np.random.default_rng(0).permutation(normal)
    assert metrics.threshold_at_fpr(shuffled, 0.05) == 95.0


def test_threshold_at_fpr_with_ties_never_exceeds_target():
    # Ten scores tied at the top: allowing 5 % of 100 cannot cut inside the tie.
    normal = np.r_[np.arange(90.0), np.full(10, 200.0)]
    t = metrics.threshold_at_fpr(normal, 0.05)
    assert t == 200.0
    assert np.mean(normal > t) == 0.0
    rng = np.random.default_rng(1)
    normal = np.round(rng.normal(size=500), 1)
    for target in [0.01, 0.05, 0.1, 0.3]:
        t = metrics.threshold_at_fpr(normal, target)
        assert np.mean(normal > t) <= target
        smaller = normal[normal < t]
        if smaller.size:  # the next lower observed score would break the budget
            assert np.mean(normal > smaller.max()) > target


def test_summarize_values_and_json():
    labels = np.array([0, 0, 0, 0, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.6, 0.5, 0.9])
    val = np.arange(20) / 20  # 0.00 .. 0.95
    out = metrics.summarize(labels, scores, normal_val_scores=val, target_fpr=0.1)
    assert out["auroc"] == pytest.approx(skm.roc_auc_score(labels, scores))
    assert out["auprc"] == pytest.approx(skm.average_precision_score(labels, scores))
    assert (out["best_f1"], out["best_f1_threshold"]) == metrics.best_f1(labels, scores)
    assert out["threshold"] == 0.85  # 2 of 20 validation scores above it
    assert out["test_fpr"] == 0.0
    assert out["test_tpr"] == 0.5  # only 0.9 > 0.85
    assert out["target_fpr"] == 0.1
    assert all(type(v) is float for v in out.values())
    assert json.loads(json.dumps(out)) == out
    assert set(metrics.summarize(labels, scores)) == {
        "auroc",
        "auprc",
        "best_f1",
        "best_f1_threshold",
    }


@pytest.mark.parametrize(
    "labels, scores, match",
    [
        ([], [], "empty"),
        ([0, 1, 1], [0.1, 0.2], "different lengths: 3 != 2"),
        ([0, 1, 2], [0.1, 0.2, 0.3], r"0 \(normal\) or 1 \(anomaly\); also found \[2\]"),
        ([0, 1, -1], [0.1, 0.2, 0.3], r"also found \[-1\]"),
        ([0, 0, 0], [0.1, 0.2, 0.3], "no anomalies.*only one class present.*AUROC"),
        ([1, 1, 1], [0.1, 0.2, 0.3], "no normal samples.*only one class present.*AUROC"),
        ([0, 1, 1], [0.1, np.nan, np.inf], r"2 non-finite value\(s\).*indices \[1, 2\]"),
        ([[0, 1]], [[0.1, 0.2]], "labels must be 1-D"),
    ],
)
def test_auroc_errors(labels, scores, match):
    with pytest.raises(ValueError, match=match):
        metrics.auroc(labels, scores)


def test_non_finite_message_lists_first_indices_only():
    scores = np.zeros(20)
    scores[[2, 4, 6, 8, 10, 12, 14]] = np.nan
    labels = np.arange(20) % 2
    with pytest.raises(
        ValueError, match=r"7 non-finite.*of 20, at indices \[2, 4, 6, 8, 10, \.\.\.\]"
    ):
        metrics.summarize(labels, scores)


def test_pr_and_f1_need_anomalies_but_not_normals():
    precision, recall, _ = metrics.pr_curve([1, 1], [0.2, 0.4])
    np.testing.assert_array_equal(precision, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(recall, [1.0, 0.5, 0.0])
    assert metrics.best_f1([1, 1], [0.2, 0.4]) == (1.0, 0.2)
    with pytest.raises(ValueError, match="no anomalies"):
        metrics.auprc([0, 0], [0.2, 0.4])
    with pytest.raises(ValueError, match="no anomalies"):
        metrics.best_f1([0, 0], [0.2, 0.4])


def test_threshold_at_fpr_errors():
    with pytest.raises(ValueError, match="normal_scores is empty"):
        metrics.threshold_at_fpr([], 0.05)
    with pytest.raises(ValueError, match=r"target_fpr must be in \[0, 1\], got 1.5"):
        metrics.threshold_at_fpr([0.1, 0.2], 1.5)
    with pytest.raises(ValueError, match=r"normal_scores has 1 non-finite.*indices \[0\]"):
        metrics.threshold_at_fpr([np.inf, 0.2], 0.05)


def _brute_force_delong(labels, scores):
    """The DeLong components from the pair matrix itself (O(m n)), for checking the ranks."""
    aurocs, v_pos, v_neg = [], [], []
    for row in np.atleast_2d(scores):
        p, q = row[labels == 1][:, None], row[labels == 0][None, :]
        h = (p > q) + 0.5 * (p == q)
        aurocs.append(h.mean())
        v_pos.append(h.mean(axis=1))
        v_neg.append(h.mean(axis=0))
    m, n = len(v_pos[0]), len(v_neg[0])
    return np.array(aurocs), np.atleast_2d(np.cov(v_pos)) / m + np.atleast_2d(np.cov(v_neg)) / n


@pytest.mark.parametrize("seed", [0, 1])
def test_auroc_covariance_equals_the_pair_matrix_with_ties(seed):
    rng = np.random.default_rng(seed)
    labels = (rng.random(60) < 0.3).astype(int)
    scores = np.round(rng.normal(labels, 1.0, (3, 60)), 1)  # rounded: many ties
    aurocs, cov = metrics.auroc_covariance(labels, scores)
    want_a, want_cov = _brute_force_delong(labels, scores)
    np.testing.assert_allclose(aurocs, want_a, rtol=0, atol=1e-12)
    np.testing.assert_allclose(cov, want_cov, rtol=1e-10, atol=1e-15)
    assert aurocs[0] == pytest.approx(metrics.auroc(labels, scores[0]), abs=1e-12)
    assert cov.shape == (3, 3) and np.all(np.linalg.eigvalsh(cov) > -1e-15)


def test_auroc_variance_matches_the_spread_over_fresh_samples():
    """DeLong's SE of one sample's AUROC against the std of AUROC over 400 fresh samples from
    the same distribution (binormal, true AUROC 0.76)."""
    rng = np.random.default_rng(0)

    def sample():
        labels = np.r_[np.ones(60, int), np.zeros(140, int)]
        return labels, rng.normal(labels * 1.0, 1.0)

    spread = np.std([metrics.auroc(*sample()) for _ in range(400)])
    estimates = [np.sqrt(metrics.auroc_covariance(*sample())[1][0, 0]) for _ in range(50)]
    assert np.mean(estimates) == pytest.approx(spread, rel=0.12)


def test_auroc_covariance_of_a_perfect_ranking_is_zero_and_errors_are_clear():
    aurocs, cov = metrics.auroc_covariance([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert aurocs.tolist() == [1.0] and cov.tolist() == [[0.0]]
    with pytest.raises(ValueError, match="two anomalies and two normals, got 1 and 3"):
        metrics.auroc_covariance([0, 0, 0, 1], [0.1, 0.2, 0.3, 0.9])
