"""Image files -> uint8 pixels under one stated rule: the rule folder datasets and ``predict``
decode by, and that an exported scorer's consumer follows (``DECODE_RULES``, which ``export``
writes into scorer.json). A file that breaks the rule raises DataError naming it.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from anogan_jax.errors import DataError

# extension -> the Pillow formats its data may have (MPO: a camera's multi-picture JPEG)
FORMATS = {".png": ("PNG",), ".jpg": ("JPEG", "MPO"), ".jpeg": ("JPEG", "MPO")}
IMAGE_EXTENSIONS = tuple(FORMATS)
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")  # Pillow modes
GREY_WEIGHTS = (19595, 38470, 7471)  # ITU-R 601-2 luma in 16-bit fixed point (sum 65536)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RESIZE_RULE = (
    "take the centred square of side m = min(W, H), the box ((W - m) / 2, (H - m) / 2, "
    "(W + m) / 2, (H + m) / 2), and resize it to S x S with Pillow's "
    "Image.resize((S, S), Image.Resampling.BICUBIC, box=box) on the 8-bit grey (L) or RGB "
    "image (masks: NEAREST), i.e. shorter side to S, then a centred crop"
)
DECODE_RULES = {
    "files": ".png files must hold PNG data, .jpg and .jpeg files JPEG data (Pillow's format "
    "JPEG, or MPO, a camera's multi-picture JPEG, of which the first picture is read), judged "
    "by content, extension in any case; any other file is refused, not decoded",
    "decoder": "Pillow (PIL.Image.open); an image of more than PIL.Image.MAX_IMAGE_PIXELS "
    "pixels is refused",
    "orientation": "the EXIF orientation tag (0x0112) is applied first, as "
    "PIL.ImageOps.exif_transpose does: 2 mirror left-right, 3 rotate 180, 4 mirror "
    "top-bottom, 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 "
    "counter-clockwise",
    "bit_depth": "16-bit grey PNG (colour type 0, Pillow mode I;16): v8 = floor(v16 / 257 + "
    "0.5); 16-bit grey+alpha, RGB and RGBA PNG: the high byte of each sample (v16 >> 8), as "
    "Pillow decodes them; Pillow mode F: clip(round_half_even(v), 0, 255); 1-bit: 0 or 255",
    "palette": "palette images (P, PA) are expanded through their palette to RGBA",
    "alpha": "alpha is dropped, never composited: a transparent pixel keeps its colour",
    "grey": "from colour, on the 8-bit R, G, B: (19595 R + 38470 G + 7471 B + 32768) >> 16 "
    "(ITU-R 601-2 luma in integers; equal to Pillow's convert('L') from RGB); a grey image "
    "for 3 channels: R = G = B = grey",
    "other_modes": "CMYK, YCbCr and other colour modes: Pillow's convert('RGB')",
    "stored_channels": "a folder trained without --channels is grey when every training "
    "image is stored grey (Pillow modes 1, L, LA, I, I;16, F, or a PNG of colour type 0 or 4)",
    "resize": RESIZE_RULE,
}


def check_name(path: Path) -> None:
    """Raises DataError for a file name that is not valid UTF-8 (it could not be recorded)."""
    try:
        os.fspath(path).encode("utf-8")
    except UnicodeEncodeError:
        raise DataError(
            f"the file name {os.fsencode(path)!r} is not valid UTF-8; rename it (e.g. with "
            "convmv) or move it out of the folder"
        ) from None


def is_image_file(path: Path) -> bool:
    """A PNG or JPEG file by its name (hidden files excluded); DataError for a name that is
    not valid UTF-8."""
    if not (path.is_file() and not path.name.startswith(".")):
        return False
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        return False
    check_name(path)
    return True


def _opened(path: Path) -> Image.Image:
    """``Image.open(path)`` (not loaded) once the data is known to match the extension and to
    be within Pillow's pixel limit; else DataError naming the file."""
    check_name(path)
    expected = FORMATS.get(path.suffix.lower())
    if expected is None:
        raise DataError(
            f"{path}: only .png, .jpg and .jpeg files are read; convert it to PNG or remove it"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(
            f"{path} has more than Pillow's limit of {Image.MAX_IMAGE_PIXELS} pixels (a "
            "possible decompression bomb); shrink it first or remove it"
        ) from None
    except Image.UnidentifiedImageError:
        raise DataError(
            f"{path} is not a PNG or JPEG image Pillow can read; convert it to PNG or remove it"
        ) from None
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(f"{path} could not be read ({err}); check it or remove it") from None
    if img.format not in expected:
        img.close()
        raise DataError(
            f"{path} holds {img.format} data but is named {path.suffix}: only PNG and JPEG "
            "are read, each under its own extension; convert it to PNG or remove it"
        )
    return img


def open_image(path: Path) -> Image.Image:
    """The decoded image of a file, EXIF orientation applied (``DECODE_RULES``)."""
    img = _opened(path)
    try:
        with img:
            img.load()
            return ImageOps.exif_transpose(img)
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(
            f"{path} is damaged or truncated (Pillow: {err}); replace it or remove it"
        ) from None


def stored_grey(path: Path) -> bool:
    """Whether the file stores a grey image (``DECODE_RULES["stored_channels"]``), from its
    header: Pillow decodes a 16-bit grey+alpha PNG as RGBA, so its colour type is read."""
    with _opened(path) as img:
        if img.mode in GRAY_MODES:
            return True
        if img.format != "PNG":
            return False
    with open(path, "rb") as f:
        head = f.read(26)  # signature, IHDR length and type, width, height, depth, colour type
    return head.startswith(PNG_SIGNATURE) and head[25] in (0, 4)


def to_pixels(img: Image.Image, channels: int) -> np.ndarray:
    """uint8 (H, W, channels) of a decoded image under ``DECODE_RULES``."""
    mode = img.mode
    if mode.startswith("I"):
        grey = np.clip(np.floor(np.asarray(img, np.float64) / 257.0 + 0.5), 0, 255)
    elif mode == "F":
        grey = np.clip(np.round(np.asarray(img, np.float32)), 0, 255)
    elif mode in ("1", "L"):
        grey = np.asarray(img.convert("L"))
    elif mode == "LA":
        grey = np.asarray(img)[..., 0]
    else:
        rgb = np.asarray(img.convert("RGBA" if mode in ("P", "PA") else "RGB"))[..., :3]
        if channels == 3:
            return np.ascontiguousarray(rgb)
        luma = (rgb.astype(np.uint32) * np.uint32(GREY_WEIGHTS)).sum(axis=-1) + 32768
        return (luma >> 16).astype(np.uint8)[..., None]
    grey = grey.astype(np.uint8)[..., None]
    return grey if channels == 1 else np.repeat(grey, 3, axis=-1)


def fit(pixels: np.ndarray, size: int, resample) -> np.ndarray:
    """(size, size, C) uint8: the centred square of side min(W, H) of ``pixels`` (H, W, C)
    resized to (size, size) (``RESIZE_RULE``)."""
    c = pixels.shape[-1]
    img = Image.fromarray(pixels[..., 0] if c == 1 else pixels)
    w, h = img.size
    m = min(w, h)
    box = ((w - m) / 2, (h - m) / 2, (w + m) / 2, (h + m) / 2)
    return np.asarray(img.resize((size, size), resample, box=box)).reshape(size, size, c)


def mask_bits(mask: Image.Image) -> np.ndarray:
    """(H, W) bool: True where any colour channel is non-zero (alpha ignored, any bit depth)."""
    if mask.mode in GRAY_MODES:
        return np.asarray(mask.convert("L") if mask.mode == "LA" else mask) != 0
    return np.asarray(mask.convert("RGBA" if mask.mode in ("P", "PA") else "RGB"))[..., :3].any(
        axis=-1
    )


def decode_image(path: Path, size: int, channels: int) -> np.ndarray:
    """uint8 (size, size, channels) pixels of one image file (``DECODE_RULES``)."""
    return fit(to_pixels(open_image(path), channels), size, Image.Resampling.BICUBIC)
