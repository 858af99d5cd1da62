"""Pixel-level metrics of anomaly maps against ground-truth masks, as MVTec AD reports them:
pixel AUROC and the area under the per-region-overlap curve (AUPRO, Bergmann et al. 2021).
Host-side numpy, like ``metrics``, whose tie rule (``_sums_at_thresholds``) they share."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from anogan_jax.metrics import _MAX_LISTED, _sums_at_thresholds, auroc, check_binary

# Pixel-level metrics. Regions are the 8-connected components of each image's mask, as in the
# MVTec AD evaluation code (``structure = np.ones((3, 3))``): pixels touching diagonally belong
# to one defect. The 3-D structure below connects nothing across the image axis.
_EIGHT_CONNECTED_PER_IMAGE = np.zeros((3, 3, 3), dtype=int)
_EIGHT_CONNECTED_PER_IMAGE[1] = 1


def _check_maps_and_masks(maps, masks) -> tuple[np.ndarray, np.ndarray]:
    """Validates a (maps, masks) pair.

    Args:
      maps: (N, H, W) array-like of finite anomaly scores per pixel.
      masks: (N, H, W) array-like with values in {0, 1} (bools accepted).

    Returns:
      (maps, masks) as (N, H, W) float64 and (N, H, W) int64 arrays.
    """
    maps, masks = np.asarray(maps, dtype=np.float64), np.asarray(masks)
    if maps.shape != masks.shape:
        raise ValueError(f"maps and masks have different shapes: {maps.shape} != {masks.shape}")
    if maps.ndim != 3 or maps.size == 0:
        raise ValueError(f"maps and masks must be non-empty (N, H, W) arrays, got {maps.shape}")
    bad = np.argwhere(~np.isfinite(maps))
    if bad.size:
        shown = ", ".join(str(tuple(int(i) for i in b)) for b in bad[:_MAX_LISTED])
        more = ", ..." if len(bad) > _MAX_LISTED else ""
        raise ValueError(
            f"maps has {len(bad)} non-finite value(s) (NaN or inf) of {maps.size}, "
            f"at (image, row, col) [{shown}{more}]"
        )
    png = " (masks read from 8-bit PNGs are often 0/255: use masks > 0)"
    masks = check_binary(masks, "masks", png)
    num_anomalous = int(masks.sum())
    if num_anomalous == 0:
        raise ValueError(
            "masks contain no anomalous pixel (value 1): pixel AUROC and AUPRO are undefined "
            "without ground-truth defects"
        )
    if num_anomalous == masks.size:
        raise ValueError(
            "masks contain no normal pixel (value 0): the false-positive rate, pixel AUROC and "
            "AUPRO are undefined"
        )
    return maps, masks


def pixel_auroc(maps, masks) -> float:
    """ROC AUC over all pixels of all images pooled (ties count half, as in ``auroc``).

    Args:
      maps: (N, H, W) finite anomaly maps, higher = more anomalous.
      masks: (N, H, W) ground truth, 1 = anomalous pixel, 0 = normal; both must occur.

    Returns:
      Pixel AUROC in [0, 1]. Every anomalous pixel weighs the same, so large defects dominate.
    """
    maps, masks = _check_maps_and_masks(maps, masks)
    return auroc(masks.ravel(), maps.ravel())


def pro_curve(maps, masks, *, num_thresholds: int | None = None):
    """Per-region-overlap curve (Bergmann et al., MVTec AD, IJCV 2021).

    At threshold t a pixel is predicted anomalous when ``map >= t``. PRO is the mean over all
    ground-truth regions (8-connected components of each mask) of the fraction of the region
    predicted anomalous; FPR is the fraction of normal pixels (outside every mask, pooled over
    all images) predicted anomalous.

    Args:
      maps: (N, H, W) finite anomaly maps, higher = more anomalous.
      masks: (N, H, W) ground truth, 1 = anomalous pixel, 0 = normal; both must occur.
      num_thresholds: None for the exact curve, one point per distinct map value. An int >= 2
        uses that many thresholds evenly spaced from the lowest to the highest map value
        instead (only to reproduce grid-based evaluations; the exact curve costs one sort).

    Returns:
      (fpr, pro, thresholds), each (T + 1,): point k thresholds at thresholds[k] (decreasing,
      thresholds[0] = +inf flags nothing, so the curve starts at (0, 0) and ends at (1, 1)).
    """
    maps, masks = _check_maps_and_masks(maps, masks)
    regions, num_regions = ndimage.label(masks, structure=_EIGHT_CONNECTED_PER_IMAGE)
    regions = regions.ravel()
    sizes = np.bincount(regions)  # sizes[0] counts the normal pixels
    overlap_weight = np.r_[0.0, 1.0 / sizes[1:]][regions]
    scores = maps.ravel()
    if num_thresholds is not None:
        scores = _snap_to_grid(scores, num_thresholds)
    thresholds, (fps, overlap) = _sums_at_thresholds(scores, regions == 0, overlap_weight)
    fpr = np.r_[0.0, fps / sizes[0]]
    # Rounding in the float cumsum can overshoot 1 by a few ulps.
    pro = np.r_[0.0, np.minimum(overlap / num_regions, 1.0)]
    return fpr, pro, np.r_[np.inf, thresholds]


def _snap_to_grid(scores: np.ndarray, num_thresholds: int) -> np.ndarray:
    """Each score lowered to the nearest of ``num_thresholds`` evenly spaced thresholds below it.

    ``snapped >= t`` equals ``score >= t`` for every grid threshold t, so the exact curve of the
    snapped scores is the grid curve.
    """
    if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int | np.integer):
        raise ValueError(f"num_thresholds must be None or an int >= 2, got {num_thresholds!r}")
    if num_thresholds < 2:
        raise ValueError(f"num_thresholds must be None or an int >= 2, got {num_thresholds}")
    grid = np.linspace(scores.min(), scores.max(), num_thresholds)
    return grid[np.searchsorted(grid, scores, side="right") - 1]


def aupro(maps, masks, *, max_fpr: float = 0.3, num_thresholds: int | None = None) -> float:
    """Area under the PRO curve for FPR in [0, max_fpr], divided by max_fpr (MVTec AD's AU-PRO).

    Trapezoid rule over ``pro_curve``, with the point at exactly max_fpr interpolated linearly
    between its neighbours. Unlike pixel AUROC, every defect region weighs the same whatever
    its size, so missing a small defect costs as much as missing a large one.

    Args:
      maps: (N, H, W) finite anomaly maps, higher = more anomalous.
      masks: (N, H, W) ground truth, 1 = anomalous pixel, 0 = normal; both must occur.
      max_fpr: integration limit in (0, 1]; 0.3 as in Bergmann et al. (IJCV 2021).
      num_thresholds: None (exact) or a grid size, see ``pro_curve``.

    Returns:
      Normalised AUPRO in [0, 1]; 1 when every defect pixel outscores every normal pixel.
    """
    if not 0.0 < max_fpr <= 1.0:
        raise ValueError(f"max_fpr must be in (0, 1], got {max_fpr}")
    fpr, pro, _ = pro_curve(maps, masks, num_thresholds=num_thresholds)
    # fpr ends at 1 >= max_fpr, so when max_fpr < 1 a point with fpr > max_fpr exists.
    end = int(np.searchsorted(fpr, max_fpr, side="right"))
    if end < fpr.size:
        x0, x1, y0, y1 = fpr[end - 1], fpr[end], pro[end - 1], pro[end]
        fpr = np.r_[fpr[:end], max_fpr]
        pro = np.r_[pro[:end], y0 + (y1 - y0) * (max_fpr - x0) / (x1 - x0)]
    return float(np.sum(np.diff(fpr) * (pro[1:] + pro[:-1])) / 2 / max_fpr)
