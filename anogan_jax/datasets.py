"""Datasets as numpy arrays: the built-in ones, your own .npz files and image folders.

Images are float32 (N, H, W, C) scaled to [-1, 1] to match a tanh generator: (N, 28, 28, 1) for
the built-in datasets and .npz files, (N, S, S, C) for folder datasets (``images``). Labels
are the dataset's classes; ``data`` turns them into one-class problems.

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
(default ~/.cache/anogan_jax/datasets), keyed by the content of the files they were decoded from.
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
from anogan_jax.files import cached_arrays, dataset_cache_dir, keyed_cached_arrays
from anogan_jax.images import NATIVE_SHAPE, check_images, to_unit

DATASETS = ("digits", "mnist", "fashion_mnist")
FOLDER_PREFIX = "folder:"
DIGITS_SPLIT_SEED = 0
NUM_CLASSES = 10


def folder_path(name: str) -> str | None:
    """The PATH of a ``folder:PATH`` dataset name; None for any other name."""
    return name[len(FOLDER_PREFIX) :] if name.startswith(FOLDER_PREFIX) else None


def _folder_to_load(name: str) -> str:
    """``folder_path`` of a name about to be read; an empty PATH is refused (it would read as
    the current folder)."""
    path = folder_path(name)
    if not path.strip():
        raise DataError(
            f"--dataset {name!r} names no folder; give folder:PATH (folder:. for the current "
            "folder)"
        )
    return path


def is_folder(name: str) -> bool:
    """Whether ``name`` names a folder dataset (``folder:PATH``)."""
    return folder_path(name) is not None


class Split(NamedTuple):
    """One split of a dataset. The optional fields are set by folder datasets only."""

    images: np.ndarray  # (N, H, W, C) float32 in [-1, 1]
    labels: np.ndarray  # (N,) int class labels; folders: 0 = good, 1..K = defect types
    masks: np.ndarray | None = None  # (N, H, W) uint8 0/1 defect masks; None: no ground truth
    names: tuple[str, ...] | None = None  # file of each image, relative to the dataset folder
    class_names: tuple[str, ...] | None = None  # name of each label, ("good", <defects>...)


@functools.lru_cache(maxsize=2)
def _load_digits() -> tuple[Split, Split]:
    from sklearn.datasets import load_digits

    raw = load_digits()
    small = raw.images.astype(np.float32) / 16.0  # (N, 8, 8) in [0, 1]
    big = jax.image.resize(small, (small.shape[0], *NATIVE_SHAPE[:2]), "bilinear")
    images = (np.clip(np.asarray(big), 0.0, 1.0) * 2.0 - 1.0).reshape(-1, *NATIVE_SHAPE)
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


TFDS_RULE_VERSION = 1  # part of the tfds cache key: bump when decoding changes


def _tfds_copy(name: str, data_dir: str | None) -> Path:
    """The folder tfds reads a prepared ``name`` from: ``<data dir>/<name>/``."""
    where = data_dir or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets"
    return Path(where).expanduser() / name


def tfds_cache_key(name: str, data_dir: str | None = None) -> str | None:
    """sha256 over every file of the prepared tfds copy of ``name`` (its relative path, size
    and bytes: the records and dataset_info.json) and ``TFDS_RULE_VERSION``, so a copy
    replaced at the same path is decoded again; None when there is no copy there."""
    root = _tfds_copy(name, data_dir)
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
    if not files:
        return None
    h = hashlib.sha256(f"tfds v{TFDS_RULE_VERSION} {name}".encode())
    for p in files:
        data = p.read_bytes()
        h.update(f"\0{p.relative_to(root).as_posix()}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def tfds_cache_path(name: str, data_dir: str | None = None, key: str | None = None) -> Path:
    """Where the decoded copy of a tfds dataset is cached (decoding MNIST's 70,000 PNGs is the
    slow part of loading it): named by ``key`` (default ``tfds_cache_key``), the content of
    the prepared copy it is decoded from. Where there is no prepared copy, one file per
    dataset and data folder: a machine without tensorflow-datasets loads a decoded copy put
    there (its arrays are checked as a decoded copy's are)."""
    key = key or tfds_cache_key(name, data_dir)
    if key is not None:
        return dataset_cache_dir() / f"{name}-{key[:32]}.npz"
    where = os.path.abspath(data_dir or os.environ.get("TFDS_DATA_DIR") or "default")
    tag = hashlib.sha256(where.encode()).hexdigest()[:12]
    return dataset_cache_dir() / f"{name}-{tag}.npz"


def _load_tfds(name: str, data_dir: str | None) -> tuple[Split, Split]:
    return _load_tfds_keyed(name, data_dir, tfds_cache_key(name, data_dir))


@functools.lru_cache(maxsize=4)
def _load_tfds_keyed(name: str, data_dir: str | None, key: str | None) -> tuple[Split, Split]:
    """The decoded Splits of the prepared copy whose content hashes to ``key``."""
    path, build = tfds_cache_path(name, data_dir, key), lambda: _decode_tfds(name, data_dir)
    if key is None:
        raw = cached_arrays(path, build, _check_tfds_arrays)
    else:
        raw = keyed_cached_arrays(path, key, build, _check_tfds_arrays)
    return Split(to_unit(raw["x_train"]), raw["y_train"]), Split(
        to_unit(raw["x_test"]), raw["y_test"]
    )


def _check_tfds_arrays(raw: dict[str, np.ndarray]) -> None:
    """Raises unless ``raw`` holds both splits of native images with one label each."""
    for part in ("train", "test"):
        x, y = raw[f"x_{part}"], raw[f"y_{part}"]
        if x.shape[1:3] != NATIVE_SHAPE[:2] or x.size != len(x) * np.prod(NATIVE_SHAPE):
            raise ValueError(f"x_{part} has shape {x.shape}")
        if y.shape != (len(x),):
            raise ValueError(f"y_{part} has shape {y.shape}")


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
    _check_npz_exists(path)
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
        if x.shape[1:] != NATIVE_SHAPE:
            raise DataError(
                f"{what} have shape {x.shape}; .npz datasets hold (N, 28, 28) or "
                "(N, 28, 28, 1) images. For other sizes or colour, use a folder dataset "
                "(folder:PATH in the MVTec AD layout)"
            )
        if x.dtype == np.uint8:
            check_images(x, what)
            x = to_unit(x)
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
    train = Split(to_unit(x_train, shape), labels, masks_train, train_names, class_names)
    test = Split(to_unit(x_test, shape), arrays["y_test"], masks_test, test_names, class_names)
    return train, test


def _load_folder(path: str, image_size, channels) -> tuple[Split, Split]:
    return _folder_splits(image_folder.load_folder(path, image_size, channels, _folder_splits))


def load_image_files(paths, *, image_size: int, channels: int) -> np.ndarray:
    """Images from files, prepared as a folder dataset's: float32 (N, S, S, C) in [-1, 1]
    (``image_folder.RESIZE_RULE``). Raises DataError naming a file that cannot be read."""
    if not paths:
        raise DataError("no image files given")
    pixels = image_folder.decode_files(paths, image_size, channels)
    return to_unit(pixels, pixels.shape[1:])


def _check_native(name: str, image_size, channels) -> None:
    """``name`` is a built-in or .npz dataset; those are 28x28x1, never resized or converted."""
    if not (name.endswith(".npz") or name in DATASETS):
        raise DataError(
            f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}, a .npz file or "
            f"{FOLDER_PREFIX}PATH (a folder in the MVTec AD layout)"
        )
    if image_size not in (None, NATIVE_SHAPE[0]) or channels not in (None, NATIVE_SHAPE[2]):
        raise DataError(
            f"{name} images are 28x28 with 1 channel (image_size={image_size}, "
            f"channels={channels} asked); resizing and channel conversion are only done for "
            "folder datasets (folder:PATH)"
        )


def check_source(name: str) -> None:
    """Raises DataError when the files a dataset name points at are missing: a .npz file that
    does not exist, a folder without the MVTec AD layout's train/good. Reads no image, so a
    command can say so before it checks anything that depends on the images."""
    if is_folder(name):
        image_folder.check_root(_folder_to_load(name))
    elif name.endswith(".npz"):
        _check_npz_exists(name)


def _check_npz_exists(path: str) -> None:
    if not os.path.exists(path):
        raise DataError(f"dataset file {path} does not exist")


def is_dataset_name(name: str) -> bool:
    """Whether ``name`` names a dataset (it may still fail to load)."""
    return name in DATASETS or name.endswith(".npz") or bool(folder_path(name))


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
    if is_folder(name):
        return _load_folder(_folder_to_load(name), image_size, channels)
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
    path = folder_path(name)
    if path is None:
        _check_native(name, image_size, channels)
        return NATIVE_SHAPE
    return image_folder.stored_shape(_folder_to_load(name), image_size, channels)
