"""The synthetic MVTec-style texture folders: layout, determinism, masks, loading, refusals."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anogan_jax import datasets
from anogan_jax.runs import textures
from anogan_jax.runs.config import RunError

SMALL = dict(size=16, num_train=6, num_test_good=3, num_test_per_defect=2)


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ANOGAN_JAX_CACHE", str(tmp_path / "cache"))


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_layout_counts_and_formats(tmp_path):
    counts = textures.make_texture_folder(tmp_path / "t", channels=3, **SMALL)
    expected = {"train/good": 6, "test/good": 3}
    for kind in textures.DEFECTS:
        expected |= {f"test/{kind}": 2, f"ground_truth/{kind}": 2}
    assert counts == expected
    files = tree(tmp_path / "t")
    assert len(files) == sum(expected.values())
    assert "test/blob/001.png" in files and "ground_truth/blob/001_mask.png" in files
    with Image.open(tmp_path / "t/train/good/005.png") as img:
        assert (img.mode, img.size) == ("RGB", (16, 16))
    with Image.open(tmp_path / "t/ground_truth/hole/000_mask.png") as mask:
        assert mask.mode == "L" and set(np.unique(np.asarray(mask))) == {0, 255}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t"]  # no temporary folder left


def test_same_seed_writes_identical_bytes(tmp_path):
    a = tree_of(tmp_path / "a", seed=3)
    assert a == tree_of(tmp_path / "b", seed=3)
    other = tree_of(tmp_path / "c", seed=4)
    assert a.keys() == other.keys() and all(a[k] != other[k] for k in a)


def tree_of(out: Path, seed: int) -> dict[str, bytes]:
    textures.make_texture_folder(out, seed=seed, **SMALL)
    return tree(out)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("kind", textures.DEFECTS)
def test_draw_defect_changes_only_the_masked_pixels(kind, channels):
    rng = np.random.default_rng(0)
    for _ in range(20):
        clean = textures.texture(rng, 32, channels)
        assert clean.shape == (32, 32, channels) and clean.dtype == np.uint8
        image, mask = textures.draw_defect(rng, clean, kind)
        changed = (image != clean).any(axis=-1)
        assert mask.any() and not (changed & ~mask).any()
        assert changed[mask].mean() > 0.5
    with pytest.raises(ValueError, match="unknown defect 'dent'"):
        textures.draw_defect(rng, clean, "dent")


def test_written_masks_mark_the_defects_in_their_images(tmp_path):
    root = tmp_path / "t"
    textures.make_texture_folder(root, **SMALL)
    # A scratch is drawn in 1.35 x the clean image's mean grey, a hole in 0.55 x: one flat
    # value under the mask, close to that share of the grey outside it.
    for kind, shade in [("hole", 0.55), ("scratch", 1.35)]:
        for i in range(2):
            image = np.asarray(Image.open(root / f"test/{kind}/{i:03d}.png")).astype(float)
            mask = np.asarray(Image.open(root / f"ground_truth/{kind}/{i:03d}_mask.png")) > 0
            assert mask.any() and len(np.unique(image[mask])) == 1
            assert image[mask][0] == pytest.approx(shade * image[~mask].mean(), abs=5)
    assert not (root / "ground_truth/good").exists()


@pytest.mark.parametrize("channels", [1, 3])
def test_loads_as_a_folder_dataset(tmp_path, channels):
    root = tmp_path / "t"
    textures.make_texture_folder(root, channels=channels, **SMALL)
    train, test = datasets.load_dataset(f"folder:{root}", image_size=16)
    assert train.images.shape == (6, 16, 16, channels) and test.images.shape == (
        9,
        16,
        16,
        channels,
    )
    assert test.class_names == ("good", "blob", "hole", "scratch")
    np.testing.assert_array_equal(test.labels, [0, 0, 0, 1, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(test.masks.any(axis=(1, 2)), test.labels > 0)
    assert -1.0 <= train.images.min() < train.images.max() <= 1.0


def test_refuses_a_non_empty_folder_or_a_file_and_changes_nothing(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(RunError, match="mine is a folder that is not empty"):
        textures.make_texture_folder(out, **SMALL)
    assert tree(out) == {"notes.txt": b"keep me"}
    (tmp_path / "f").write_text("x")
    with pytest.raises(RunError, match="f is a file"):
        textures.make_texture_folder(tmp_path / "f", **SMALL)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "mine"]
    (tmp_path / "empty").mkdir()
    assert textures.make_texture_folder(tmp_path / "empty", **SMALL)["train/good"] == 6


def test_an_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def failing_save(path, pixels):
        calls.append(path)
        if len(calls) == 5:
            raise KeyboardInterrupt

    monkeypatch.setattr(textures, "_save_png", failing_save)
    with pytest.raises(KeyboardInterrupt):
        textures.make_texture_folder(tmp_path / "t", **SMALL)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(channels=2), "channels must be 1 .grey. or 3 .RGB., got 2"),
        (dict(size=4), r"size must be an integer in 8\.\.1024 pixels, got 4"),
        (dict(num_train=0), "num_train must be a positive integer, got 0"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(RunError, match=message):
        textures.make_texture_folder(tmp_path / "t", **{**SMALL, **kwargs})
    assert not (tmp_path / "t").exists()
