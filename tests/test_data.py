import os

import jax
import numpy as np
import pytest

from anogan_jax import data, datasets, images


def test_one_class_normal_counts_on_digits():
    train, test = datasets.load_dataset("digits")
    d = data.one_class_split(train, test, protocol="one_class_normal", cls=3, val_fraction=0.1)
    n3 = int((train.labels == 3).sum())
    assert len(d.train) + len(d.val) == n3 and len(d.val) == round(0.1 * n3)
    assert len(d.test) == len(test.images)
    np.testing.assert_array_equal(d.test_labels, (test.labels != 3).astype(int))


def test_one_class_anomalous_counts_and_determinism():
    train, test = datasets.load_dataset("digits")
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
    train, test = datasets.load_dataset("digits")
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
    train, test = datasets.load_dataset("digits")
    with pytest.raises(data.DataError, match="unknown dataset 'cifar'"):
        datasets.load_dataset("cifar")
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
        images.check_images(bad, "test images")
    with pytest.raises(data.DataError, match="shape"):
        images.check_images(np.zeros((2, 32, 32, 3)), "images")


TFDS_DIR = os.environ.get("TFDS_DATA_DIR")
has_mnist = bool(TFDS_DIR) and os.path.isdir(os.path.join(TFDS_DIR or "", "mnist"))


@pytest.mark.slow  # decodes the MNIST copy: 30-40 s cold
@pytest.mark.skipif(not has_mnist, reason="offline MNIST copy not found (set TFDS_DATA_DIR)")
def test_mnist_protocol_counts():
    train, test = datasets.load_dataset("mnist")
    assert len(train.images) == 60000 and len(test.images) == 10000
    d = data.one_class_split(train, test, protocol="one_class_normal", cls=0, val_fraction=0.0)
    assert len(d.train) == 5923 and int((d.test_labels == 0).sum()) == 980
    a = data.one_class_split(train, test, protocol="one_class_anomalous", cls=0, val_fraction=0)
    assert int(a.test_labels.sum()) == 6903  # all zeros of train + test
