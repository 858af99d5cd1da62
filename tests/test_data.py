import os

import jax
import numpy as np
import pytest

from anogan_jax import data


def test_digits_split_is_fixed_stratified_and_scaled():
    train, test = data.load_dataset("digits")
    assert len(train.images) + len(test.images) == 1797
    assert train.images.shape[1:] == (28, 28, 1) and train.images.dtype == np.float32
    assert train.images.min() >= -1.0 and train.images.max() <= 1.0
    frac = np.bincount(test.labels) / (np.bincount(test.labels) + np.bincount(train.labels))
    np.testing.assert_allclose(frac, 0.3, atol=0.01)


def test_one_class_normal_counts_on_digits():
    train, test = data.load_dataset("digits")
    d = data.one_class_split(train, test, protocol="one_class_normal", cls=3, val_fraction=0.1)
    n3 = int((train.labels == 3).sum())
    assert len(d.train) + len(d.val) == n3 and len(d.val) == round(0.1 * n3)
    assert len(d.test) == len(test.images)
    np.testing.assert_array_equal(d.test_labels, (test.labels != 3).astype(int))


def test_one_class_anomalous_counts_and_determinism():
    train, test = data.load_dataset("digits")
    kw = dict(protocol="one_class_anomalous", cls=5, val_fraction=0.0)
    a = data.one_class_split(train, test, seed=1, **kw)
    b = data.one_class_split(train, test, seed=1, **kw)
    c = data.one_class_split(train, test, seed=2, **kw)
    all_labels = np.concatenate([train.labels, test.labels])
    n5, n_norm = int((all_labels == 5).sum()), int((all_labels != 5).sum())
    assert int(a.test_labels.sum()) == n5
    assert int((a.test_labels == 0).sum()) == round(0.2 * n_norm)
    assert len(a.train) == n_norm - round(0.2 * n_norm)
    np.testing.assert_array_equal(a.test, b.test)
    assert not np.array_equal(a.test, c.test)


def test_gcn_uses_normal_training_statistics_only():
    train, test = data.load_dataset("digits")
    d = data.one_class_split(train, test, protocol="one_class_normal", cls=0, gcn=True)
    assert d.train.min() == pytest.approx(-1.0) and d.train.max() == pytest.approx(1.0)
    g = data.global_contrast_normalize(train.images[:5])
    np.testing.assert_allclose(np.abs(g.reshape(5, -1)).mean(1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(g.reshape(5, -1).mean(1), 0.0, atol=1e-6)


def test_batch_sampler_is_a_pure_function_of_step_and_reshuffles_epochs():
    images = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1)
    s = data.BatchSampler(images, 3, jax.random.key(0), group=1)
    epoch0 = np.concatenate([s(i)[0].ravel() for i in range(3)])
    epoch1 = np.concatenate([s(i)[0].ravel() for i in range(3, 6)])
    assert len(set(epoch0)) == 9 and len(set(epoch1)) == 9
    assert not np.array_equal(epoch0, epoch1)
    fresh = data.BatchSampler(images, 3, jax.random.key(0), group=1)
    np.testing.assert_array_equal(fresh(4), s(4))
    assert data.BatchSampler(images, 3, jax.random.key(0), group=2)(1).shape == (2, 3, 1, 1, 1)


def test_bad_inputs_have_clear_messages():
    train, test = data.load_dataset("digits")
    with pytest.raises(data.DataError, match="unknown dataset 'cifar'"):
        data.load_dataset("cifar")
    with pytest.raises(data.DataError, match="class 11 has no images"):
        data.one_class_split(train, test, protocol="one_class_normal", cls=11)
    with pytest.raises(data.DataError, match="batch size must be positive, got 0"):
        data.BatchSampler(train.images, 0, jax.random.key(0))
    with pytest.raises(data.DataError, match="larger than the 5"):
        data.BatchSampler(train.images[:5], 8, jax.random.key(0))
    bad = train.images[:4].copy()
    bad[2, 0, 0, 0] = np.nan
    with pytest.raises(
        data.DataError, match=r"NaN or infinite pixels in 1 images \(first: \[2\]\)"
    ):
        data.check_images(bad, "test images")
    with pytest.raises(data.DataError, match="shape"):
        data.check_images(np.zeros((2, 32, 32, 3)), "images")


TFDS_DIR = os.environ.get("TFDS_DATA_DIR")
has_mnist = bool(TFDS_DIR) and os.path.isdir(os.path.join(TFDS_DIR or "", "mnist"))


@pytest.mark.slow  # decodes the MNIST copy: 30-40 s cold
@pytest.mark.skipif(not has_mnist, reason="offline MNIST copy not found (set TFDS_DATA_DIR)")
def test_mnist_protocol_counts():
    train, test = data.load_dataset("mnist")
    assert len(train.images) == 60000 and len(test.images) == 10000
    d = data.one_class_split(train, test, protocol="one_class_normal", cls=0, val_fraction=0.0)
    assert len(d.train) == 5923 and int((d.test_labels == 0).sum()) == 980
    a = data.one_class_split(train, test, protocol="one_class_anomalous", cls=0, val_fraction=0)
    assert int(a.test_labels.sum()) == 6903  # all zeros of train + test


def test_check_images_accepts_any_shape_or_names_the_trained_one():
    data.check_images(np.zeros((2, 32, 32, 3), np.float32), "images", shape=None)
    with pytest.raises(data.DataError, match=r"C = 1 \(grey\) or 3 \(RGB\)"):
        data.check_images(np.zeros((2, 32, 32, 2)), "images", shape=None)
    with pytest.raises(
        data.DataError,
        match=r"expected \(N, 64, 64, 3\): the run was trained on 64x64 images with 3 channels",
    ):
        data.check_images(np.zeros((2, 28, 28, 1)), "images", shape=(64, 64, 3))


def test_npz_of_another_shape_points_to_folder_datasets(tmp_path):
    x, y = np.zeros((2, 32, 32, 3), np.uint8), np.zeros(2, np.int64)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    with pytest.raises(data.DataError, match=r"\(2, 32, 32, 3\); .npz datasets hold .*folder:PATH"):
        data.load_dataset(str(tmp_path / "d.npz"))
    with pytest.raises(data.DataError, match="or folder:PATH"):
        data.load_dataset("cifar")
