"""Folder datasets (MVTec AD layout): decoding, the resize rule, labels, masks, the content-keyed
cache and the messages for broken folders."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anogan_jax import data, datasets, image_folder


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    """A fresh on-disk and in-memory cache per test."""
    monkeypatch.setenv("ANOGAN_JAX_CACHE", str(tmp_path / "cache"))
    image_folder._load_cached.cache_clear()
    yield tmp_path / "cache" / "datasets"
    image_folder._load_cached.cache_clear()


def save(path: Path, pixels, mode=None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(pixels), mode).save(path)


def grey(value: int, w: int = 20, h: int = 30) -> np.ndarray:
    return np.full((h, w), value, np.uint8)


def make_folder(root: Path, *, masks: bool = True, rgb: bool = False) -> Path:
    """train/good 000-003, test/good 000-001, test/blob 000-001, test/scratch 000; every image
    constant (value = 10 * its position in load order + 10), 20 wide and 30 high; each mask
    covers the left half of its image."""
    files = [f"train/good/{i:03d}.png" for i in range(4)]
    files += ["test/good/000.png", "test/good/001.png", "test/blob/000.png", "test/blob/001.png"]
    files += ["test/scratch/000.png"]
    for i, rel in enumerate(files):
        pixels = grey(10 * i + 10)
        save(root / rel, np.stack([pixels, pixels // 2, pixels // 3], -1) if rgb else pixels)
    if masks:
        left = np.zeros((30, 20), np.uint8)
        left[:, :10] = 255
        for rel in files[6:]:
            kind, stem = rel.split("/")[1], Path(rel).stem
            save(root / "ground_truth" / kind / f"{stem}_mask.png", left)
    return root


def unit(v) -> np.ndarray:
    return np.float32(v) / np.float32(127.5) - np.float32(1.0)


def test_grey_round_trip_shapes_labels_names_and_masks(tmp_path):
    root = make_folder(tmp_path / "ds")
    train, test = datasets.load_dataset(f"folder:{root}", image_size=16)
    assert train.images.shape == (4, 16, 16, 1) and test.images.shape == (5, 16, 16, 1)
    assert train.images.dtype == np.float32 and test.images.min() >= -1.0
    np.testing.assert_array_equal(train.labels, 0)
    np.testing.assert_array_equal(test.labels, [0, 0, 1, 1, 2])
    assert test.class_names == train.class_names == ("good", "blob", "scratch")
    assert test.names == (
        "test/good/000.png",
        "test/good/001.png",
        "test/blob/000.png",
        "test/blob/001.png",
        "test/scratch/000.png",
    )
    assert train.names == tuple(f"train/good/{i:03d}.png" for i in range(4))
    for i, image in enumerate(np.concatenate([train.images, test.images])):
        np.testing.assert_allclose(image, unit(10 * i + 10), atol=1e-6)  # aligned with names
    assert test.masks.shape == (5, 16, 16) and test.masks.dtype == np.uint8
    np.testing.assert_array_equal(test.masks[:2], 0)
    np.testing.assert_array_equal(test.masks[2:, :, :8], 1)  # the left half, after the crop
    np.testing.assert_array_equal(test.masks[2:, :, 8:], 0)
    np.testing.assert_array_equal(train.masks, np.zeros((4, 16, 16), np.uint8))


def test_rgb_channels_as_stored_and_converted(tmp_path):
    root = make_folder(tmp_path / "ds", masks=False, rgb=True)
    train, test = datasets.load_dataset(f"folder:{root}")
    assert train.images.shape == (4, 64, 64, 3) and test.masks is None
    np.testing.assert_allclose(train.images[1, 5, 5], unit([20, 10, 6]), atol=1e-6)
    grey_train, _ = datasets.load_dataset(f"folder:{root}", channels=1)
    luma = (20 * 299 + 10 * 587 + 6 * 114) / 1000  # ITU-R 601, as Pillow's convert("L")
    np.testing.assert_allclose(grey_train.images[1], unit(round(luma)), atol=1e-6)
    rgb_of_grey, _ = datasets.load_dataset(f"folder:{make_folder(tmp_path / 'g')}", channels=3)
    assert rgb_of_grey.images.shape == (4, 64, 64, 3)
    assert datasets.dataset_image_shape(f"folder:{root}") == (64, 64, 3)
    assert datasets.dataset_image_shape(f"folder:{root}", 32, 1) == (32, 32, 1)
    assert datasets.dataset_image_shape("digits") == (28, 28, 1)


def test_resize_rule_crops_the_centred_square_and_mixed_sizes_are_fine(tmp_path):
    root = make_folder(tmp_path / "ds", masks=False)
    wide = np.zeros((10, 30), np.uint8)
    wide[:, 10:20] = 255  # only the centred 10x10 square is bright
    save(root / "train/good/wide.png", wide)
    save(root / "train/good/big.png", grey(7, 200, 90))
    train, _ = datasets.load_dataset(f"folder:{root}", image_size=10)
    assert train.names[-2:] == ("train/good/big.png", "train/good/wide.png")
    np.testing.assert_array_equal(train.images[-1], 1.0)
    np.testing.assert_allclose(train.images[-2], unit(7), atol=1e-6)


def test_pillow_modes_extensions_and_ignored_files(tmp_path):
    root = make_folder(tmp_path / "ds", masks=False)
    save(root / "train/good/p16.png", np.full((8, 8), 65535, np.uint16))
    save(root / "train/good/la.PNG", np.full((8, 8, 2), 255, np.uint8))
    Image.fromarray(grey(128, 8, 8)).save(root / "train/good/j.JPEG")
    save(root / "train/good/.hidden.png", grey(0))
    (root / "train/good/notes.txt").write_text("not an image")
    (root / "train/good/sub").mkdir()
    train, _ = datasets.load_dataset(f"folder:{root}", image_size=8)
    assert train.images.shape[-1] == 1  # 16-bit grey and grey+alpha count as single-channel
    assert len(train.names) == 7 and "train/good/.hidden.png" not in train.names
    named = dict(zip(train.names, train.images, strict=True))
    np.testing.assert_array_equal(named["train/good/p16.png"], 1.0)  # scaled, not clipped
    np.testing.assert_array_equal(named["train/good/la.PNG"], 1.0)
    np.testing.assert_allclose(named["train/good/j.JPEG"], unit(128), atol=2 / 127.5)
    palette = Image.fromarray(grey(50, 8, 8)).convert("P")
    palette.save(root / "train/good/pal.png")
    assert datasets.load_dataset(f"folder:{root}", image_size=8)[0].images.shape[-1] == 3


def test_masks_of_any_mode_mark_their_non_zero_pixels(tmp_path):
    root = make_folder(tmp_path / "ds")
    left = np.zeros((30, 20), np.uint16)
    left[:, :10] = 1
    save(root / "ground_truth/blob/000_mask.png", left)  # 16-bit, 0/1
    red = np.zeros((30, 20, 3), np.uint8)
    red[:, :10, 0] = 255
    save(root / "ground_truth/blob/001_mask.png", red)
    _, test = datasets.load_dataset(f"folder:{root}", image_size=16)
    np.testing.assert_array_equal(test.masks[2:4, :, :8], 1)
    np.testing.assert_array_equal(test.masks[2:4, :, 8:], 0)


def test_cache_is_reused_and_keyed_on_content(tmp_path, cache_dir, monkeypatch):
    root = make_folder(tmp_path / "ds")
    name = f"folder:{root}"
    first, _ = datasets.load_dataset(name, image_size=16)
    assert len(list(cache_dir.glob("folder-*.npz"))) == 1
    image_folder._load_cached.cache_clear()

    def no_decoding(*args):
        raise AssertionError("decoded again")

    monkeypatch.setattr(image_folder, "_decode_folder", no_decoding)
    again, test = datasets.load_dataset(name, image_size=16)  # from the disk cache
    np.testing.assert_array_equal(again.images, first.images)
    assert test.names[2] == "test/blob/000.png" and test.masks[2].any()
    save(root / "train/good/001.png", grey(99))  # same path, new bytes
    with pytest.raises(AssertionError, match="decoded again"):
        datasets.load_dataset(name, image_size=16)  # the in-memory cache is keyed on content too
    monkeypatch.undo()
    monkeypatch.setenv("ANOGAN_JAX_CACHE", str(cache_dir.parent))
    changed, _ = datasets.load_dataset(name, image_size=16)
    np.testing.assert_allclose(changed.images[1], unit(99), atol=1e-6)
    assert len(list(cache_dir.glob("folder-*.npz"))) == 2


def test_damaged_or_unwritable_cache_only_costs_time(tmp_path, cache_dir, monkeypatch):
    root = make_folder(tmp_path / "ds")
    first, _ = datasets.load_dataset(f"folder:{root}")
    (cache_file,) = cache_dir.glob("folder-*.npz")
    cache_file.write_bytes(b"damaged")
    image_folder._load_cached.cache_clear()
    again, _ = datasets.load_dataset(f"folder:{root}")
    np.testing.assert_array_equal(again.images, first.images)
    assert cache_file.stat().st_size > 100  # rebuilt
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv("ANOGAN_JAX_CACHE", str(blocker))  # its datasets/ cannot be created
    image_folder._load_cached.cache_clear()
    np.testing.assert_array_equal(datasets.load_dataset(f"folder:{root}")[0].images, first.images)


def test_one_class_split_of_a_folder_keeps_masks_names_and_classes(tmp_path):
    root = make_folder(tmp_path / "ds")
    d = data.load_one_class(
        f"folder:{root}", protocol="one_class_normal", cls=0, image_size=16, val_fraction=0.25
    )
    assert d.train.shape == (3, 16, 16, 1) and d.val.shape == (1, 16, 16, 1)
    np.testing.assert_array_equal(d.test_labels, [0, 0, 1, 1, 1])
    np.testing.assert_array_equal(d.test_classes, [0, 0, 1, 1, 2])
    assert d.test_names[4] == "test/scratch/000.png" and d.class_names[2] == "scratch"
    np.testing.assert_array_equal(d.test_masks.any(axis=(1, 2)), [0, 0, 1, 1, 1])
    for i in range(4):  # GCN needs images that are not constant
        save(
            root / f"train/good/{i:03d}.png",
            np.random.default_rng(i).integers(0, 256, (9, 9), np.uint8),
        )
    g = data.load_one_class(
        f"folder:{root}", protocol="one_class_normal", cls=0, gcn=True, val_fraction=0.25
    )
    assert g.train.min() == pytest.approx(-1.0) and g.train.max() == pytest.approx(1.0)
    assert g.test_masks is not None and np.isfinite(g.test).all()
    train, test = datasets.load_dataset("digits")
    plain = data.one_class_split(train, test, protocol="one_class_normal", cls=1)
    assert plain.test_masks is None and plain.test_names is None and plain.class_names is None


def _truncate(root: Path) -> None:
    path = root / "train/good/001.png"
    save(path, np.random.default_rng(0).integers(0, 256, (30, 20), np.uint8))
    path.write_bytes(path.read_bytes()[:300])  # cut inside the pixel data


def _extra_mask(root: Path) -> None:
    save(root / "ground_truth/blob/007_mask.png", grey(255))


def _small_mask(root: Path) -> None:
    save(root / "ground_truth/blob/001_mask.png", grey(255, 10, 12))


def _unknown_mask_type(root: Path) -> None:
    save(root / "ground_truth/crack/000_mask.png", grey(255))


BROKEN = [
    (lambda r: None, "ds/nope", "folder dataset .*nope does not exist"),
    (lambda r: (r / "f").write_text(""), "ds/f", "folder dataset .*f is a file"),
    (lambda r: (r / "x").mkdir(), "ds/x", "has no train/good folder"),
    (lambda r: (r / "x/train/good").mkdir(parents=True), "ds/x", r"good has no images \(ac"),
    (lambda r: save(r / "x/train/good/0.png", grey(1)), "ds/x", "x has no test folder"),
    (
        lambda r: [
            save(r / "x/train/good/0.png", grey(1)),
            (r / "x/test/good").mkdir(parents=True),
        ],
        "ds/x",
        "test has no images in its sub-folders",
    ),
    (_truncate, "ds", r"001\.png is damaged or truncated"),
    (lambda r: (r / "test/good/001.png").write_text("hi"), "ds", r"001\.png is not a PNG or JPEG"),
    (_extra_mask, "ds", r"blob/007_mask\.png matches no test image"),
    (_small_mask, "ds", r"001_mask\.png is 10x12 .* but its image .*001\.png is 20x30"),
    (lambda r: (r / "ground_truth/blob/001_mask.png").unlink(), "ds", r"blob/001\.png has no mask"),
    (_unknown_mask_type, "ds", r"crack holds masks of defect type 'crack'"),
    (lambda r: save(r / "ground_truth/blob/001.png", grey(1)), "ds", r"masks are named <image st"),
]


@pytest.mark.parametrize("breaks, where, message", BROKEN)
def test_broken_folders_have_clear_messages(tmp_path, breaks, where, message):
    root = make_folder(tmp_path / "ds")
    breaks(root)
    with pytest.raises(data.DataError, match=message):
        datasets.load_dataset(f"folder:{tmp_path / where}")


def test_missing_mask_folder_for_a_defect_type(tmp_path):
    root = make_folder(tmp_path / "ds")
    save(root / "test/crack/000.png", grey(1))
    with pytest.raises(data.DataError, match="has no mask folder for the defect type 'crack'"):
        datasets.load_dataset(f"folder:{root}")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(channels=4), "channels must be 1 .grey. or 3 .RGB., or None for as stored; got 4"),
        (dict(image_size=4), r"image_size must be in 8\.\.1024 pixels, got 4"),
        (dict(image_size=2048), r"image_size must be in 8\.\.1024 pixels, got 2048"),
        (dict(image_size=32.0), r"image_size must be an integer in 8\.\.1024, got 32\.0"),
    ],
)
def test_bad_shape_arguments(tmp_path, kwargs, message):
    root = make_folder(tmp_path / "ds")
    with pytest.raises(data.DataError, match=message):
        datasets.load_dataset(f"folder:{root}", **kwargs)


def test_folder_protocol_and_native_datasets_refuse_resizing(tmp_path):
    name = f"folder:{make_folder(tmp_path / 'ds')}"
    for protocol, cls in [("one_class_anomalous", 0), ("one_class_normal", 1)]:
        with pytest.raises(data.DataError, match="folder datasets have one normal class, 'good'"):
            data.load_one_class(name, protocol=protocol, cls=cls)
    with pytest.raises(data.DataError, match="only done for folder datasets"):
        datasets.load_dataset("digits", image_size=64)
    with pytest.raises(data.DataError, match="only done for folder datasets"):
        data.load_one_class("mnist", protocol="one_class_normal", cls=0, channels=3)
    assert datasets.load_dataset("digits", image_size=28, channels=1)[0].images.shape[1:] == (
        28,
        28,
        1,
    )
    assert datasets.is_dataset_name(name) and not datasets.is_dataset_name("folder:")


def test_a_folder_of_16_bit_grey_alpha_pngs_is_grey(tmp_path):
    """Pillow decodes a 16-bit grey+alpha PNG as RGBA; its header says grey, and so does the
    run trained on it."""
    import struct
    import zlib

    from anogan_jax import cli

    def png16_grey_alpha(path: Path, value: int) -> None:
        def chunk(kind: bytes, body: bytes) -> bytes:
            crc = struct.pack(">I", zlib.crc32(kind + body))
            return struct.pack(">I", len(body)) + kind + body + crc

        samples = np.full((30, 20, 2), [value * 257, 65535], ">u2")
        rows = b"".join(b"\0" + r.tobytes() for r in samples.reshape(30, -1))
        ihdr = struct.pack(">IIBBBBB", 20, 30, 16, 4, 0, 0, 0)
        body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)

    root = make_folder(tmp_path / "ds", masks=False)
    for i in range(4):
        png16_grey_alpha(root / f"train/good/{i:03d}.png", 10 * i + 10)
    assert datasets.dataset_image_shape(f"folder:{root}", 16) == (16, 16, 1)
    argv = ["train", "--dataset", f"folder:{root}", "--image-size", "16", "--arch", "mlp"]
    argv += ["--batch-size", "3", "--steps", "1", "--val-fraction", "0.25", "--quiet"]
    argv += ["--out", str(tmp_path / "run")]
    assert cli.main(argv) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["channels"] == 1
    train, _ = datasets.load_dataset(f"folder:{root}", image_size=16)
    np.testing.assert_allclose(train.images[:, 0, 0, 0], unit(np.array([10, 20, 30, 40])))


def test_a_cache_entry_made_for_other_files_is_not_trusted(tmp_path, cache_dir):
    """Two folders whose arrays have the same shapes: the entry of one, put in the place of
    the other's, is rebuilt, not served."""
    a = make_folder(tmp_path / "a")
    b = make_folder(tmp_path / "b")
    save(b / "train/good/000.png", grey(200))
    first_a, _ = datasets.load_dataset(f"folder:{a}", image_size=16)
    (entry_a,) = cache_dir.glob("folder-*.npz")
    first_b, _ = datasets.load_dataset(f"folder:{b}", image_size=16)
    (entry_b,) = set(cache_dir.glob("folder-*.npz")) - {entry_a}
    entry_a.write_bytes(entry_b.read_bytes())
    image_folder._load_cached.cache_clear()
    again_a, _ = datasets.load_dataset(f"folder:{a}", image_size=16)
    np.testing.assert_array_equal(again_a.images, first_a.images)
    assert not np.array_equal(first_a.images, first_b.images)


def test_an_empty_mask_folder_of_a_type_without_images_is_ignored(tmp_path, capsys):
    """Like an empty test/<type> folder; one that holds masks is still refused."""
    from anogan_jax import cli

    root = make_folder(tmp_path / "ds")
    (root / "ground_truth" / "crack").mkdir()
    (root / "test" / "crack").mkdir()
    argv = ["train", "--dataset", f"folder:{root}", "--image-size", "16", "--arch", "mlp"]
    argv += ["--batch-size", "3", "--steps", "1", "--val-fraction", "0.25", "--quiet"]
    assert cli.main([*argv, "--out", str(tmp_path / "run")]) == 0
    _, test = datasets.load_dataset(f"folder:{root}", image_size=16)
    assert test.class_names == ("good", "blob", "scratch")
    save(root / "ground_truth" / "crack" / "000_mask.png", grey(255))
    capsys.readouterr()
    assert cli.main([*argv, "--out", str(tmp_path / "run2")]) == 2
    assert "crack holds masks of defect type 'crack'" in capsys.readouterr().err
