"""Bad folders and images through the real CLI: exit status 2, one message that names the file
or setting and what to do, no traceback, and the refused command writes no result."""

import hashlib
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anogan_jax import cli
from anogan_jax.runs.textures import make_texture_folder

TINY = ["--arch", "mlp", "--batch-size", "8", "--latent-dim", "8", "--quiet", "--steps", "1"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """A good 16 x 16 texture folder, a tiny run trained on it, and a GCN run."""
    root = tmp_path_factory.mktemp("bad_images")
    make_texture_folder(
        root / "good", size=16, num_train=24, num_test_good=4, num_test_per_defect=2
    )
    for name, extra in (("run", []), ("gcn_run", ["--gcn"])):
        argv = ["train", "--dataset", f"folder:{root / 'good'}", "--image-size", "16"]
        assert cli.main([*argv, *TINY, *extra, "--out", str(root / name)]) == 0
    (root / "not_image.png").write_text("this is text, not a PNG")
    (root / "empty").mkdir()
    return root


def _variant(ws: Path, name: str, change) -> str:
    """A copy of the good folder with one defect made by ``change(folder)``."""
    folder = ws / "variants" / name
    if not folder.exists():
        shutil.copytree(ws / "good", folder)
        change(folder)
    return f"folder:{folder}"


def _truncate(folder: Path) -> None:
    png = folder / "train" / "good" / "003.png"
    png.write_bytes(png.read_bytes()[:60])


def _wrong_mask_size(folder: Path) -> None:
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(folder / "ground_truth/blob/000_mask.png")


def _orphan_mask(folder: Path) -> None:
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(folder / "ground_truth/blob/077_mask.png")


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims width x height grey pixels, with no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


def _odd(ws: Path) -> Path:
    """Files Pillow could open but the decoding rule refuses, each in its own folder."""
    odd = ws / "odd"
    if odd.exists():
        return odd
    pixels = np.full((16, 16), 128, np.uint8)
    for name in ("non_utf8", "bomb", "gif", "tiff"):
        (odd / name).mkdir(parents=True)
    shutil.copy(ws / "good/train/good/000.png", os.fsencode(odd / "non_utf8") + b"/caf\xe9.png")
    _png_header_only(odd / "bomb" / "huge.png", 20_000, 20_000)
    Image.fromarray(pixels).save(odd / "gif" / "x.png", format="GIF")
    Image.fromarray(pixels).save(odd / "tiff" / "x.png", format="TIFF")
    return odd


def _into_train(ws: Path, kind: str):
    def change(folder: Path) -> None:
        for p in (_odd(ws) / kind).iterdir():
            shutil.copy(p, folder / "train" / "good" / p.name)

    return change


def _case(ws: Path, name: str) -> list[str]:
    out = str(ws / "out" / name)
    train = ["train", "--out", out, *TINY]
    default_arch = ["train", "--out", out, "--quiet", "--steps", "1"]  # no --arch: by image size
    good = ["--dataset", f"folder:{ws / 'good'}", "--image-size", "16"]
    run = str(ws / "run")
    predict = ["predict", "--run", run, "--out", out, "--quiet", "--num-steps", "2"]
    return {
        "folder_missing": [*train, "--dataset", f"folder:{ws / 'nowhere'}"],
        "no_train_good": [*train, "--dataset", f"folder:{ws / 'empty'}"],
        # The missing folder is named, not the arch that would not fit its images' default size.
        "folder_missing_default_arch": [*default_arch, "--dataset", f"folder:{ws / 'nowhere'}"],
        "folder_default_size": [
            *default_arch,
            *["--arch", "dcgan28_light", "--dataset", f"folder:{ws / 'good'}"],
        ],
        "truncated": [*train, "--dataset", _variant(ws, "truncated", _truncate)],
        "not_an_image": [
            *train,
            "--dataset",
            _variant(
                ws, "text", lambda f: shutil.copy(ws / "not_image.png", f / "train/good/x.png")
            ),
        ],
        "mask_size": [*train, "--dataset", _variant(ws, "mask_size", _wrong_mask_size)],
        "orphan_mask": [*train, "--dataset", _variant(ws, "orphan", _orphan_mask)],
        "arch_size": [*train, *good, "--arch", "dcgan28"],
        "resize_builtin": [*train, "--dataset", "digits", "--image-size", "64"],
        "channels": [*train, *good, "--channels", "2"],
        "image_size": [*train, *good, "--image-size", "4"],
        "folder_class": [*train, *good, "--class", "3"],
        "folder_fid": [*train, *good, "--fid-every", "5"],
        "classifier": ["train-classifier", "--dataset", f"folder:{ws / 'good'}", "--quiet"],
        "width_fixed_arch": [*train, *good, "--width", "8"],
        "predict_missing": [*predict, str(ws / "nowhere.png"), "--method", "anogan"],
        "predict_not_image": [*predict, str(ws / "not_image.png"), "--method", "anogan"],
        "predict_empty_folder": [*predict, str(ws / "empty"), "--method", "anogan"],
        "predict_fpr": [*predict, str(ws / "good/test/good"), "--fpr", "1.5"],
        "predict_no_encoder": [*predict, str(ws / "good/test/good")],
        "predict_gcn": [
            *predict[:2],
            str(ws / "gcn_run"),
            *predict[3:],
            str(ws / "good/test/good"),
            "--method",
            "anogan",
        ],
        "export_no_encoder": ["export", "--run", run, "--out", out, "--quiet"],
        "predict_non_utf8_name": [*predict, str(_odd(ws) / "non_utf8"), "--method", "anogan"],
        "train_non_utf8_name": [
            *train,
            "--dataset",
            _variant(ws, "non_utf8", _into_train(ws, "non_utf8")),
        ],
        "predict_bomb": [*predict, str(_odd(ws) / "bomb"), "--method", "anogan"],
        "train_bomb": [*train, "--dataset", _variant(ws, "bomb", _into_train(ws, "bomb"))],
        "predict_gif_named_png": [*predict, str(_odd(ws) / "gif/x.png"), "--method", "anogan"],
        "train_tiff_named_png": [
            *train,
            "--dataset",
            _variant(ws, "tiff", _into_train(ws, "tiff")),
        ],
    }[name]


CASES = {
    "folder_missing": "nowhere does not exist; give a folder laid out as",
    "no_train_good": "has no train/good folder; put the normal training images in",
    "folder_missing_default_arch": "nowhere does not exist; give a folder laid out as",
    "folder_default_size": "these are 64x64x1: use --arch dcgan (16x16, 32x32, 64x64 or 128x128) "
    "or resnet64 (64x64) or mlp (any HxW) (a folder's images are resized to 64x64 unless "
    "--image-size is given)",
    "truncated": "003.png is damaged or truncated",
    "not_an_image": "x.png is not a PNG or JPEG image",
    "mask_size": "a mask must have its image's size",
    "orphan_mask": "077_mask.png matches no test image",
    "arch_size": "arch 'dcgan28' is built for 28x28 images; these are 16x16x1: use --arch",
    "resize_builtin": "--image-size 64 applies to folder datasets only",
    "channels": "channels must be 1 or 3",
    "image_size": "image_size must be in 8..1024 pixels, got 4",
    "folder_class": "a folder dataset has one normal class, train/good (class 0)",
    "folder_fid": "has no class labels to train the feature classifier",
    "classifier": "has no class labels to train the feature classifier",
    "width_fixed_arch": "--width sets the channels of dcgan and resnet64",
    "predict_missing": "nowhere.png does not exist; give image files or folders",
    "predict_not_image": "not_image.png is not a PNG or JPEG image",
    "predict_empty_folder": "empty holds no PNG or JPEG image",
    "predict_fpr": "--fpr must be in (0, 1)",
    "predict_no_encoder": "holds no trained encoder; run `anogan-jax train-encoder",
    "predict_gcn": "trained on GCN-normalised images (--gcn)",
    "export_no_encoder": "holds no trained encoder; run `anogan-jax train-encoder",
    "predict_non_utf8_name": "caf\\xe9.png' is not valid UTF-8; rename it",
    "train_non_utf8_name": "caf\\xe9.png' is not valid UTF-8; rename it",
    "predict_bomb": "huge.png has more than Pillow's limit of",
    "train_bomb": "huge.png has more than Pillow's limit of",
    "predict_gif_named_png": "x.png holds GIF data but is named .png",
    "train_tiff_named_png": "x.png holds TIFF data but is named .png",
}


def _written(folder: Path) -> list[str]:
    """Files a refused command left in its output folder (none expected)."""
    if not folder.exists():
        return []
    return [str(p) for p in folder.rglob("*") if p.is_file()]


@pytest.mark.parametrize("name", list(CASES))
def test_bad_folder_or_image_gets_a_clear_message(ws, name, refused):
    argv = _case(ws, name)
    before = _digest(ws / "good"), _digest(ws / "variants"), _digest(_odd(ws))
    refused(argv, CASES[name])
    assert _written(ws / "out" / name) == []
    assert (_digest(ws / "good"), _digest(ws / "variants"), _digest(_odd(ws))) == before


def _digest(folder: Path) -> dict:
    """Every file under ``folder`` (by its name as bytes) and the sha256 of its bytes."""
    return {
        os.fsencode(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_there_are_at_least_ten_cases():
    assert len(CASES) >= 10
