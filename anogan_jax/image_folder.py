"""Folder datasets in the MVTec AD layout: checking the layout, decoding the images with
Pillow under one resize rule, and caching the decoded arrays keyed by the files' content.

``datasets.load_dataset("folder:PATH")`` documents the layout; this module returns uint8 arrays
and ``data`` turns them into Splits.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from anogan_jax.errors import DataError
from anogan_jax.files import dataset_cache_dir, keyed_cached_arrays
from anogan_jax.image_decode import (
    RESIZE_RULE,
    check_name,
    decode_image,
    fit,
    is_image_file,
    mask_bits,
    open_image,
    stored_grey,
    to_pixels,
)

__all__ = ["RESIZE_RULE", "check_root", "decode_files", "is_image_file", "load_folder"]

FOLDER_IMAGE_SIZE = 64  # default side of folder images
IMAGE_SIZE_RANGE = (8, 1024)
FOLDER_RULE_VERSION = 2  # part of the folder cache key: bump when decoding or resizing changes

_LAYOUT = "PATH/train/good/, PATH/test/good/ and PATH/test/<defect type>/ (the MVTec AD layout)"
_ACCEPTED = "accepted: .png, .jpg, .jpeg in any case; hidden files and other extensions are ignored"


class _Folder(NamedTuple):
    """The files of a folder dataset as posix paths relative to ``root``, in load order."""

    root: Path
    train: tuple[str, ...]
    test: tuple[str, ...]
    test_labels: tuple[int, ...]  # 0 = good, i = class_names[i]
    test_masks: tuple[str | None, ...] | None  # None: no ground_truth folder
    class_names: tuple[str, ...]


def _image_files(folder: Path) -> list[Path]:
    """The PNG/JPEG files directly in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if is_image_file(p))


def _subfolders(folder: Path) -> list[str]:
    found = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    for p in found:
        check_name(p)
    return sorted(p.name for p in found)


def check_root(path: str) -> Path:
    """The folder dataset's root, once it is known to exist and to hold train/good; else a
    DataError saying what to give. Reads no file: a command checks this before anything else."""
    root = Path(path).expanduser()
    if not root.exists():
        raise DataError(
            f"folder dataset {path} does not exist; give a folder laid out as {_LAYOUT}"
        )
    if not root.is_dir():
        raise DataError(f"folder dataset {path} is a file; give a folder laid out as {_LAYOUT}")
    good = root / "train" / "good"
    if not good.is_dir():
        raise DataError(
            f"{path} has no train/good folder; put the normal training images in {good}"
        )
    return root


def _scan_folder(path: str) -> _Folder:
    """Checks the layout of a folder dataset and lists its files (reads no image)."""
    root = check_root(path)
    good = root / "train" / "good"
    train = _image_files(good)
    if not train:
        raise DataError(f"{good} has no images ({_ACCEPTED}); put the normal training images there")
    tests, labels, class_names = _test_files(root, path)
    return _Folder(
        root,
        tuple(p.relative_to(root).as_posix() for p in train),
        tuple(p.relative_to(root).as_posix() for p in tests),
        tuple(labels),
        _match_masks(root, class_names, tests),
        class_names,
    )


def _test_files(root: Path, path: str) -> tuple[list[Path], list[int], tuple[str, ...]]:
    """The test images, their labels (0 = good, 1..K = defect types in name order) and the
    class names ("good", <defect types with images>...)."""
    test = root / "test"
    if not test.is_dir():
        raise DataError(
            f"{path} has no test folder; put normal test images in {test / 'good'} and "
            f"anomalous ones in {test}/<defect type>/"
        )
    found = {name: _image_files(test / name) for name in _subfolders(test)}
    class_names = ("good", *(name for name, files in found.items() if files and name != "good"))
    tests = [(p, i) for i, name in enumerate(class_names) for p in found.get(name, [])]
    if not tests:
        raise DataError(
            f"{test} has no images in its sub-folders ({_ACCEPTED}); put normal test images in "
            f"{test / 'good'} and anomalous ones in {test}/<defect type>/"
        )
    return [p for p, _ in tests], [i for _, i in tests], class_names


def _mask_files(folder: Path) -> dict[str, Path]:
    """The masks in ``folder`` by the stem of their image (``<stem>_mask.png``)."""
    masks = {}
    for p in _image_files(folder):
        if not p.stem.endswith("_mask"):
            raise DataError(
                f"{p}: masks are named <image stem>_mask.png (000_mask.png for the test image "
                "000.png); rename it or remove it"
            )
        stem = p.stem[: -len("_mask")]
        if stem in masks:
            raise DataError(
                f"{masks[stem]} and {p} are both masks of the image stem {stem!r}; keep one"
            )
        masks[stem] = p
    return masks


def _check_unique_stems(tests: list[Path]) -> None:
    """Masks are matched by stem: two test images of one type may not share a stem."""
    seen: dict[tuple[str, str], Path] = {}
    for p in tests:
        other = seen.setdefault((p.parent.name, p.stem), p)
        if other != p:
            raise DataError(
                f"{other} and {p} share the stem {p.stem!r}, so the mask {p.stem}_mask.png "
                "would belong to both; rename one of them"
            )


def _check_mask_folders(root: Path, defects: tuple[str, ...]) -> None:
    """Every defect type has a mask folder and every mask folder a defect type; a mask
    folder without masks of a type without images is ignored, as such a test folder is."""
    gt, test = root / "ground_truth", root / "test"
    types = [t for t in _subfolders(gt) if t != "good" and (t in defects or _image_files(gt / t))]
    for t in types:
        if t not in defects:
            raise DataError(
                f"{gt / t} holds masks of defect type {t!r}, but {test} has no images of that "
                f"type (its defect types: {', '.join(defects) or 'none'}); rename the folder "
                "to match a test/<defect type> folder, or remove it"
            )
    for t in defects:
        if t not in types:
            raise DataError(
                f"{gt} has no mask folder for the defect type {t!r} of {test / t}; add "
                f"{gt / t} with a <stem>_mask.png per image, or remove {gt} to load the "
                "dataset without masks"
            )


def _match_masks(root: Path, class_names: tuple[str, ...], tests: list[Path]):
    """The mask of each test image as a relative path (None for good images), or None when
    there is no ground_truth folder."""
    gt = root / "ground_truth"
    if not gt.is_dir():
        return None
    _check_mask_folders(root, class_names[1:])
    _check_unique_stems([p for p in tests if p.parent.name != "good"])
    masks = {t: _mask_files(gt / t) for t in class_names[1:]}
    out = []
    for p in tests:
        kind = p.parent.name
        if kind == "good":
            out.append(None)
        elif p.stem not in masks[kind]:
            raise DataError(
                f"{p} has no mask: expected {gt / kind / (p.stem + '_mask.png')}; add it, or "
                f"remove {gt} to load the dataset without masks"
            )
        else:
            out.append(masks[kind][p.stem].relative_to(root).as_posix())
    stems = {(p.parent.name, p.stem) for p in tests}
    for kind, by_stem in masks.items():
        for stem, mask in by_stem.items():
            if (kind, stem) not in stems:
                raise DataError(
                    f"{mask} matches no test image (expected {root / 'test' / kind / stem}.png, "
                    ".jpg or .jpeg); rename or remove it"
                )
    return tuple(out)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise DataError(f"could not read {path} ({err.strerror or err}); check it") from None


def _folder_key(folder: _Folder, image_size: int, channels: int | None) -> str:
    """sha256 over every used file's relative path and bytes, the requested size and channels
    and ``FOLDER_RULE_VERSION``: a cache entry is valid exactly for this content."""
    has_masks = folder.test_masks is not None
    head = f"v{FOLDER_RULE_VERSION} size={image_size} channels={channels} masks={has_masks}"
    h = hashlib.sha256(head.encode())
    for rel in sorted({*folder.train, *folder.test, *filter(None, folder.test_masks or ())}):
        data = _read_bytes(folder.root / rel)
        h.update(f"\0{rel}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def _decode_item(root: Path, rel: str, mask: str | None, size: int, channels: int):
    """Pixels (size, size, channels) uint8 of one image and its mask (size, size) uint8 0/1
    (None when ``mask`` is None); any non-zero mask pixel is a defect."""
    img = open_image(root / rel)
    pixels = fit(to_pixels(img, channels), size, Image.Resampling.BICUBIC)
    if mask is None:
        return pixels, None
    m, (w, h) = open_image(root / mask), img.size
    if m.size != (w, h):
        raise DataError(
            f"{root / mask} is {m.size[0]}x{m.size[1]} (width x height) but its image "
            f"{root / rel} is {w}x{h}; a mask must have its image's size"
        )
    binary = (mask_bits(m).astype(np.uint8) * 255)[..., None]
    out = fit(binary, size, Image.Resampling.NEAREST)[..., 0] > 0
    return pixels, out.astype(np.uint8)


def _stored_channels(folder: _Folder) -> int:
    """1 when every training image is stored single-channel (grey, possibly with alpha or 16
    bits), else 3. Reads the file headers only."""
    return 1 if all(stored_grey(folder.root / rel) for rel in folder.train) else 3


def _decode_folder(folder: _Folder, size: int, channels: int | None) -> dict[str, np.ndarray]:
    """Decodes every image (and mask) into uint8 arrays, as saved in the cache."""
    channels = channels or _stored_channels(folder)
    root, masks = folder.root, folder.test_masks or (None,) * len(folder.test)
    train = [_decode_item(root, rel, None, size, channels)[0] for rel in folder.train]
    test = [
        _decode_item(root, rel, m, size, channels)
        for rel, m in zip(folder.test, masks, strict=True)
    ]
    out = {
        "x_train": np.stack(train),
        "x_test": np.stack([x for x, _ in test]),
        "y_test": np.array(folder.test_labels, np.int32),
        "names_train": np.array(folder.train),
        "names_test": np.array(folder.test),
        "class_names": np.array(folder.class_names),
    }
    if folder.test_masks is not None:
        zeros = np.zeros((size, size), np.uint8)
        out["masks_test"] = np.stack([zeros if m is None else m for _, m in test])
    return out


@functools.lru_cache(maxsize=2)
def _load_cached(key: str, folder: _Folder, size: int, channels: int | None, check) -> dict:
    """Keyed on the content hash ``key``, so edited files are never served stale: the file is
    named by the key and holds it (``files.keyed_cached_arrays``)."""
    cache = dataset_cache_dir() / f"folder-{key[:32]}.npz"
    return keyed_cached_arrays(cache, key, lambda: _decode_folder(folder, size, channels), check)


def _check_shape_args(image_size, channels) -> int:
    """Validates folder ``image_size`` / ``channels``; returns the image side to use."""
    if channels is not None and channels not in (1, 3):
        raise DataError(
            f"channels must be 1 (grey) or 3 (RGB), or None for as stored; got {channels}"
        )
    if image_size is None:
        return FOLDER_IMAGE_SIZE
    lo, hi = IMAGE_SIZE_RANGE
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)):
        raise DataError(f"image_size must be an integer in {lo}..{hi}, got {image_size!r}")
    if not lo <= image_size <= hi:
        raise DataError(f"image_size must be in {lo}..{hi} pixels, got {image_size}")
    return int(image_size)


def load_folder(path: str, image_size, channels, check=lambda arrays: None) -> dict:
    """The decoded uint8 arrays of a folder dataset (see ``datasets.load_dataset``): x_train,
    x_test (N, S, S, C), y_test, names_train, names_test, class_names and, with a
    ground_truth folder, masks_test (N, S, S) 0/1."""
    size = _check_shape_args(image_size, channels)
    folder = _scan_folder(path)
    key = _folder_key(folder, size, channels)
    return _load_cached(key, folder, size, channels, check)


def stored_shape(path: str, image_size, channels) -> tuple[int, int, int]:
    """(S, S, C) of a folder's images without decoding them (headers only)."""
    size = _check_shape_args(image_size, channels)
    return (size, size, channels or _stored_channels(_scan_folder(path)))


def decode_files(paths, image_size: int, channels: int) -> np.ndarray:
    """uint8 (N, S, S, C) pixels of image files under the folder datasets' rule
    (``image_decode.DECODE_RULES``). Raises DataError naming a file that cannot be decoded."""
    size = _check_shape_args(image_size, channels)
    if channels is None:
        raise DataError("decode_files needs channels 1 or 3")
    return np.stack([decode_image(Path(p), size, channels) for p in paths])
