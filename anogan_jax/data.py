"""Datasets as numpy arrays, one-class protocols, and deterministic batching.

Images are float32 (N, H, W, C) scaled to [-1, 1] to match a tanh generator: (N, 28, 28, 1) for
the built-in datasets and .npz files, (N, S, S, C) for folder datasets. Anomaly labels:
1 = anomaly, 0 = normal.

Datasets:
  digits         scikit-learn's 8x8 digits (1,797 images), bilinearly resized to 28x28. Embedded,
                 so nothing is downloaded. It has no official split: a fixed, seeded, stratified
                 70/30 split (seed ``DIGITS_SPLIT_SEED``) is used for every run.
  mnist          tfds ``data_source`` (array_record, no TensorFlow needed).
  fashion_mnist  likewise.
  <file>.npz     your own data: arrays x_train, y_train, x_test, y_test; images (N, 28, 28) or
                 (N, 28, 28, 1), uint8 in [0, 255] or float in [-1, 1]; integer labels.
  folder:PATH    your own images in the MVTec AD layout (see ``load_dataset``): PATH/train/good/,
                 PATH/test/good/, PATH/test/<defect type>/, optionally
                 PATH/ground_truth/<defect type>/<stem>_mask.png. Only these are resized
                 (``image_size``) or converted between grayscale and RGB (``channels``).

Offline copies are found through ``data_dir`` or the ``TFDS_DATA_DIR`` environment variable.
Decoded copies of tfds and folder datasets are kept under ``$ANOGAN_JAX_CACHE/datasets``
(default ~/.cache/anogan_jax/datasets).
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import NamedTuple

import jax
import numpy as np

from anogan_jax import image_folder
from anogan_jax.errors import DataError
from anogan_jax.files import dataset_cache_dir, write_npz_quietly

__all__ = ["DataError"]  # raised here, defined with the other user errors

DATASETS = ("digits", "mnist", "fashion_mnist")
FOLDER_PREFIX = "folder:"
PROTOCOLS = ("one_class_normal", "one_class_anomalous")
DIGITS_SPLIT_SEED = 0
NUM_CLASSES = 10


class Split(NamedTuple):
    """One split of a dataset. The optional fields are set by folder datasets only."""

    images: np.ndarray  # (N, H, W, C) float32 in [-1, 1]
    labels: np.ndarray  # (N,) int class labels; folders: 0 = good, 1..K = defect types
    masks: np.ndarray | None = None  # (N, H, W) uint8 0/1 defect masks; None: no ground truth
    names: tuple[str, ...] | None = None  # file of each image, relative to the dataset folder
    class_names: tuple[str, ...] | None = None  # name of each label, ("good", <defects>...)


class OneClassData(NamedTuple):
    """A one-class problem. ``train`` and ``val`` hold normal images only."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    test_labels: np.ndarray  # 1 = anomaly
    test_classes: np.ndarray  # original class of each test image
    test_masks: np.ndarray | None = None  # (N, H, W) uint8 0/1, aligned with ``test``
    test_names: tuple[str, ...] | None = None  # file of each test image (folder datasets)
    class_names: tuple[str, ...] | None = None  # name of each class in ``test_classes``


def _to_unit(images_uint8: np.ndarray, shape=(28, 28, 1)) -> np.ndarray:
    """uint8 pixels -> float32 (N, *shape) in [-1, 1]."""
    return (images_uint8.astype(np.float32) / 127.5 - 1.0).reshape(-1, *shape)


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
    where = os.path.abspath(data_dir or os.environ.get("TFDS_DATA_DIR") or "default")
    tag = hashlib.sha256(where.encode()).hexdigest()[:12]
    return dataset_cache_dir() / f"{name}-{tag}.npz"


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
    write_npz_quietly(cache, raw)
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
        if x.shape[1:] != (28, 28, 1):
            raise DataError(
                f"{what} have shape {x.shape}; .npz datasets hold (N, 28, 28) or "
                "(N, 28, 28, 1) images. For other sizes or colour, use a folder dataset "
                "(folder:PATH in the MVTec AD layout)"
            )
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


# Folder datasets (decoding in ``image_folder``)


def _folder_splits(arrays: dict[str, np.ndarray]) -> tuple[Split, Split]:
    """(train, test) Splits of decoded folder arrays."""
    x_train, x_test = arrays["x_train"], arrays["x_test"]
    if x_train.ndim != 4 or x_train.shape[1:] != x_test.shape[1:]:
        raise ValueError("inconsistent image shapes")
    shape, class_names = x_train.shape[1:], tuple(str(c) for c in arrays["class_names"])
    masks_test = arrays.get("masks_test")
    masks_train = None if masks_test is None else np.zeros(x_train.shape[:3], np.uint8)
    if masks_test is not None and masks_test.shape != x_test.shape[:3]:
        raise ValueError("masks do not match the test images")
    train_names = tuple(str(n) for n in arrays["names_train"])
    test_names = tuple(str(n) for n in arrays["names_test"])
    if len(train_names) != len(x_train) or len(test_names) != len(arrays["y_test"]):
        raise ValueError("names do not match the images")
    labels = np.zeros(len(x_train), np.int32)
    train = Split(_to_unit(x_train, shape), labels, masks_train, train_names, class_names)
    test = Split(_to_unit(x_test, shape), arrays["y_test"], masks_test, test_names, class_names)
    return train, test


def _load_folder(path: str, image_size, channels) -> tuple[Split, Split]:
    return _folder_splits(image_folder.load_folder(path, image_size, channels, _folder_splits))


def load_image_files(paths, *, image_size: int, channels: int) -> np.ndarray:
    """Images from files, prepared as a folder dataset's: float32 (N, S, S, C) in [-1, 1]
    (``image_folder.RESIZE_RULE``). Raises DataError naming a file that cannot be read."""
    if not paths:
        raise DataError("no image files given")
    pixels = image_folder.decode_files(paths, image_size, channels)
    return _to_unit(pixels, pixels.shape[1:])


def _check_native(name: str, image_size, channels) -> None:
    """``name`` is a built-in or .npz dataset; those are 28x28x1, never resized or converted."""
    if not (name.endswith(".npz") or name in DATASETS):
        raise DataError(
            f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}, a .npz file or "
            f"{FOLDER_PREFIX}PATH (a folder in the MVTec AD layout)"
        )
    if image_size not in (None, 28) or channels not in (None, 1):
        raise DataError(
            f"{name} images are 28x28 with 1 channel (image_size={image_size}, "
            f"channels={channels} asked); resizing and channel conversion are only done for "
            "folder datasets (folder:PATH)"
        )


def is_dataset_name(name: str) -> bool:
    """Whether ``name`` names a dataset (it may still fail to load)."""
    is_folder = name.startswith(FOLDER_PREFIX) and len(name) > len(FOLDER_PREFIX)
    return name in DATASETS or name.endswith(".npz") or is_folder


def load_dataset(
    name: str,
    data_dir: str | None = None,
    *,
    image_size: int | None = None,
    channels: int | None = None,
) -> tuple[Split, Split]:
    """Returns (train, test) of a dataset.

    Built-in datasets and .npz files are (N, 28, 28, 1); their ``image_size`` and ``channels``
    must be None or 28 and 1. ``folder:PATH`` reads images in the MVTec AD layout:

      PATH/train/good/*                              normal training images, label 0
      PATH/test/good/*                               normal test images, label 0
      PATH/test/<defect type>/*                      anomalies, labels 1..K by sorted type name
      PATH/ground_truth/<defect type>/<stem>_mask.png  optional masks (non-zero = defect)

    Only .png, .jpg and .jpeg files (any case) directly in these folders are read; hidden
    files, sub-folders, other extensions and ground_truth/good are ignored. When ground_truth/
    exists, every defect type needs its mask folder and every defect image its mask.

    Folder images are decoded with Pillow (EXIF orientation applied; palettes expanded, alpha
    dropped, 16-bit grey scaled to 8 bits), converted to ``channels`` (None: 1 when every
    training image is stored grey, else 3), then resized: the centred square of side
    min(W, H) is resized to ``image_size`` x ``image_size`` (default 64) with bicubic
    filtering (masks: nearest), i.e. shorter side to ``image_size``, then a centred crop.
    Images of mixed sizes are fine. The decoded arrays are cached, keyed on the files' content.

    Args:
      name: digits | mnist | fashion_mnist | <file>.npz | folder:PATH.
      data_dir: where offline tfds copies are (mnist, fashion_mnist).
      image_size: side S of folder images, 8..1024 (None: 64).
      channels: 1 or 3 for folder images (None: as stored).

    Returns:
      (train, test) Splits: images float32 (N, S, S, C) in [-1, 1], labels int32 (N,). Folder
      splits also carry names (paths relative to PATH), class_names ("good", <defects>...)
      and, when PATH/ground_truth exists, masks uint8 (N, S, S) 0/1 (zeros for good images).
    """
    if name.startswith(FOLDER_PREFIX):
        return _load_folder(name[len(FOLDER_PREFIX) :], image_size, channels)
    _check_native(name, image_size, channels)
    if name.endswith(".npz"):
        return _load_npz(name)
    if name == "digits":
        return _load_digits()
    return _load_tfds(name, data_dir)


def dataset_image_shape(
    name: str, image_size: int | None = None, channels: int | None = None
) -> tuple[int, int, int]:
    """(H, W, C) of the images ``load_dataset(name, image_size=, channels=)`` returns, without
    decoding them (a folder with ``channels`` None reads its training images' headers)."""
    if not name.startswith(FOLDER_PREFIX):
        _check_native(name, image_size, channels)
        return (28, 28, 1)
    return image_folder.stored_shape(name[len(FOLDER_PREFIX) :], image_size, channels)


def global_contrast_normalize(images: np.ndarray) -> np.ndarray:
    """Per-image GCN with the L1 norm (Deep SVDD): x <- (x - mean(x)) / mean(|x - mean(x)|)."""
    flat = images.reshape(len(images), int(np.prod(images.shape[1:]))).astype(np.float64)
    flat = flat - flat.mean(axis=1, keepdims=True)
    scale = np.abs(flat).mean(axis=1, keepdims=True)
    return (flat / np.where(scale > 0, scale, 1.0)).reshape(images.shape)


def _gcn_minmax(normal_train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """GCN then min-max scaling to [-1, 1] with the min/max of the normal training data only
    (test images may fall slightly outside [-1, 1], as in the Deep SVDD protocol)."""
    gcn = [global_contrast_normalize(a) for a in (normal_train, *others)]
    lo, hi = gcn[0].min(), gcn[0].max()
    if not hi > lo:
        raise DataError("every normal training image is constant, so GCN leaves nothing; drop gcn")
    return [((a - lo) / (hi - lo) * 2.0 - 1.0).astype(np.float32) for a in gcn]


def _check_folder_protocol(dataset: str, protocol: str, cls: int) -> None:
    if dataset.startswith(FOLDER_PREFIX) and (protocol, cls) != ("one_class_normal", 0):
        raise DataError(
            f"folder datasets have one normal class, 'good' (class 0), and their own test "
            f"split; {dataset} cannot be used with protocol {protocol!r} and class {cls}: use "
            "protocol one_class_normal with class 0"
        )


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

    Folder datasets (``dataset`` "folder:...") allow one_class_normal with class 0 only; their
    test masks and names are carried over (one_class_normal keeps the test split as is).
    """
    if protocol not in PROTOCOLS:
        raise DataError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"val_fraction must be in [0, 1), got {val_fraction}")
    _check_folder_protocol(dataset, protocol, cls)
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
    extra = dict(class_names=test.class_names)
    if protocol == "one_class_anomalous":
        labels = (test_c == cls).astype(np.int32)
    else:
        extra.update(test_masks=test.masks, test_names=test.names)
    return OneClassData(train_x, val, test_x, labels, test_c.astype(np.int32), **extra)


def load_one_class(
    dataset: str,
    *,
    protocol: str,
    cls: int,
    seed: int = 0,
    val_fraction: float = 0.1,
    gcn: bool = False,
    data_dir: str | None = None,
    image_size: int | None = None,
    channels: int | None = None,
) -> OneClassData:
    """``one_class_split`` of ``load_dataset(dataset, data_dir, image_size=, channels=)``."""
    _check_folder_protocol(dataset, protocol, cls)
    train, test = load_dataset(dataset, data_dir, image_size=image_size, channels=channels)
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
    """Raises DataError when images have the wrong shape or non-finite / out-of-range pixels.

    Args:
      images: (N, H, W, C).
      what: names the images in messages ("test images").
      shape: the (H, W, C) the run was trained on; None accepts any (H, W) with C 1 or 3.
      value_range: (lo, hi) the pixels must lie in, or None.
    """
    if images.ndim != 4 or (shape is None and images.shape[-1] not in (1, 3)):
        raise DataError(
            f"{what} have shape {images.shape}; give images of shape (N, H, W, C) with C = 1 "
            "(grey) or 3 (RGB)"
        )
    if shape is not None and tuple(images.shape[1:]) != tuple(shape):
        h, w, c = shape
        raise DataError(
            f"{what} have shape {images.shape}; expected (N, {h}, {w}, {c}): the run was "
            f"trained on {h}x{w} images with {c} channel{'s' if c > 1 else ''}"
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
