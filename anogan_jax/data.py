"""One-class protocols over the datasets of ``datasets`` (with the checks of class and
protocol they need), and deterministic batching.

Images are float32 (N, H, W, C) in [-1, 1] (see ``images``); anomaly labels: 1 = anomaly,
0 = normal.
"""

from __future__ import annotations

import functools
import hashlib
import math
from typing import NamedTuple

import jax
import numpy as np

from anogan_jax.datasets import FOLDER_PREFIX, Split, load_dataset
from anogan_jax.errors import DataError

__all__ = ["DataError"]  # raised here, defined with the other user errors

PROTOCOLS = ("one_class_normal", "one_class_anomalous")
# How the normal validation images are chosen (``one_class_split``): "by_name", a folder
# dataset's files by a hash of their names, or "seeded_permutation", a seeded draw by position
# (every other dataset, and folder runs made before the by-name rule, which keep it).
VAL_SPLITS = ("by_name", "seeded_permutation")


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
    val_split: str = "seeded_permutation"  # the rule that chose ``val`` (``VAL_SPLITS``)


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
    val_split: str = "by_name",
) -> OneClassData:
    """Builds a one-class problem.

    one_class_normal: class ``cls`` is normal; train on its training images (minus a seeded
      ``val_fraction`` held out as normal validation data); test on the full test set.
    one_class_anomalous: class ``cls`` is the anomaly; train and test are pooled, the normal
      images split 80/20 (seeded) into train(+val) and test, and every image of ``cls`` is in
      the test set.
    gcn: Deep SVDD preprocessing (L1 GCN, then min-max with normal-training statistics).

    Folder datasets (``dataset`` "folder:...") allow one_class_normal with class 0 only; their
    test masks and names are carried over (one_class_normal keeps the test split as is). Their
    validation images are chosen by file name (``_held_out_by_name``), so files added to or
    removed from train/good leave the others where they were; ``val_split``
    "seeded_permutation" draws them by position instead, as for every other dataset (the rule
    of folder runs made before the by-name one). The result's ``val_split`` names the rule used.
    """
    if protocol not in PROTOCOLS:
        raise DataError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if val_split not in VAL_SPLITS:
        raise DataError(f"unknown val_split {val_split!r}; choose one of {', '.join(VAL_SPLITS)}")
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
    n_val = int(round(val_fraction * len(normal)))
    _check_val_size(val_fraction, n_val, len(normal))
    by_name = val_split == "by_name" and train.names is not None and protocol == PROTOCOLS[0]
    if by_name:
        is_val = _held_out_by_name(np.asarray(train.names)[train.labels == cls], seed, val_fraction)
        val, train_x = normal[is_val], normal[~is_val]
    else:
        perm = rng.permutation(len(normal))
        val, train_x = normal[np.sort(perm[:n_val])], normal[np.sort(perm[n_val:])]
    if gcn:
        train_x, val, test_x = _gcn_minmax(train_x, val, test_x)
    labels = (test_c != cls).astype(np.int32)
    extra = dict(class_names=test.class_names, val_split=VAL_SPLITS[0 if by_name else 1])
    if protocol == "one_class_anomalous":
        labels = (test_c == cls).astype(np.int32)
    else:
        extra.update(test_masks=test.masks, test_names=test.names)
    return OneClassData(train_x, val, test_x, labels, test_c.astype(np.int32), **extra)


def _held_out_by_name(names, seed: int, val_fraction: float) -> np.ndarray:
    """(N,) bool: which named images are validation images. Each file is held out when
    u = sha256(seed, name) read as a number in [0, 1) is below ``val_fraction``, so adding or
    removing other files never moves it (their number varies around ``val_fraction`` of them);
    at least one image is held out (the lowest u) and one kept (the highest u)."""
    u = np.array(
        [
            int.from_bytes(hashlib.sha256(f"{seed}\0{n}".encode()).digest()[:8], "big") / 2**64
            for n in names
        ]
    )
    is_val = u < val_fraction
    if val_fraction > 0 and len(u) > 1:
        is_val[np.argmin(u)] = True
        is_val[np.argmax(u)] = False
    return is_val


def _check_val_size(val_fraction: float, n_val: int, n_normal: int) -> None:
    """A held-out share that rounds to no image (or leaves none to train on) is refused: the
    validation images set every threshold, and silently none would be set."""
    if val_fraction > 0 and n_val == 0:
        smallest = math.ceil(1000 / n_normal) / 1000
        hint = (
            f"give --val-fraction {smallest} or more to hold out one image"
            if smallest < 1
            else "add normal training images"
        )
        raise DataError(
            f"--val-fraction {val_fraction} holds out 0 of the {n_normal} normal training "
            f"images (it rounds to none), and the validation images set every threshold; {hint}"
        )
    if n_val >= n_normal:
        raise DataError(
            f"--val-fraction {val_fraction} holds out all {n_normal} normal training images "
            "and leaves none to train on; give a smaller --val-fraction"
        )


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
    val_split: str = "by_name",
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
        val_split=val_split,
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
