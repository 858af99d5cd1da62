import numpy as np
import pytest
from scipy import ndimage
from sklearn import metrics as skm

from anogan_jax import pixel_metrics

SEEDS = [0, 1, 2, 3, 4]


# Pixel-level pixel_metrics.


def _hand_example():
    """Two 4x4 images: a 1-pixel defect R1 in image 0, a 3-pixel L-shaped defect R2 in image 1.

    Scores: R1 = 1.0; R2 = 0.9, 0.6, 0.4; of the 28 normal pixels 4 score 0.6, 8 score 0.4 and
    16 score 0.0.
    """
    masks = np.zeros((2, 4, 4), dtype=int)
    masks[0, 0, 0] = 1
    masks[1, 1, 1] = masks[1, 1, 2] = masks[1, 2, 1] = 1
    maps = np.zeros((2, 4, 4))
    maps[0, 0, 0] = 1.0
    maps[1, 1, 1], maps[1, 1, 2], maps[1, 2, 1] = 0.9, 0.6, 0.4
    maps[0, 3, :] = 0.6  # 4 normal pixels
    maps[0, 2, :] = maps[1, 3, :] = 0.4  # 8 normal pixels
    return maps, masks


def test_pixel_metrics_hand_example():
    maps, masks = _hand_example()
    # Pixel AUROC over 4 x 28 (anomalous, normal) pairs: 1.0 and 0.9 beat all 28; 0.6 beats 24
    # and ties 4 (24 + 2); 0.4 beats 16 and ties 8 (16 + 4). (28 + 28 + 26 + 20) / 112 = 51 / 56.
    assert pixel_metrics.pixel_auroc(maps, masks) == pytest.approx(51 / 56, abs=1e-15)
    # PRO curve, one point per distinct score (PRO = mean of R1 and R2 overlaps, FPR = FP / 28):
    #   t = 1.0: R1 1, R2 0   -> PRO 1/2, FPR 0
    #   t = 0.9: R1 1, R2 1/3 -> PRO 2/3, FPR 0
    #   t = 0.6: R1 1, R2 2/3 -> PRO 5/6, FPR 4/28 = 1/7
    #   t = 0.4: R1 1, R2 1   -> PRO 1,   FPR 12/28 = 3/7
    #   t = 0.0:                 PRO 1,   FPR 1
    fpr, pro, thresholds = pixel_metrics.pro_curve(maps, masks)
    np.testing.assert_allclose(fpr, [0, 0, 0, 1 / 7, 3 / 7, 1], rtol=0, atol=1e-15)
    np.testing.assert_allclose(pro, [0, 1 / 2, 2 / 3, 5 / 6, 1, 1], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(thresholds, [np.inf, 1.0, 0.9, 0.6, 0.4, 0.0])
    # Area up to FPR 0.3: [0, 1/7] under the segment 2/3 -> 5/6: (2/3 + 5/6) / 2 / 7 = 3/28.
    # PRO at 0.3 on the segment (1/7, 5/6) -> (3/7, 1), slope 7/12: 5/6 + 7/12 (0.3 - 1/7)
    # = 5/6 + 1.1/12 = 11.1/12. [1/7, 0.3] has width 1.1/7 and mean height 21.1/24: 23.21/168.
    # AUPRO = (18/168 + 23.21/168) / 0.3 = 41.21 / 50.4 = 4121 / 5040.
    assert pixel_metrics.aupro(maps, masks) == pytest.approx(4121 / 5040, abs=1e-14)
    # With max_fpr = 1/7 the limit falls on a curve point: (3/28) / (1/7) = 3/4.
    assert pixel_metrics.aupro(maps, masks, max_fpr=1 / 7) == pytest.approx(0.75, abs=1e-14)
    # The whole curve: 3/28 + (5/6 + 1) / 2 * 2/7 + 4/7 = 3/28 + 11/42 + 4/7 = 79/84.
    assert pixel_metrics.aupro(maps, masks, max_fpr=1.0) == pytest.approx(79 / 84, abs=1e-14)


def test_regions_are_8_connected_per_image():
    # Image 0: a diagonal pair (0, 0)-(1, 1) and a lone pixel (3, 3). With 8-connectivity, as in
    # MVTec's evaluation (structure = np.ones((3, 3))), that is 2 regions; 4-connectivity would
    # make 3. Flagging only (3, 3) gives PRO 1/2 (it would be 1/3 with 3 regions).
    masks = np.zeros((2, 4, 4), dtype=int)
    masks[0, 0, 0] = masks[0, 1, 1] = masks[0, 3, 3] = 1
    maps = np.zeros((2, 4, 4))
    maps[0, 3, 3] = 1.0
    fpr, pro, _ = pixel_metrics.pro_curve(maps, masks)
    assert (fpr[1], pro[1]) == (0.0, 0.5)
    # A defect pixel at (3, 3) of image 1, right behind image 0's lone pixel, is a region of its
    # own: 3 regions, one covered -> PRO 1/3 (merging across images would give 2 regions and 1/4).
    masks[1, 3, 3] = 1
    fpr, pro, _ = pixel_metrics.pro_curve(maps, masks)
    assert pro[1] == pytest.approx(1 / 3, abs=1e-15)


def _brute_force_aupro(maps, masks, max_fpr, thresholds=None):
    """Loops over thresholds and regions (labelled image by image) and clips each segment."""
    regions = []
    for i, mask in enumerate(masks):
        labelled, n = ndimage.label(mask, structure=np.ones((3, 3)))
        regions += [(i, labelled == k) for k in range(1, n + 1)]
    normal = masks == 0
    points = [(0.0, 0.0)]
    for t in sorted(np.unique(maps) if thresholds is None else thresholds, reverse=True):
        flagged = maps >= t
        pro = np.mean([flagged[i][region].mean() for i, region in regions])
        points.append(((flagged & normal).sum() / normal.sum(), pro))
    area = 0.0
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:], strict=True):
        if x0 >= max_fpr:
            break
        if x1 > max_fpr:
            x1, y1 = max_fpr, y0 + (y1 - y0) * (max_fpr - x0) / (x1 - x0)
        area += (x1 - x0) * (y0 + y1) / 2
    return area / max_fpr


_EIGHT = np.zeros((3, 3, 3), dtype=bool)
_EIGHT[1] = True  # dilate within each image only


def _random_maps_and_masks(seed, shape=(3, 12, 12)):
    """Blobs of random sizes as masks; maps on a 0.05 grid (many ties) that favour defects."""
    rng = np.random.default_rng(seed)
    seeds = rng.random(shape) < 0.03
    seeds[0, 0, 0] = True  # at least one defect
    # Half the seeds grow into 3x3 blobs (or larger where blobs touch), half stay single pixels.
    grown = ndimage.binary_dilation(seeds & (rng.random(shape) < 0.5), structure=_EIGHT)
    masks = (seeds | grown).astype(int)
    maps = np.round((rng.random(shape) * 0.6 + 0.4 * masks * rng.random(shape)) * 20) / 20
    maps[-1, -1, -1], maps[-1, -1, -2] = 0.0, 1.0  # span the whole [0, 1]
    return maps, masks


@pytest.mark.parametrize("seed", SEEDS)
def test_pixel_metrics_match_brute_force_and_sklearn(seed):
    maps, masks = _random_maps_and_masks(seed)
    assert np.unique(maps).size < maps.size // 10  # heavily tied
    assert pixel_metrics.pixel_auroc(maps, masks) == pytest.approx(
        skm.roc_auc_score(masks.ravel(), maps.ravel()), abs=1e-12
    )
    for max_fpr in [0.05, 0.3, 1.0]:
        want = _brute_force_aupro(maps, masks, max_fpr)
        assert pixel_metrics.aupro(maps, masks, max_fpr=max_fpr) == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_aupro_on_a_threshold_grid(seed):
    maps, masks = _random_maps_and_masks(seed)
    maps = maps * 20  # integers 0..20: an 21-point grid from 0 to 20 is exact
    assert (maps.min(), maps.max()) == (0.0, 20.0)
    exact = pixel_metrics.aupro(maps, masks)
    assert pixel_metrics.aupro(maps, masks, num_thresholds=21) == pytest.approx(exact, abs=1e-12)
    grid = np.linspace(0.0, 20.0, 4)
    want = _brute_force_aupro(maps, masks, 0.3, thresholds=grid)
    assert pixel_metrics.aupro(maps, masks, num_thresholds=4) == pytest.approx(want, abs=1e-12)


def test_perfect_and_inverted_maps():
    maps, masks = _hand_example()
    perfect = masks + 0.1 * maps  # every defect pixel above every normal pixel
    assert pixel_metrics.pixel_auroc(perfect, masks) == 1.0
    assert pixel_metrics.aupro(perfect, masks) == pytest.approx(1.0, abs=1e-15)
    assert pixel_metrics.pixel_auroc(-perfect, masks) == 0.0
    assert pixel_metrics.aupro(-perfect, masks) == 0.0


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_pixel_metrics_invariant_to_monotone_transforms(seed):
    maps, masks = _random_maps_and_masks(seed)
    ranks = np.searchsorted(np.unique(maps), maps)  # dense ranks: ties stay ties
    for transformed in [np.exp(3 * maps) - 7, ranks, ranks.astype(np.float32) / 1000]:
        assert pixel_metrics.pixel_auroc(transformed, masks) == pytest.approx(
            pixel_metrics.pixel_auroc(maps, masks), abs=1e-12
        )
        assert pixel_metrics.aupro(transformed, masks) == pytest.approx(
            pixel_metrics.aupro(maps, masks), abs=1e-12
        )


def test_region_size_matters_for_aupro_but_not_pixel_auroc():
    # Image 0 holds a 1-pixel defect, image 1 a 2x2 defect; 27 normal pixels score 0. Map A
    # finds the small defect, map B one pixel of the large one: the same scores permuted among
    # defect pixels, so pixel AUROC is equal: (27 + 4 * 13.5) / (5 * 27) = 0.6 for both.
    masks = np.zeros((2, 4, 4), dtype=int)
    masks[0, 0, 0] = 1
    masks[1, 1:3, 1:3] = 1
    found_small, found_large = np.zeros((2, 4, 4)), np.zeros((2, 4, 4))
    found_small[0, 0, 0] = 1.0
    found_large[1, 1, 1] = 1.0
    assert pixel_metrics.pixel_auroc(found_small, masks) == pytest.approx(0.6, abs=1e-15)
    assert pixel_metrics.pixel_auroc(found_large, masks) == pytest.approx(0.6, abs=1e-15)
    # A: PRO (1 + 0) / 2 = 1/2 at FPR 0, then (1, 1); PRO(0.3) = 0.65 -> (0.5 + 0.65) / 2.
    # B: PRO (0 + 1/4) / 2 = 1/8 at FPR 0; PRO(0.3) = 1/8 + 0.3 * 7/8 = 0.3875 -> 0.25625.
    assert pixel_metrics.aupro(found_small, masks) == pytest.approx(0.575, abs=1e-14)
    assert pixel_metrics.aupro(found_large, masks) == pytest.approx(0.25625, abs=1e-14)


def test_pixel_metrics_accept_bool_masks_and_float32_maps():
    maps, masks = _hand_example()
    want = pixel_metrics.aupro(maps, masks)
    assert pixel_metrics.aupro(maps.astype(np.float32), masks.astype(bool)) == pytest.approx(want)
    assert pixel_metrics.pixel_auroc(maps, masks.astype(bool)) == pixel_metrics.pixel_auroc(
        maps, masks
    )


def _with(array, index, value):
    array = np.array(array)
    array[index] = value
    return array


_MAPS, _MASKS = _hand_example()


@pytest.mark.parametrize("fn", [pixel_metrics.pixel_auroc, pixel_metrics.aupro])
@pytest.mark.parametrize(
    "maps, masks, match",
    [
        (_MAPS, _MASKS[:1], r"different shapes: \(2, 4, 4\) != \(1, 4, 4\)"),
        (_MAPS[0], _MASKS[0], r"\(N, H, W\) arrays, got \(4, 4\)"),
        (_MAPS[:0], _MASKS[:0], r"non-empty \(N, H, W\)"),
        (_MAPS, _MASKS * 255, r"0 \(normal\) or 1 \(anomaly\); also found \[255\].*masks > 0"),
        (_MAPS, _with(_MASKS, (1, 0, 0), -1), r"also found \[-1\]"),
        (_MAPS, np.zeros_like(_MASKS), "no anomalous pixel.*undefined"),
        (_MAPS, np.ones_like(_MASKS), "no normal pixel.*undefined"),
        (
            _with(_with(_MAPS, (0, 1, 2), np.nan), (1, 3, 0), -np.inf),
            _MASKS,
            r"2 non-finite value\(s\).*of 32, at \(image, row, col\) \[\(0, 1, 2\), \(1, 3, 0\)\]",
        ),
    ],
)
def test_pixel_metric_errors(fn, maps, masks, match):
    with pytest.raises(ValueError, match=match):
        fn(maps, masks)


def test_aupro_argument_errors():
    maps, masks = _hand_example()
    with pytest.raises(ValueError, match=r"max_fpr must be in \(0, 1\], got 0"):
        pixel_metrics.aupro(maps, masks, max_fpr=0)
    with pytest.raises(ValueError, match=r"max_fpr must be in \(0, 1\], got 1.5"):
        pixel_metrics.aupro(maps, masks, max_fpr=1.5)
    with pytest.raises(ValueError, match="num_thresholds must be None or an int >= 2, got 1"):
        pixel_metrics.aupro(maps, masks, num_thresholds=1)
    with pytest.raises(ValueError, match="num_thresholds must be None or an int >= 2, got 2.5"):
        pixel_metrics.aupro(maps, masks, num_thresholds=2.5)
