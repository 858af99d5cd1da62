"""Datasets as numpy arrays, one-class protocols, and deterministic batching.

Images are float32 (N, 28, 28, 1) scaled to [-1, 1] to match a tanh generator. Anomaly labels:
1 = anomaly, 0 = normal.

Datasets:
  digits         scikit-learn's 8x8 digits (1,797 images), bilinearly resized to 28x28. Embedded,
                 so nothing is downloaded. It has no official split: a fixed, seeded, stratified
                 70/30 split (seed ``DIGITS_SPLIT_SEED``) is used for every run.
  mnist          tfds ``data_source`` (array_record, no TensorFlow needed).
  fashion_mnist  likewise.
  <file>.npz     your own data: arrays x_train, y_train, x_test, y_test; images (N, 28, 28) or
                 (N, 28, 28, 1), uint8 in [0, 255] or float in [-1, 1]; integer labels.

Offline copies are found through ``data_dir`` or the ``TFDS_DATA_DIR`` environment variable.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
from pathlib import Path
from typing import NamedTuple

import jax
import numpy as np

from anogan_jax.errors import UserError
from anogan_jax.files import atomic_write_bytes

DATASETS = ("digits", "mnist", "fashion_mnist")
PROTOCOLS = ("one_class_normal", "one_class_anomalous")
DIGITS_SPLIT_SEED = 0
NUM_CLASSES = 10


class DataError(UserError, ValueError):
    """Bad data or data that cannot be found; the message says what to do."""


class Split(NamedTuple):
    images: np.ndarray  # (N, 28, 28, 1) float32 in [-1, 1]
    labels: np.ndarray  # (N,) int class labels


class OneClassData(NamedTuple):
    """A one-class problem. ``train`` and ``val`` hold normal images only."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    test_labels: np.ndarray  # 1 = anomaly
    test_classes: np.ndarray  # original class of each test image


def _to_unit(images_uint8: np.ndarray) -> np.ndarray:
    return (images_uint8.astype(np.float32) / 127.5 - 1.0).reshape(-1, 28, 28, 1)


@functools.lru_cache(maxsize=2)
def _load_digits() -> tuple[Split, Split]:
    from sklearn.datasets import load_digits

    raw = load_digits()
    small = raw.images.astype(np.float32) / 16.0  # (N, 8, 8) in [0, 1]
    big = jax.image.resize(small, (small.shape[0], 28, 28), "bilinear")
    images = (np.clip(np.asarray(big), 0.0, 1.0) * 2.0 - 1.0).reshape(-1, 28, 28, 1)
    labels = raw.target.astype(np.int32)
    rng = np.random.default_rng(DIGITS_SPLIT_SEED)
    test_idx = []
    for c in range(NUM_CLASSES):
        idx = np.flatnonzero(labels == c)
        test_idx.append(rng.permutation(idx)[: int(round(0.3 * len(idx)))])
    is_test = np.zeros(len(labels), bool)
    is_test[np.concatenate(test_idx)] = True
    return (
        Split(images[~is_test], labels[~is_test]),
        Split(images[is_test], labels[is_test]),
    )


def _missing_data_message(name: str, data_dir: str | None, err: Exception) -> str:
    where = data_dir or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets"
    detail = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
    return (
        f"no prepared copy of dataset {name!r} was found under {where}, and it could not be "
        f"downloaded (this machine may have no network; tfds said: {type(err).__name__}: "
        f"{detail}). Put a prepared tfds copy at <dir>/{name}/<version>/ and pass "
        "--data-dir <dir> or set TFDS_DATA_DIR=<dir>; the dataset 'digits' needs no download."
    )


def _cache_path(name: str, data_dir: str | None) -> Path:
    """Decoded copies of tfds datasets (decoding 70,000 PNGs takes ~30 s on a small CPU)."""
    root = Path(os.environ.get("ANOGAN_JAX_CACHE", Path.home() / ".cache" / "anogan_jax"))
    where = os.path.abspath(data_dir or os.environ.get("TFDS_DATA_DIR") or "default")
    tag = hashlib.sha256(where.encode()).hexdigest()[:12]
    return root / "datasets" / f"{name}-{tag}.npz"


@functools.lru_cache(maxsize=4)
def _load_tfds(name: str, data_dir: str | None) -> tuple[Split, Split]:
    cache = _cache_path(name, data_dir)
    if cache.exists():
        try:
            with np.load(cache) as f:
                return (
                    Split(_to_unit(f["x_train"]), f["y_train"]),
                    Split(_to_unit(f["x_test"]), f["y_test"]),
                )
        except Exception:  # a damaged cache is rebuilt, never trusted
            cache.unlink(missing_ok=True)
    raw = _decode_tfds(name, data_dir)
    try:
        buf = io.BytesIO()
        np.savez(buf, **raw)
        atomic_write_bytes(cache, buf.getvalue())
    except OSError:
        pass  # a read-only home only costs the decoding time next run
    return Split(_to_unit(raw["x_train"]), raw["y_train"]), Split(
        _to_unit(raw["x_test"]), raw["y_test"]
    )


def _decode_tfds(name: str, data_dir: str | None) -> dict[str, np.ndarray]:
    import tensorflow_datasets as tfds

    try:
        source = tfds.data_source(name, data_dir=data_dir, download=False)
    except Exception as err:  # tfds raises several types for "not there"
        try:  # with a network: download and prepare in the random-access format
            builder = tfds.builder(name, data_dir=data_dir, file_format="array_record")
            builder.download_and_prepare()
            source = builder.as_data_source()
        except Exception:
            raise DataError(_missing_data_message(name, data_dir, err)) from err

    out = {}
    for part in ("train", "test"):
        try:
            src = source[part]
        except (KeyError, TypeError) as err:  # a folder without the prepared splits
            raise DataError(_missing_data_message(name, data_dir, err)) from None
        records = [src[i] for i in range(len(src))]
        out[f"x_{part}"] = np.stack([r["image"] for r in records]).astype(np.uint8)
        out[f"y_{part}"] = np.array([r["label"] for r in records], np.int32)
    return out


def _load_npz(path: str) -> tuple[Split, Split]:
    if not os.path.exists(path):
        raise DataError(f"dataset file {path} does not exist")
    try:
        with np.load(path) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as err:
        raise DataError(f"could not read {path} as an .npz file ({err})") from err
    missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in arrays]
    if missing:
        raise DataError(
            f"{path} lacks the arrays {missing}; it needs x_train, y_train, x_test, y_test"
        )
    splits = []
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.ndim == 3:
            x = x[..., None]
        what = f"{part} images in {path}"
        if len(x) == 0:
            raise DataError(f"{path}: the {part} split is empty; give it at least one image")
        if x.dtype == np.uint8:
            check_images(x, what)
            x = _to_unit(x)
        elif np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float32)
            check_images(x, what, value_range=(-1.0, 1.0))
            if x.min() >= 0.0:
                raise DataError(
                    f"{what} are floats in [0, 1]; float images must be scaled to [-1, 1] "
                    "(x * 2 - 1), or give uint8 images in 0..255"
                )
        else:
            raise DataError(
                f"{what} have dtype {x.dtype}; give uint8 (0..255) or float images in [-1, 1]"
            )
        splits.append(Split(x, _check_npz_labels(y, len(x), f"{part} labels in {path}")))
    return splits[0], splits[1]


def _check_npz_labels(y: np.ndarray, num_images: int, what: str) -> np.ndarray:
    """Integer class labels 0..NUM_CLASSES-1, one per image, as int32."""
    if y.ndim == 2 and y.shape[1] == 1:
        raise DataError(f"{what} have shape {y.shape}; give a flat array of shape (N,)")
    if y.ndim != 1 or len(y) != num_images:
        raise DataError(f"{what}: shape {y.shape} for {num_images} images; give shape (N,)")
    if not np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_:
        raise DataError(f"{what} have dtype {y.dtype}; give integer class labels 0-9")
    if y.min() < 0 or y.max() >= NUM_CLASSES:
        raise DataError(f"{what} range over {int(y.min())}..{int(y.max())}; classes must be 0-9")
    return y.astype(np.int32)


def is_dataset_name(name: str) -> bool:
    return name in DATASETS or name.endswith(".npz")


def load_dataset(name: str, data_dir: str | None = None) -> tuple[Split, Split]:
    """Returns (train, test) of a dataset."""
    if name.endswith(".npz"):
        return _load_npz(name)
    if name not in DATASETS:
        raise DataError(
            f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)} or a .npz file"
        )
    if name == "digits":
        return _load_digits()
    return _load_tfds(name, data_dir)


def global_contrast_normalize(images: np.ndarray) -> np.ndarray:
    """Per-image GCN with the L1 norm (Deep SVDD): x <- (x - mean(x)) / mean(|x - mean(x)|)."""
    flat = images.reshape(images.shape[0], -1).astype(np.float64)
    flat = flat - flat.mean(axis=1, keepdims=True)
    scale = np.abs(flat).mean(axis=1, keepdims=True)
    return (flat / np.where(scale > 0, scale, 1.0)).reshape(images.shape)


def _gcn_minmax(normal_train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """GCN then min-max scaling to [-1, 1] with the min/max of the normal training data only
    (test images may fall slightly outside [-1, 1], as in the Deep SVDD protocol)."""
    gcn = [global_contrast_normalize(a) for a in (normal_train, *others)]
    lo, hi = gcn[0].min(), gcn[0].max()
    return [((a - lo) / (hi - lo) * 2.0 - 1.0).astype(np.float32) for a in gcn]


def _check_class(cls: int, labels: np.ndarray, dataset: str) -> None:
    present = sorted(int(c) for c in np.unique(labels))
    if cls not in present:
        raise DataError(
            f"class {cls} has no images in dataset {dataset!r}; choose one of {present}"
        )


def one_class_split(
    train: Split,
    test: Split,
    *,
    protocol: str,
    cls: int,
    seed: int = 0,
    val_fraction: float = 0.1,
    gcn: bool = False,
    dataset: str = "",
) -> OneClassData:
    """Builds a one-class problem.

    one_class_normal: class ``cls`` is normal; train on its training images (minus a seeded
      ``val_fraction`` held out as normal validation data); test on the full test set.
    one_class_anomalous: class ``cls`` is the anomaly; train and test are pooled, the normal
      images split 80/20 (seeded) into train(+val) and test, and every image of ``cls`` is in
      the test set.
    gcn: Deep SVDD preprocessing (L1 GCN, then min-max with normal-training statistics).
    """
    if protocol not in PROTOCOLS:
        raise DataError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"val_fraction must be in [0, 1), got {val_fraction}")
    _check_class(cls, train.labels, dataset)
    rng = np.random.default_rng(np.random.SeedSequence([seed, cls, PROTOCOLS.index(protocol)]))
    if protocol == "one_class_normal":
        normal = train.images[train.labels == cls]
        test_x, test_c = test.images, test.labels
    else:
        images = np.concatenate([train.images, test.images])
        classes = np.concatenate([train.labels, test.labels])
        normal_idx = rng.permutation(np.flatnonzero(classes != cls))
        n_test = int(round(0.2 * len(normal_idx)))
        test_idx = np.sort(np.concatenate([normal_idx[:n_test], np.flatnonzero(classes == cls)]))
        normal = images[np.sort(normal_idx[n_test:])]
        test_x, test_c = images[test_idx], classes[test_idx]
    perm = rng.permutation(len(normal))
    n_val = int(round(val_fraction * len(normal)))
    val, train_x = normal[np.sort(perm[:n_val])], normal[np.sort(perm[n_val:])]
    if gcn:
        train_x, val, test_x = _gcn_minmax(train_x, val, test_x)
    labels = (test_c != cls).astype(np.int32)
    if protocol == "one_class_anomalous":
        labels = (test_c == cls).astype(np.int32)
    return OneClassData(train_x, val, test_x, labels, test_c.astype(np.int32))


def load_one_class(
    dataset: str,
    *,
    protocol: str,
    cls: int,
    seed: int = 0,
    val_fraction: float = 0.1,
    gcn: bool = False,
    data_dir: str | None = None,
) -> OneClassData:
    train, test = load_dataset(dataset, data_dir)
    return one_class_split(
        train,
        test,
        protocol=protocol,
        cls=cls,
        seed=seed,
        val_fraction=val_fraction,
        gcn=gcn,
        dataset=dataset,
    )


def check_images(images: np.ndarray, what: str, *, shape=(28, 28, 1), value_range=None):
    """Raises DataError when images have the wrong shape or non-finite / out-of-range pixels."""
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(shape):
        raise DataError(
            f"{what} have shape {images.shape}; the architectures here need (N, {shape[0]}, "
            f"{shape[1]}, {shape[2]}) images (single-channel 28x28)"
        )
    bad = ~np.isfinite(images.reshape(len(images), -1)).all(axis=1)
    if bad.any():
        first = np.flatnonzero(bad)[:5].tolist()
        raise DataError(
            f"{what} contain NaN or infinite pixels in {int(bad.sum())} images (first: {first})"
        )
    if value_range is not None and len(images):
        lo, hi = float(images.min()), float(images.max())
        if lo < value_range[0] or hi > value_range[1]:
            raise DataError(
                f"{what} have values in [{lo:.3g}, {hi:.3g}], outside {value_range}; "
                "scale images to [-1, 1] for a tanh generator"
            )


class BatchSampler:
    """Deterministic batches from a key: epoch e is the permutation drawn from
    ``fold_in(key, e)``; the last partial batch of each epoch is dropped.

    ``sampler(step)`` returns (group, batch_size, *image_shape) for ``group`` consecutive batch
    slots, a pure function of (key, step), so a resumed run sees exactly the same batches.
    """

    def __init__(self, images: np.ndarray, batch_size: int, key: jax.Array, group: int = 1):
        if batch_size <= 0:
            raise DataError(f"batch size must be positive, got {batch_size}")
        if batch_size > len(images):
            raise DataError(
                f"batch size {batch_size} is larger than the {len(images)} training images; "
                "use a smaller --batch-size"
            )
        self.images, self.batch_size, self.key, self.group = images, batch_size, key, group
        self.per_epoch = len(images) // batch_size

    @functools.lru_cache(maxsize=2)  # noqa: B019 - one sampler per run; caches 2 epochs
    def _perm(self, epoch: int) -> np.ndarray:
        key = jax.random.fold_in(self.key, epoch)
        return np.asarray(jax.random.permutation(key, len(self.images)))

    def indices(self, slot: int) -> np.ndarray:
        epoch, i = divmod(slot, self.per_epoch)
        return self._perm(epoch)[i * self.batch_size : (i + 1) * self.batch_size]

    def __call__(self, step: int) -> np.ndarray:
        slots = range(step * self.group, (step + 1) * self.group)
        return np.stack([self.images[self.indices(s)] for s in slots])
