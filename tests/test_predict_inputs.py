"""What ``predict`` and a folder dataset read, through the CLI: the folder walk (hidden folders
skipped, links to folders followed, the output folder left out), masks matched to exactly one
image, and a search score that is a function of the image, not of its place in the list."""

import csv
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anogan_jax import cli
from anogan_jax.runs.textures import make_texture_folder

TINY = ["--arch", "mlp", "--batch-size", "8", "--latent-dim", "8", "--quiet", "--steps", "1"]
SEARCH = ["--num-steps", "2", "--micro-batch", "4", "--batch-size", "8", "--val-images", "8"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """A 16 x 16 texture folder and a tiny MLP run trained on it."""
    root = tmp_path_factory.mktemp("predict_inputs")
    make_texture_folder(root / "tex", size=16, num_train=24, num_test_good=4, num_test_per_defect=2)
    argv = ["train", "--dataset", f"folder:{root / 'tex'}", "--image-size", "16", *TINY]
    assert cli.main([*argv, "--out", str(root / "run")]) == 0
    return root


def _predict(ws: Path, *args) -> int:
    argv = ["predict", "--run", ws / "run", "--quiet", "--method", "anogan", *SEARCH, *args]
    return cli.main([str(a) for a in argv])


def _rows(out: Path) -> list[dict]:
    with open(out / "predictions.csv", newline="") as f:
        return list(csv.DictReader(f))


def _digest(folder: Path) -> dict:
    """Every file under ``folder`` (links followed) and the sha256 of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def _three_images(folder: Path, ws: Path) -> Path:
    """Three test images (two anomalous, one normal) copied into a new ``folder``."""
    folder.mkdir(parents=True)
    test = ws / "tex" / "test"
    for src, name in ((test / "blob/000.png", "000"), (test / "blob/001.png", "001")):
        shutil.copy(src, folder / f"{name}.png")
    shutil.copy(test / "good/000.png", folder / "002.png")
    return folder


def test_predict_does_not_score_its_own_output_inside_an_input_folder(ws, tmp_path):
    images = _three_images(tmp_path / "in", ws)
    out = images / "pred"
    assert _predict(ws, images, "--out", out) == 0
    assert len(_rows(out)) == 3
    assert _predict(ws, images, "--out", out, "--overwrite") == 0  # out/images/ holds 3 PNGs
    rows = _rows(out)
    assert [Path(r["file"]).name for r in rows] == ["000.png", "001.png", "002.png"]
    assert _predict(ws, images, "--out", images / "again") == 0  # pred/ is an earlier result
    assert [r["file"] for r in _rows(images / "again")] == [r["file"] for r in rows]


def test_predict_refuses_an_out_that_is_an_input_folder(ws, tmp_path, refused):
    images = _three_images(tmp_path / "in", ws)
    before = _digest(images)
    refused(
        ["predict", "--run", str(ws / "run"), str(images), "--out", str(images), "--quiet"]
        + ["--method", "anogan"],
        f"--out {images} is the input folder",
    )
    assert _digest(images) == before


def test_predict_skips_hidden_folders_and_follows_links_to_folders(ws, tmp_path):
    images = _three_images(tmp_path / "in", ws)
    hidden = images / ".ipynb_checkpoints"
    hidden.mkdir()
    shutil.copy(images / "000.png", hidden / "000-checkpoint.png")
    shutil.copy(images / "000.png", images / ".hidden.png")
    elsewhere = _three_images(tmp_path / "elsewhere", ws)
    os.symlink(elsewhere, images / "linked")
    os.symlink(images, images / "linked" / "loop")  # a cycle: each real folder is read once
    out = tmp_path / "out"
    assert _predict(ws, images, "--out", out) == 0
    files = [Path(r["file"]).relative_to(images).as_posix() for r in _rows(out)]
    assert files == ["000.png", "001.png", "002.png"] + [
        f"linked/{n}" for n in ("000.png", "001.png", "002.png")
    ]


def test_predict_help_says_how_folders_are_searched(capsys):
    with pytest.raises(SystemExit):
        cli.main(["predict", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "hidden files and folders skipped, links to folders followed" in text
    assert "the --out folder and earlier predict results left out" in text


def test_a_search_score_depends_on_the_image_not_its_place(ws, tmp_path):
    images = tmp_path / "same"
    images.mkdir()
    for i in range(4):
        shutil.copy(ws / "tex" / "test" / "blob" / "000.png", images / f"copy{i}.png")
    shutil.copy(ws / "tex" / "test" / "good" / "000.png", images / "other.png")
    assert _predict(ws, images, "--out", tmp_path / "a") == 0
    scores = [r["score"] for r in _rows(tmp_path / "a")]
    assert len(set(scores[:4])) == 1 and scores[4] != scores[0], scores
    # The same image alone, last in another list: the same score.
    single = [images / "other.png", images / "copy0.png"]
    assert _predict(ws, *single, "--out", tmp_path / "b") == 0
    assert [r["score"] for r in _rows(tmp_path / "b")] == [scores[4], scores[0]]


def test_predict_gives_scores_search_scores_on_a_folder_run(ws, tmp_path):
    score = tmp_path / "score"
    argv = ["score", "--run", ws / "run", "--method", "anogan", *SEARCH, "--out", score, "--quiet"]
    assert cli.main([str(a) for a in argv]) == 0
    with open(score / "scores.csv", newline="") as f:
        scored = list(csv.DictReader(f))
    test = ws / "tex" / "test"
    assert _predict(ws, test, "--out", tmp_path / "pred") == 0
    by_file = {Path(r["file"]).relative_to(test).as_posix(): r for r in _rows(tmp_path / "pred")}
    kinds = ["good", "blob", "hole", "scratch"]
    files = [f"{k}/{p.name}" for k in kinds for p in sorted((test / k).glob("*.png"))]
    test_rows = [r for r in scored if r["split"] == "test"]
    assert len(test_rows) == len(files) == len(by_file)
    for f, s in zip(files, test_rows, strict=True):
        assert by_file[f]["score"] == s["A"], f
    metrics = json.loads((score / "metrics.json").read_text())
    assert float(by_file[files[0]]["threshold"]) == pytest.approx(
        metrics["scores"]["A"]["threshold"], rel=1e-7
    )


def _save(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def test_two_test_images_sharing_a_stem_are_refused(ws, tmp_path, refused):
    folder = tmp_path / "ds"
    shutil.copytree(ws / "tex", folder)
    Image.open(folder / "test/blob/000.png").convert("L").save(folder / "test/blob/000.jpg")
    before = _digest(folder)
    argv = ["train", "--dataset", f"folder:{folder}", "--image-size", "16", *TINY]
    refused(
        [*argv, "--out", str(tmp_path / "run")],
        f"{folder / 'test/blob/000.jpg'} and {folder / 'test/blob/000.png'} share the stem '000'",
    )
    (folder / "test/blob/000.jpg").unlink()
    shutil.copy(
        folder / "ground_truth/blob/000_mask.png", folder / "ground_truth/blob/000_mask.jpg"
    )
    refused(
        [*argv, "--out", str(tmp_path / "run")],
        f"{folder / 'ground_truth/blob/000_mask.jpg'} and "
        f"{folder / 'ground_truth/blob/000_mask.png'} are both masks of the image stem '000'",
    )
    before.pop("test/blob/000.jpg")
    assert {k: v for k, v in _digest(folder).items() if not k.endswith(".jpg")} == before


def test_an_image_with_a_long_name_gets_its_row_and_its_figure(ws, tmp_path):
    images = tmp_path / "in"
    images.mkdir()
    long = "é" * 60 + "x" * 130  # 250 bytes of UTF-8 in the stem: the file name is 254
    shutil.copy(ws / "tex/test/blob/000.png", images / f"{long}.png")
    assert _predict(ws, images, "--out", tmp_path / "out") == 0
    (row,) = _rows(tmp_path / "out")
    assert Path(row["file"]).name == f"{long}.png"
    (figure,) = (tmp_path / "out" / "images").iterdir()
    assert figure.name.startswith("00000_ééé") and len(os.fsencode(figure.name)) <= 255
