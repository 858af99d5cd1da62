"""Synthetic MVTec-style texture folders, generated (nothing is downloaded): a seeded woven
texture, with scratches, blobs and holes drawn on the test images and their masks.

    make_texture_folder("textures", channels=3)  # then train with --dataset folder:textures

The output is byte-identical for a seed: each image draws from its own
``SeedSequence([seed, part, index])``.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from anogan_jax.runs.config import RunError

DEFECTS = ("scratch", "blob", "hole")
# Defects break the weave's structure and only moderately its brightness (pixels stay inside
# the texture's range), so that a detector measuring how far pixels are from the mean grey
# does poorly: a scratch is a flat line brighter than the mean, a blob a patch woven at
# another angle and period, a hole a flat darker disc (the weave missing).
_SHADE = {"scratch": 1.35, "hole": 0.55}  # their flat colour: this share of the mean colour


def _rng(seed: int, *path: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *path]))


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (y, x), each (size, size) float64."""
    return np.mgrid[0:size, 0:size].astype(np.float64)


def texture(
    rng: np.random.Generator, size: int, channels: int, *, angle: float = 30.0, period: float = 5.0
) -> np.ndarray:
    """A woven texture: two crossing sinusoids (period ~size/``period``) at ~``angle`` degrees,
    with jittered angle, period and phases, plus pixel noise; RGB maps the grey level to a
    jittered brown.

    Returns:
      uint8 (size, size, channels).
    """
    y, x = _grid(size)
    angle = np.deg2rad(angle + rng.normal(0.0, 1.0))
    k = 2.0 * np.pi / (size / period * rng.uniform(0.98, 1.02))
    u = x * np.cos(angle) + y * np.sin(angle)
    v = -x * np.sin(angle) + y * np.cos(angle)
    phases = rng.uniform(-0.3, 0.3, 3)  # small shifts: aligned like MVTec objects, not free
    weave = np.sin(k * u + phases[0]) * np.sin(k * v + phases[1])
    grey = 0.5 + 0.22 * weave + 0.08 * np.sin(2.0 * k * u + phases[2])
    grey = grey + rng.normal(0.0, 0.04, (size, size))
    if channels == 1:
        img = grey[..., None]
    else:
        dark = np.array([0.25, 0.15, 0.08]) + rng.normal(0.0, 0.02, 3)
        light = np.array([0.95, 0.8, 0.55]) + rng.normal(0.0, 0.02, 3)
        img = dark + grey[..., None] * (light - dark)
    return _to_uint8(img)


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.round(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)


def _scratch_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """A scratch: a segment of half-width ~size/32 (>= 0.75 px, so it covers a pixel centre)."""
    y, x = _grid(size)
    p0 = rng.uniform(0.2, 0.8, 2) * size
    angle, length = rng.uniform(0.0, np.pi), rng.uniform(0.3, 0.6) * size
    p1 = np.clip(p0 + length * np.array([np.sin(angle), np.cos(angle)]), 0.0, size - 1.0)
    d = p1 - p0
    t = np.clip(((y - p0[0]) * d[0] + (x - p0[1]) * d[1]) / max(float(d @ d), 1e-9), 0.0, 1.0)
    dist = np.hypot(y - p0[0] - t * d[0], x - p0[1] - t * d[1])
    return dist <= max(0.75, size / 32.0 * rng.uniform(0.8, 1.4))


def _ellipse_mask(rng: np.random.Generator, size: int, lo: float, hi: float) -> np.ndarray:
    """A filled, rotated ellipse with semi-axes in [lo, hi] * size (at least 1 px)."""
    y, x = _grid(size)
    cy, cx = rng.uniform(0.25, 0.75, 2) * size
    a, b = np.maximum(rng.uniform(lo, hi, 2) * size, 1.0)
    theta = rng.uniform(0.0, np.pi)
    u = (x - cx) * np.cos(theta) + (y - cy) * np.sin(theta)
    v = -(x - cx) * np.sin(theta) + (y - cy) * np.cos(theta)
    return (u / a) ** 2 + (v / b) ** 2 <= 1.0


def draw_defect(
    rng: np.random.Generator, image: np.ndarray, kind: str
) -> tuple[np.ndarray, np.ndarray]:
    """Draws one defect on a copy of ``image``: a scratch (a flat line, 1.35 x the image's mean
    colour), a blob (an ellipse woven at another angle and period) or a hole (a flat disc,
    0.55 x the mean colour). Only masked pixels change.

    Args:
      rng: the generator the defect's position and shape are drawn from.
      image: uint8 (S, S, C), C = 1 or 3.
      kind: one of ``DEFECTS``.

    Returns:
      (image uint8 (S, S, C), mask bool (S, S)); the mask is never empty.
    """
    size, channels = image.shape[0], image.shape[-1]
    if kind == "scratch":
        mask = _scratch_mask(rng, size)
    elif kind == "blob":
        mask = _ellipse_mask(rng, size, 0.1, 0.2)
    elif kind == "hole":
        r = rng.uniform(0.07, 0.12)
        mask = _ellipse_mask(rng, size, r, r)
    else:
        raise ValueError(f"unknown defect {kind!r}; choose one of {', '.join(DEFECTS)}")
    mean = image.reshape(-1, channels).mean(axis=0)
    if kind == "blob":
        painted = texture(rng, size, channels, angle=-35.0, period=3.0)
    else:
        flat = np.clip(np.round(mean * _SHADE[kind]), 0, 255).astype(np.uint8)
        painted = np.broadcast_to(flat, image.shape)
    return np.where(mask[..., None], painted, image), mask


def _save_png(path: Path, pixels: np.ndarray) -> None:
    Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(path, "PNG")


def _check_args(channels: int, size: int, counts: dict[str, int]) -> None:
    if channels not in (1, 3):
        raise RunError(f"channels must be 1 (grey) or 3 (RGB), got {channels}")
    if isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= 1024:
        raise RunError(f"size must be an integer in 8..1024 pixels, got {size!r}")
    for name, n in counts.items():
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise RunError(f"{name} must be a positive integer, got {n!r}")


def _check_empty(out: Path) -> None:
    """Refuses an existing file or non-empty folder (nothing is ever deleted there)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        what = "a file" if not out.is_dir() else "a folder that is not empty"
        raise RunError(
            f"{out} is {what}; the texture folder is written into a new or empty folder only "
            "(nothing was written): choose another path"
        )


def _write_textures(root: Path, *, channels, size, seed, counts) -> dict[str, int]:
    """Writes every image and mask under ``root``; returns the file count per folder."""
    written = {}
    parts = [
        ("train/good", None, counts["num_train"]),
        ("test/good", None, counts["num_test_good"]),
    ]
    parts += [(f"test/{kind}", kind, counts["num_test_per_defect"]) for kind in DEFECTS]
    for part, (folder, kind, n) in enumerate(parts):
        (root / folder).mkdir(parents=True)
        if kind is not None:
            (root / "ground_truth" / kind).mkdir(parents=True)
        width = max(3, len(str(n - 1)))
        for i in range(n):
            rng = _rng(seed, part, i)
            image = texture(rng, size, channels)
            if kind is not None:
                image, mask = draw_defect(rng, image, kind)
                mask_path = root / "ground_truth" / kind / f"{i:0{width}d}_mask.png"
                _save_png(mask_path, mask[..., None].astype(np.uint8) * 255)
            _save_png(root / folder / f"{i:0{width}d}.png", image)
        written[folder] = n
        if kind is not None:
            written[f"ground_truth/{kind}"] = n
    return written


def make_texture_folder(
    out,
    *,
    channels: int = 1,
    size: int = 64,
    num_train: int = 200,
    num_test_good: int = 20,
    num_test_per_defect: int = 10,
    seed: int = 0,
) -> dict[str, int]:
    """Writes a synthetic texture dataset in the MVTec AD layout:

      out/train/good/NNN.png, out/test/good/NNN.png, out/test/{scratch,blob,hole}/NNN.png,
      out/ground_truth/{scratch,blob,hole}/NNN_mask.png (255 = defect)

    ``out`` must not exist or be an empty folder. The files are written into a hidden folder
    beside ``out`` that is renamed to ``out`` at the end, so an interrupted call leaves no
    half-written dataset.

    Args:
      out: the folder to create.
      channels: 1 (grey PNGs) or 3 (RGB PNGs).
      size: image side in pixels, 8..1024.
      num_train: normal training images, >= 1.
      num_test_good: normal test images, >= 1.
      num_test_per_defect: test images of each defect type, >= 1.
      seed: the same seed writes byte-identical files.

    Returns:
      {folder relative to out: number of files written there}.
    """
    counts = dict(
        num_train=num_train, num_test_good=num_test_good, num_test_per_defect=num_test_per_defect
    )
    _check_args(channels, size, counts)
    out = Path(out)
    _check_empty(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{secrets.token_hex(4)}.tmp"
    tmp.mkdir()
    try:
        written = _write_textures(tmp, channels=channels, size=size, seed=seed, counts=counts)
        try:
            tmp.replace(out)  # replaces an empty ``out``; fails on one filled meanwhile
        except OSError as err:
            raise RunError(
                f"could not create {out} ({err.strerror or err}); nothing was written"
            ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written
