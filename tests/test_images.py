"""The image-array convention: uint8 to [-1, 1], and the one check loading and scoring share."""

import numpy as np
import pytest

from anogan_jax import images
from anogan_jax.errors import DataError


def test_to_unit_maps_the_uint8_range_onto_minus_one_to_one():
    pixels = np.array([0, 51, 255, 102], np.uint8).reshape(1, 2, 2, 1)
    out = images.to_unit(pixels, (2, 2, 1))
    assert out.dtype == np.float32 and out.shape == (1, 2, 2, 1)
    np.testing.assert_allclose(out.ravel(), [-1.0, 51 / 127.5 - 1, 1.0, 102 / 127.5 - 1])


def test_check_images_accepts_any_shape_or_names_the_trained_one():
    images.check_images(np.zeros((2, 32, 32, 3), np.float32), "images", shape=None)
    with pytest.raises(DataError, match=r"C = 1 \(grey\) or 3 \(RGB\)"):
        images.check_images(np.zeros((2, 32, 32, 2)), "images", shape=None)
    with pytest.raises(
        DataError,
        match=r"expected \(N, 64, 64, 3\): the run was trained on 64x64 images with 3 channels",
    ):
        images.check_images(np.zeros((2, 28, 28, 1)), "images", shape=(64, 64, 3))


def test_non_finite_and_out_of_range_pixels_are_named():
    x = np.zeros((4, 28, 28, 1), np.float32)
    x[2, 0, 0, 0] = np.nan
    with pytest.raises(DataError, match=r"NaN or infinite pixels in 1 images \(first: \[2\]\)"):
        images.check_images(x, "test images")
    x[2, 0, 0, 0] = 2.0  # finite again, but out of range
    with pytest.raises(DataError, match=r"values in \[0, 2\], outside \(-1.0, 1.0\)"):
        images.check_images(x, "x", value_range=(-1.0, 1.0))


def test_content_ids_are_a_function_of_the_pixels_alone():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-1, 1, (2, 8, 8, 1)).astype(np.float32)
    ids = images.content_ids(np.stack([a, b, a, a.astype(np.float64)]))
    assert ids.dtype == np.int64 and ids.shape == (4,)
    assert ids[0] == ids[2] == ids[3] != ids[1]
    assert 0 <= ids.min() and ids.max() < 2**31
    assert images.content_ids(a[None])[0] == ids[0]  # alone or in a list: the same id
    c = a.copy()
    c[3, 3, 0] = np.nextafter(c[3, 3, 0], np.float32(2))  # one pixel, one ulp
    assert images.content_ids(c[None])[0] != ids[0]
