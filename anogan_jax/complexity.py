"""Anomaly scores that discount input complexity (Serra et al., ICLR 2020): a residual read as
a likelihood in bits, minus the bits a lossless compressor (PNG) needs for the image.

A simple image (a thin 1 on a blank field) leaves a small residual under any generator, so a
plain residual ranks it as normal even when it is the anomaly; its PNG code is short too. With
S(x) = -log2 p(x | G(z*)) - L(x), the residual is weighed against what the image costs to
describe at all. Everything here is fixed in advance, and the scale of each likelihood is fitted
on NORMAL validation images only, so no test label is used:

* an L1 residual ``R = sum |x - G(z*)|`` (AnoGAN's search) is read as a Laplace likelihood with
  one scale b for every pixel value, b = mean over the normal validation images of R / D
  (its maximum-likelihood estimate); in bits, R / (b ln 2), up to a constant;
* a mean squared residual ``mse = mean (x - G(z*))^2`` (f-AnoGAN's image term) as a Gaussian,
  sigma^2 = the validation mean of mse; in bits, D * mse / (2 sigma^2 ln 2), up to a constant;

with D the number of pixel values of an image. The constants are the same for every image,
so they change no ranking and are left out. Pure numpy (and Pillow for the PNG code)."""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image

# How a score column's residual is read: "l1_sum" is sum|r| over the pixel values, "mse" the
# mean of r^2 over them.
RESIDUAL_KINDS = ("l1_sum", "mse")
# The residual column of each scoring method (``scores.anogan_scores``, ``scores.fanogan_scores``)
# and how it is read.
RESIDUAL_COLUMNS = {"anogan": ("R", "l1_sum"), "fanogan": ("img_mse", "mse")}


def quantize(images: np.ndarray) -> np.ndarray:
    """Images in [-1, 1] (N, H, W, C) as the uint8 pixels they were made from: the inverse of
    ``images.to_unit``, exact for images loaded without GCN; values outside are clipped."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"images must be (N, H, W, C) with C 1 or 3, got shape {images.shape}; a single "
            "image needs a leading axis of 1"
        )
    return np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def png_bits(images: np.ndarray) -> np.ndarray:
    """(N,) float64: the bits of each image's PNG file (Pillow, compression level 9), from
    images in [-1, 1]. The PNG headers add the same bytes to every image of one shape."""
    pixels = quantize(images)
    out = np.empty(len(pixels), np.float64)
    for i, p in enumerate(pixels):
        buffer = io.BytesIO()
        mode = "L" if p.shape[-1] == 1 else "RGB"
        Image.fromarray(p[..., 0] if mode == "L" else p, mode=mode).save(
            buffer, format="PNG", compress_level=9
        )
        out[i] = 8.0 * buffer.tell()
    return out


def residual_bits(scores, normal_val_scores, kind: str, num_values: int) -> np.ndarray:
    """The residual of each image as a negative log-likelihood in bits (without the constant
    every image shares), its scale fitted on ``normal_val_scores`` (the same column on normal
    validation images). ``num_values``: pixel values per image (H * W * C)."""
    scores = np.asarray(scores, dtype=np.float64)
    val = np.asarray(normal_val_scores, dtype=np.float64)
    val = val[np.isfinite(val)]
    if kind not in RESIDUAL_KINDS:
        raise ValueError(f"unknown residual kind {kind!r}; choose one of {RESIDUAL_KINDS}")
    if val.size == 0 or not np.mean(val) > 0:
        raise ValueError(
            "the normal validation scores give no positive scale (none finite, or all zero); "
            "score some normal validation images first (val_images > 0)"
        )
    if kind == "l1_sum":
        b = np.mean(val) / num_values
        return scores / (b * math.log(2.0))
    sigma2 = np.mean(val)
    return num_values * scores / (2.0 * sigma2 * math.log(2.0))


def complexity_adjusted(scores, normal_val_scores, images, kind: str, bits=None) -> np.ndarray:
    """S = residual bits - PNG bits for each image (higher: more anomalous), ``images`` in
    [-1, 1] aligned with ``scores``. ``bits``: those images' ``png_bits`` when the caller has
    them already (several methods scored the same images); computed here when None."""
    images = np.asarray(images)
    if len(images) != len(np.asarray(scores)):
        raise ValueError(f"{len(images)} images for {len(np.asarray(scores))} scores")
    bits = png_bits(images) if bits is None else np.asarray(bits, dtype=np.float64)
    if bits.shape != (len(images),):
        raise ValueError(
            f"bits has shape {bits.shape}; it needs one value per image, ({len(images)},)"
        )
    num_values = int(np.prod(images.shape[1:]))
    return residual_bits(scores, normal_val_scores, kind, num_values) - bits
