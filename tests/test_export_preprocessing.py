"""scorer.json describes how a file's bytes become ``predict``'s pixels exactly: a consumer that
follows its rules with Pillow and numpy alone (a process without anogan_jax) gets predict's
arrays and verdicts on 8- and 16-bit, palette, alpha, 1-bit, CMYK, multi-picture and
EXIF-rotated files, and an image with a NaN or infinite pixel is invalid, not normal. Everything
through the CLI."""

import csv
import json
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anogan_jax import cli, datasets
from anogan_jax.runs.textures import make_texture_folder

TINY = ["--arch", "mlp", "--batch-size", "8", "--latent-dim", "8", "--quiet", "--steps", "1"]
SEARCH = ["--num-steps", "2", "--micro-batch", "4", "--batch-size", "8", "--val-images", "8"]


def _png16(path: Path, samples: np.ndarray, colour_type: int) -> None:
    """A 16-bit PNG of ``samples`` (H, W, channels) written chunk by chunk (Pillow cannot
    write 16-bit grey+alpha or colour)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    h, w = samples.shape[:2]
    raw = samples.astype(">u2").reshape(h, -1)
    rows = b"".join(b"\0" + r.tobytes() for r in raw)
    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)


def _with_orientation(img: Image.Image, path: Path, orientation: int, **kwargs) -> None:
    exif = img.getexif()
    exif[0x0112] = orientation
    img.save(path, exif=exif, **kwargs)


def _files(folder: Path) -> list[Path]:
    """One file per case the rules must cover, 23 x 17 pixels (not square)."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)
    grey = rng.integers(0, 256, (17, 23), dtype=np.uint8)
    alpha = rng.integers(0, 256, (17, 23), dtype=np.uint8)
    Image.fromarray(grey).save(folder / "grey8.png")
    Image.fromarray(rgb).save(folder / "rgb8.png")
    Image.fromarray(np.dstack([rgb, alpha])).save(folder / "rgba8.png")
    Image.fromarray(np.dstack([grey, alpha]), "LA").save(folder / "grey_alpha8.png")
    Image.fromarray(rgb).quantize(16).save(folder / "palette.png")
    Image.fromarray(rgb).quantize(16).save(folder / "palette_alpha.png", transparency=3)
    Image.fromarray(grey > 128).save(folder / "bits1.png")
    # 16-bit grey above 255: Pillow's convert('L') clips it to white; the rule scales it.
    _png16(folder / "grey16.png", rng.integers(0, 65536, (17, 23, 1)), 0)
    _png16(folder / "grey_alpha16.png", rng.integers(0, 65536, (17, 23, 2)), 4)
    _png16(folder / "rgb16.png", rng.integers(0, 65536, (17, 23, 3)), 2)
    _png16(folder / "rgba16.png", rng.integers(0, 65536, (17, 23, 4)), 6)
    _with_orientation(Image.fromarray(rgb), folder / "exif6.jpg", 6, quality=95)
    _with_orientation(Image.fromarray(grey), folder / "exif3_grey.png", 3)
    _with_orientation(Image.fromarray(rgb), folder / "exif8.png", 8)
    Image.fromarray(rgb).convert("CMYK").save(folder / "cmyk.jpg")
    second = Image.fromarray(rgb[::-1])  # a camera's multi-picture JPEG: the first is read
    Image.fromarray(rgb).save(folder / "camera.jpg", "MPO", save_all=True, append_images=[second])
    return sorted(folder.iterdir())


# A consumer of scorer.json: Pillow and numpy only. It checks that each rule it implements is
# the one scorer.json states, then follows it.
CONSUMER = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from PIL import Image, ImageOps

    meta = json.load(open(sys.argv[1]))
    pre, rules = meta["preprocessing"], meta["preprocessing"]["decode"]
    channels, files, naive = int(sys.argv[2]), sys.argv[3:-1], sys.argv[-1]
    size = pre["image_shape"][0]
    assert "PIL.ImageOps.exif_transpose" in rules["orientation"]
    assert "v8 = floor(v16 / 257 + 0.5)" in rules["bit_depth"]
    assert "the high byte of each sample (v16 >> 8)" in rules["bit_depth"]
    assert "expanded through their palette to RGBA" in rules["palette"]
    assert "alpha is dropped, never composited" in rules["alpha"]
    assert "(19595 R + 38470 G + 7471 B + 32768) >> 16" in rules["grey"]
    assert "R = G = B = grey" in rules["grey"]
    assert "Pillow's convert('RGB')" in rules["other_modes"]
    assert "Image.resize((S, S), Image.Resampling.BICUBIC, box=box)" in pre["resize"]
    assert pre["scale"] == "float32 pixels = uint8 / 127.5 - 1, in [-1, 1]"

    def pixels(path):
        img = ImageOps.exif_transpose(Image.open(path))
        if naive == "naive":  # Pillow's convert('L') / convert('RGB') alone, not the rule
            return np.asarray(img.convert("L" if channels == 1 else "RGB")).reshape(
                img.size[1], img.size[0], channels)
        if img.mode.startswith("I"):
            grey = np.floor(np.asarray(img, np.float64) / 257 + 0.5)
        elif img.mode in ("1", "L"):
            grey = np.asarray(img.convert("L"))
        elif img.mode == "LA":
            grey = np.asarray(img)[..., 0]
        else:
            rgb = np.asarray(img.convert("RGBA" if img.mode in ("P", "PA") else "RGB"))[..., :3]
            if channels == 3:
                return rgb
            r, g, b = (rgb[..., i].astype(np.uint32) for i in range(3))
            return (((19595 * r + 38470 * g + 7471 * b + 32768) >> 16).astype(np.uint8))[..., None]
        grey = grey.astype(np.uint8)[..., None]
        return grey if channels == 1 else np.repeat(grey, 3, axis=-1)

    def fit(p):
        img = Image.fromarray(p[..., 0] if channels == 1 else p)
        w, h = img.size
        m = min(w, h)
        box = ((w - m) / 2, (h - m) / 2, (w + m) / 2, (h + m) / 2)
        out = img.resize((size, size), Image.Resampling.BICUBIC, box=box)
        return np.asarray(out).reshape(size, size, channels)

    x = np.stack([fit(pixels(f)) for f in files]).astype(np.float32) / 127.5 - 1
    assert "anogan_jax" not in sys.modules
    np.save(sys.argv[1] + f".{channels}.{naive}.npy", x)
    """
)

# Serving as scorer.json says: the exported function and the verdict rule, jax and numpy only.
SERVE = textwrap.dedent(
    """
    import json, sys
    import jax, numpy as np
    from jax import export

    folder, images = sys.argv[1], sys.argv[2]
    meta = json.load(open(f"{folder}/scorer.json"))
    fn = meta["functions"]["fanogan"]
    exp = export.deserialize(open(f"{folder}/{fn['file']}", "rb").read())
    with np.load(f"{folder}/{fn['params']}") as f:
        params = [f[f"arr_{i}"] for i in range(len(f.files))]
    call = jax.jit(exp.call, compiler_options=meta["xla_cpu_compile_options"] or None)
    score = np.asarray(call(params, np.load(images))["score"])
    assert meta["verdict"].startswith("anomalous when score > threshold, normal when score <= ")
    assert "invalid when the score is not finite" in meta["verdict"]
    verdicts = [
        "invalid" if not np.isfinite(s) else "anomalous" if s > fn["threshold"] else "normal"
        for s in score
    ]
    assert "anogan_jax" not in sys.modules and "flax" not in sys.modules
    json.dump({"score": score.tolist(), "verdict": verdicts}, open(images + ".json", "w"))
    """
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A grey 16 x 16 texture run with an izi_f encoder, exported; and the odd files."""
    root = tmp_path_factory.mktemp("export_pre")
    make_texture_folder(root / "tex", size=16, num_train=24, num_test_good=4, num_test_per_defect=2)
    run = root / "run"
    argv = ["train", "--dataset", f"folder:{root / 'tex'}", "--image-size", "16", *TINY]
    assert cli.main([*argv, "--out", str(run)]) == 0
    encoder = ["train-encoder", "--run", str(run), "--steps", "1", "--batch-size", "8"]
    assert cli.main([*encoder, "--quiet"]) == 0
    assert cli.main(["export", "--run", str(run), "--out", str(root / "export"), *SEARCH]) == 0
    return dict(root=root, run=run, export=root / "export", files=_files(root / "files"))


def _consume(exported, channels: int, how: str, tmp_path) -> np.ndarray:
    meta = tmp_path / "scorer.json"
    meta.write_text((exported["export"] / "scorer.json").read_text())
    script = tmp_path / "consumer.py"
    script.write_text(CONSUMER)
    files = [str(f) for f in exported["files"]]
    subprocess.run([sys.executable, script, meta, str(channels), *files, how], check=True)
    return np.load(f"{meta}.{channels}.{how}.npy")


@pytest.mark.parametrize("channels", [1, 3])
def test_following_scorer_json_gives_predicts_pixels(exported, channels, tmp_path):
    theirs = _consume(exported, channels, "rules", tmp_path)
    ours = datasets.load_image_files(exported["files"], image_size=16, channels=channels)
    names = [f.name for f in exported["files"]]
    differ = [n for n, a, b in zip(names, theirs, ours, strict=True) if not np.array_equal(a, b)]
    assert differ == []
    if channels == 1:  # Pillow's convert('L') alone clips 16-bit grey: not the rule
        naive = _consume(exported, channels, "naive", tmp_path)
        assert not np.array_equal(naive[names.index("grey16.png")], ours[names.index("grey16.png")])


def test_serving_by_scorer_json_gives_predicts_verdicts_and_flags_non_finite_images(
    exported, tmp_path
):
    pred = tmp_path / "pred"
    argv = ["predict", "--run", exported["run"], *exported["files"], "--out", pred, *SEARCH]
    assert cli.main([str(a) for a in [*argv, "--quiet"]]) == 0
    with open(pred / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    pixels = _consume(exported, 1, "rules", tmp_path)
    bad = np.stack([pixels[0], pixels[0], pixels[0]])
    bad[0, 3, 3, 0], bad[1, 0, 0, 0], bad[2, 5, 1, 0] = np.nan, np.inf, -np.inf
    np.save(tmp_path / "x.npy", np.concatenate([pixels, bad]))
    script = tmp_path / "serve.py"
    script.write_text(SERVE)
    subprocess.run([sys.executable, script, exported["export"], tmp_path / "x.npy"], check=True)
    served = json.loads((tmp_path / "x.npy.json").read_text())
    n = len(rows)
    assert served["score"][:n] == [np.float32(r["score"]) for r in rows]
    verdicts = {"yes": "anomalous", "no": "normal"}
    assert served["verdict"][:n] == [verdicts[r["anomalous"]] for r in rows]
    assert served["verdict"][n:] == ["invalid"] * 3
    meta = json.loads((exported["export"] / "scorer.json").read_text())
    assert meta["functions"]["fanogan"]["threshold"] == pytest.approx(float(rows[0]["threshold"]))
