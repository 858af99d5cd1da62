"""Detection metrics on the host: ROC / PR curves, AUROC, AUPRC, F1 and FPR-based thresholds
(pixel-level metrics of anomaly maps: ``pixel_metrics``).

Conventions shared by every function here:

* ``labels`` are 1 for an anomaly and 0 for a normal sample (bools are accepted).
* ``scores`` are anomaly scores: higher means more anomalous.
* Inputs are 1-D array-likes of equal length; scores must be finite.

The curves follow scikit-learn's conventions (``roc_curve(drop_intermediate=False)`` and
``precision_recall_curve``), and ``auroc`` / ``auprc`` equal ``roc_auc_score`` /
``average_precision_score``. In particular tied scores form one operating point, so a tie
between an anomaly and a normal sample counts as half a correctly ordered pair in AUROC.
"""

from __future__ import annotations

import math

import numpy as np

_MAX_LISTED = 5


def _check_scores(scores, name: str = "scores") -> np.ndarray:
    """Returns ``scores`` as a 1-D float64 array after checking it is non-empty and finite."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {scores.shape}")
    if scores.size == 0:
        raise ValueError(f"{name} is empty")
    bad = np.flatnonzero(~np.isfinite(scores))
    if bad.size:
        shown = ", ".join(str(i) for i in bad[:_MAX_LISTED])
        more = ", ..." if bad.size > _MAX_LISTED else ""
        raise ValueError(
            f"{name} has {bad.size} non-finite value(s) (NaN or inf) of {scores.size}, "
            f"at indices [{shown}{more}]"
        )
    return scores


def _check_inputs(labels, scores, *, need_normals: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Validates a (labels, scores) pair.

    Args:
      labels: (N,) array-like with values in {0, 1}.
      scores: (N,) array-like of finite anomaly scores.
      need_normals: also require at least one normal sample (ROC needs both classes; PR and F1
        only need anomalies).

    Returns:
      (labels, scores) as (N,) int64 and (N,) float64 arrays.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    if labels.size == 0:
        raise ValueError("labels is empty")
    scores = _check_scores(scores)
    if labels.size != scores.size:
        raise ValueError(
            f"labels and scores have different lengths: {labels.size} != {scores.size}"
        )
    labels = check_binary(labels, "labels")
    num_pos = int(labels.sum())
    if num_pos == 0:
        raise ValueError(
            "labels contain no anomalies (label 1): only one class present, "
            "so AUROC, precision/recall and F1 are undefined"
        )
    if need_normals and num_pos == labels.size:
        raise ValueError(
            "labels contain no normal samples (label 0): only one class present, "
            "so the false-positive rate and AUROC are undefined"
        )
    return labels, scores


def check_binary(values: np.ndarray, what: str, hint: str = "") -> np.ndarray:
    """``values`` as int64 when every one is 0 (normal) or 1 (anomaly); else ValueError naming
    ``what``, a few of the other values found and ``hint``."""
    is_binary = (values == 0) | (values == 1)
    if not np.all(is_binary):
        found = np.unique(values[~is_binary])[:_MAX_LISTED].tolist()
        raise ValueError(f"{what} must be 0 (normal) or 1 (anomaly); also found {found}{hint}")
    return values.astype(np.int64)


def _counts_at_thresholds(labels: np.ndarray, scores: np.ndarray):
    """True/false positive counts when predicting anomaly for ``score >= t``.

    Args:
      labels: (N,) int labels in {0, 1}.
      scores: (N,) float scores.

    Returns:
      (tps, fps, thresholds), each (T,), thresholds the T distinct scores in decreasing order.
    """
    thresholds, (tps, fps) = _sums_at_thresholds(scores, labels, 1 - labels)
    return tps, fps, thresholds


def _sums_at_thresholds(scores: np.ndarray, *weights: np.ndarray):
    """Sums of per-sample weights over the samples with ``score >= t``, for each distinct t.

    Args:
      scores: (N,) float scores.
      *weights: (N,) arrays, e.g. labels, or 1 / region size for the PRO curve.

    Returns:
      (thresholds, sums): thresholds the T distinct scores in decreasing order, and sums a list
      with one (T,) cumulative sum per weight array.
    """
    order = np.argsort(-scores, kind="mergesort")
    scores = scores[order]
    # The last index of each run of equal scores: ties are one operating point.
    last = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    return scores[last], [np.cumsum(w[order])[last] for w in weights]


def roc_curve(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve with one point per distinct score, plus the (0, 0) start.

    Args:
      labels: (N,) 1 = anomaly, 0 = normal; both classes must be present.
      scores: (N,) finite anomaly scores, higher = more anomalous.

    Returns:
      (fpr, tpr, thresholds), each (T + 1,) for T distinct scores. Point k predicts anomaly for
      ``score >= thresholds[k]``; thresholds decrease and thresholds[0] = +inf (nothing flagged).
    """
    labels, scores = _check_inputs(labels, scores)
    tps, fps, thresholds = _counts_at_thresholds(labels, scores)
    fpr = np.r_[0.0, fps / fps[-1]]
    tpr = np.r_[0.0, tps / tps[-1]]
    return fpr, tpr, np.r_[np.inf, thresholds]


def auroc(labels, scores) -> float:
    """Area under the ROC curve (trapezoidal, so ties count as half; equals roc_auc_score).

    Args:
      labels: (N,) 1 = anomaly, 0 = normal; both classes must be present.
      scores: (N,) finite anomaly scores.

    Returns:
      AUROC in [0, 1]: P(score_anomaly > score_normal) + 0.5 P(tie).
    """
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2)


def _midranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x`` with ties given the mean of the ranks they span."""
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    # Start and end (exclusive) of each run of equal values, in sorted order.
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]
    ranks = np.empty(len(x))
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def auroc_covariance(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's estimate of the AUROCs of K scorings of the SAME images and their covariance
    (DeLong, DeLong & Clarke-Pearson 1988, computed with midranks as in Sun & Xu 2014): the
    sampling error from which images were scored, for one score vector or several correlated
    ones (for example S seeds' scores of one test subsample).

    Args:
      labels: (N,) 1 = anomaly, 0 = normal; at least two of each.
      scores: (K, N) or (N,) finite anomaly scores.

    Returns:
      (aurocs (K,), covariance (K, K)); the variance of any weighted mean ``w @ aurocs`` is
      ``w @ covariance @ w``.
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    for row in scores:
        labels, _ = _check_inputs(labels, row)
    pos, neg = scores[:, labels == 1], scores[:, labels == 0]
    m, n = pos.shape[1], neg.shape[1]
    if m < 2 or n < 2:
        raise ValueError(f"DeLong's variance needs two anomalies and two normals, got {m} and {n}")
    # Per anomaly: the share of normals it outranks (ties half); per normal: the share of
    # anomalies that outrank it.
    v_pos, v_neg = np.empty((len(scores), m)), np.empty((len(scores), n))
    for k in range(len(scores)):
        both = _midranks(np.concatenate([pos[k], neg[k]]))
        v_pos[k] = (both[:m] - _midranks(pos[k])) / n
        v_neg[k] = 1.0 - (both[m:] - _midranks(neg[k])) / m
    aurocs = v_pos.mean(axis=1)
    cov = np.atleast_2d(np.cov(v_pos)) / m + np.atleast_2d(np.cov(v_neg)) / n
    return aurocs, cov


def pr_curve(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision-recall curve, in sklearn's ``precision_recall_curve`` layout.

    Args:
      labels: (N,) 1 = anomaly, 0 = normal; at least one anomaly.
      scores: (N,) finite anomaly scores.

    Returns:
      (precision, recall, thresholds) with shapes (T + 1,), (T + 1,), (T,) for T distinct scores.
      Thresholds increase; entry k < T predicts anomaly for ``score >= thresholds[k]``. The final
      point (precision 1, recall 0) has no threshold.
    """
    labels, scores = _check_inputs(labels, scores, need_normals=False)
    tps, fps, thresholds = _counts_at_thresholds(labels, scores)
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], thresholds[::-1].copy()


def auprc(labels, scores) -> float:
    """Average precision: sum over thresholds of (R_k - R_{k-1}) P_k (= average_precision_score).

    This step-wise sum, not the trapezoid, is used because linear interpolation between PR
    points is optimistic.

    Args:
      labels: (N,) 1 = anomaly, 0 = normal; at least one anomaly.
      scores: (N,) finite anomaly scores.

    Returns:
      Average precision in [0, 1].
    """
    precision, recall, _ = pr_curve(labels, scores)
    return float(-np.sum(np.diff(recall) * precision[:-1]))


def best_f1(labels, scores) -> tuple[float, float]:
    """Highest F1 over all thresholds, predicting anomaly for ``score >= threshold``.

    Args:
      labels: (N,) 1 = anomaly, 0 = normal; at least one anomaly.
      scores: (N,) finite anomaly scores.

    Returns:
      (f1, threshold): the threshold is one of the scores; among equally good thresholds the
      highest (most conservative) is returned.
    """
    labels, scores = _check_inputs(labels, scores, need_normals=False)
    tps, fps, thresholds = _counts_at_thresholds(labels, scores)
    # F1 = 2 TP / (2 TP + FP + FN) and TP + FN is the number of anomalies.
    f1 = 2 * tps / (tps + fps + tps[-1])
    best = int(np.argmax(f1))
    return float(f1[best]), float(thresholds[best])


def threshold_at_fpr(normal_scores, target_fpr: float) -> float:
    """Threshold calibrated on normal (validation) scores only, for a target false-positive rate.

    Rule: with n normal scores and k = floor(target_fpr * n), the threshold is the smallest
    normal score t such that at most k normal scores are strictly greater than t. Predict
    anomaly for ``score > t``; then the FPR on these normal scores is at most target_fpr (it is
    lower when scores tie at t). target_fpr = 0 gives the maximum normal score.

    Args:
      normal_scores: (n,) finite scores of normal samples.
      target_fpr: allowed fraction of normal samples flagged, in [0, 1].

    Returns:
      The threshold t, one of ``normal_scores``.
    """
    scores = np.sort(_check_scores(normal_scores, "normal_scores"))
    if not 0.0 <= target_fpr <= 1.0:
        raise ValueError(f"target_fpr must be in [0, 1], got {target_fpr}")
    n = scores.size
    # The epsilon absorbs products like 0.29 * 100 = 28.999999999999996.
    k = min(math.floor(target_fpr * n + 1e-9), n - 1)
    return float(scores[n - 1 - k])


def summarize(labels, scores, *, normal_val_scores=None, target_fpr: float = 0.05) -> dict:
    """All detection metrics for one test set, as plain floats (JSON-ready).

    Args:
      labels: (N,) test labels, 1 = anomaly, 0 = normal; both classes present.
      scores: (N,) finite test anomaly scores.
      normal_val_scores: optional (n,) scores of held-out normal samples, used to pick a
        threshold with ``threshold_at_fpr`` without looking at test labels.
      target_fpr: false-positive rate targeted on ``normal_val_scores``.

    Returns:
      dict with auroc, auprc, best_f1, best_f1_threshold, and when ``normal_val_scores`` is given
      also target_fpr, threshold, val_fpr (the share of ``normal_val_scores`` above it: at
      most target_fpr), test_fpr, test_tpr (test rates for ``score > threshold``).
    """
    labels, scores = _check_inputs(labels, scores)
    f1, f1_threshold = best_f1(labels, scores)
    out = {
        "auroc": auroc(labels, scores),
        "auprc": auprc(labels, scores),
        "best_f1": f1,
        "best_f1_threshold": f1_threshold,
    }
    if normal_val_scores is not None:
        threshold = threshold_at_fpr(normal_val_scores, target_fpr)
        flagged = scores > threshold
        out.update(
            target_fpr=float(target_fpr),
            threshold=threshold,
            val_fpr=float(np.mean(np.asarray(normal_val_scores) > threshold)),
            test_fpr=float(flagged[labels == 0].mean()),
            test_tpr=float(flagged[labels == 1].mean()),
        )
    return out
