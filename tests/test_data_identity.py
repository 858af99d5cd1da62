"""A run, an encoder, a score folder and an export know the data they were made from
(``runs.identity``): changed images are refused by name, a relative folder path means the
same images from any working folder, and the validation split of a folder dataset does not
move when files are added."""

import json
import shutil
from pathlib import Path

import pytest

from anogan_jax import cli, data
from anogan_jax.runs.textures import make_texture_folder

SMALL = dict(size=16, num_train=20, num_test_good=4, num_test_per_defect=2)
TRAIN = ["--arch", "mlp", "--image-size", "16", "--latent-dim", "8", "--batch-size", "8"]
TRAIN += ["--steps", "2", "--quiet", "--checkpoint-every", "2", "--sample-every", "2"]
SCORE = ["--method", "anogan", "--num-steps", "2", "--batch-size", "8", "--val-images", "2"]
SCORE += ["--quiet"]


def _run(argv):
    assert cli.main([str(a) for a in argv]) == 0, argv


def _bytes(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(Path(folder).rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def _train(folder: Path, run: Path, dataset: str | None = None) -> None:
    _run(["train", "--dataset", dataset or f"folder:{folder}", *TRAIN, "--out", run])


@pytest.fixture
def trained(tmp_path):
    folder = tmp_path / "textures"
    make_texture_folder(folder, seed=1, **SMALL)
    _train(folder, tmp_path / "run")
    return folder, tmp_path / "run"


def _add_training_image(folder: Path, name: str) -> None:
    good = folder / "train" / "good"
    shutil.copyfile(good / "000.png", good / name)


def test_images_added_to_train_good_refuse_resume_score_and_encoder(trained, tmp_path, refused):
    folder, run = trained
    added = "extra.png"  # its name's hash makes it a training image, not a validation one
    encoder = ["train-encoder", "--run", str(run), "--steps", "2", "--batch-size", "8", "--quiet"]
    _run(encoder)
    _add_training_image(folder, added)
    before = _bytes(run)
    expected = "the train split holds 20 images with digest"  # 19 before, and 1 validation
    refused(["train", "--steps", "4", "--quiet", "--out", str(run), "--resume"], expected)
    refused(["score", "--run", str(run), "--out", str(tmp_path / "s"), *SCORE], expected)
    refused([*encoder, "--overwrite"], expected)
    refused(["export", "--run", str(run), "--out", str(tmp_path / "e"), *SCORE[2:]], expected)
    files = [str(folder / "test" / "good" / "000.png")]
    argv = ["predict", "--run", str(run), *files, "--out", str(tmp_path / "p"), *SCORE]
    refused(argv, expected)
    assert _bytes(run) == before


def test_the_run_records_its_data(trained):
    folder, run = trained
    config = json.loads((run / "config.json").read_text())
    record = json.loads((run / "data.json").read_text())
    assert config["dataset"] == f"folder:{folder.resolve()}"
    assert record["path"] == str(folder.resolve())
    counts = {s: record["splits"][s]["images"] for s in ("train", "val", "test")}
    assert counts == {"train": 19, "val": 1, "test": 4 + 3 * 2}


def test_score_resume_after_test_images_changed_is_refused(trained, tmp_path, refused):
    folder, run = trained
    out = tmp_path / "scores"
    argv = ["score", "--run", str(run), "--out", str(out), *SCORE]
    _run(argv)
    before = _bytes(out)
    good = folder / "test" / "good"
    shutil.copyfile(good / "001.png", good / "000.png")  # same names, other content
    refused([*argv, "--resume"], "the test split holds 10 images")
    assert _bytes(out) == before
    _run([*argv, "--overwrite"])  # scoring the images there now is fine


def test_the_validation_split_does_not_move_when_files_are_added(tmp_path):
    folder = tmp_path / "textures"
    make_texture_folder(folder, seed=1, **SMALL)

    def split():
        return data.load_one_class(
            f"folder:{folder}", protocol="one_class_normal", cls=0, image_size=16, channels=1
        )

    first = split()
    for i in range(5):  # names that sort first: every old file's place in the list moves
        _add_training_image(folder, f"-added_{i}.png")
    second = split()
    # Each earlier validation image is still one; added files join train or val by name.
    assert len(second.train) + len(second.val) == len(first.train) + len(first.val) + 5
    val_bytes = {v.tobytes() for v in second.val}
    assert all(v.tobytes() in val_bytes for v in first.val)
    train_bytes = {t.tobytes() for t in second.train}
    assert all(t.tobytes() in train_bytes for t in first.train)


def test_a_relative_folder_path_scores_the_same_data_from_another_folder(tmp_path, monkeypatch):
    here, there = tmp_path / "here", tmp_path / "there"
    make_texture_folder(here / "textures", seed=1, **SMALL)
    make_texture_folder(there / "textures", seed=2, **SMALL)  # same name, other images
    monkeypatch.chdir(here)
    _train(here / "textures", tmp_path / "run", dataset="folder:textures")
    _run(["score", "--run", tmp_path / "run", "--out", tmp_path / "s1", *SCORE])
    monkeypatch.chdir(there)
    _run(["score", "--run", tmp_path / "run", "--out", tmp_path / "s2", *SCORE])
    rows = [(tmp_path / s / "scores.csv").read_text() for s in ("s1", "s2")]
    assert rows[0] == rows[1]


def test_a_run_without_a_data_record_still_scores(trained, tmp_path, capsys):
    folder, run = trained
    _run(["score", "--run", run, "--out", tmp_path / "s1", *SCORE])
    (run / "data.json").unlink()  # a run folder written before these records
    capsys.readouterr()
    _run(["score", "--run", run, "--out", tmp_path / "s2", *SCORE])
    assert "records no data identity" in capsys.readouterr().out
    rows = [(tmp_path / s / "scores.csv").read_text() for s in ("s1", "s2")]
    assert rows[0] == rows[1]


def test_an_old_run_saved_with_a_relative_path_still_resumes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_texture_folder(tmp_path / "textures", seed=1, **SMALL)
    run = tmp_path / "run"
    _train(tmp_path / "textures", run, dataset="folder:textures")
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "dataset": "folder:textures"}))
    (run / "data.json").unlink()  # as written before runs recorded their data
    _run(["train", "--dataset", "folder:textures", "--out", run, "--resume", "--steps", "4"])
    assert json.loads((run / "config.json").read_text())["dataset"] == "folder:textures"
    assert json.loads((run / "data.json").read_text())["path"] == str(
        (tmp_path / "textures").resolve()
    )
