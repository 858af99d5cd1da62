"""Datasets as arrays: the embedded digits split, and .npz files that do not fit."""

import numpy as np
import pytest

from anogan_jax import datasets
from anogan_jax.errors import DataError


def test_digits_split_is_fixed_stratified_and_scaled():
    train, test = datasets.load_dataset("digits")
    assert len(train.images) + len(test.images) == 1797
    assert train.images.shape[1:] == (28, 28, 1) and train.images.dtype == np.float32
    assert train.images.min() >= -1.0 and train.images.max() <= 1.0
    frac = np.bincount(test.labels) / (np.bincount(test.labels) + np.bincount(train.labels))
    np.testing.assert_allclose(frac, 0.3, atol=0.01)


def test_npz_of_another_shape_points_to_folder_datasets(tmp_path):
    x, y = np.zeros((2, 32, 32, 3), np.uint8), np.zeros(2, np.int64)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    with pytest.raises(DataError, match=r"\(2, 32, 32, 3\); .npz datasets hold .*folder:PATH"):
        datasets.load_dataset(str(tmp_path / "d.npz"))
    with pytest.raises(DataError, match="or folder:PATH"):
        datasets.load_dataset("cifar")
