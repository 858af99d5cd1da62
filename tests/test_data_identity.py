"""A run, an encoder, a score folder and an export know the data they were made from
(``runs.identity``): changed images are refused by name, a relative folder path means the
same images from any working folder, and the validation split of a folder dataset does not
move when files are added."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
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
    files = [str(folder / "test" / "good" / "000.png")]
    refused(["predict", "--run", str(run), *files, "--out", str(tmp_path / "p"), *SCORE], expected)
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
    # The test images score alike; the validation images are those of the earlier rule.
    rows = [_rows(tmp_path / s / "scores.csv") for s in ("s1", "s2")]
    assert [r for r in rows[0] if r[1] == "test"] == [r for r in rows[1] if r[1] == "test"]
    assert [sum(r[1] == "val" for r in x) for x in rows] == [1, 2]


def _rows(path: Path) -> list[list[str]]:
    return [line.split(",") for line in path.read_text().splitlines()[1:]]


def _record(folder: Path) -> dict:
    return json.loads((folder / "data.json").read_text())


@pytest.mark.slow  # more than 5 s: two trainings
def test_train_resume_continues_on_new_data_only_with_the_option_and_records_it(
    trained, tmp_path, refused
):
    folder, run = trained
    _add_training_image(folder, "extra.png")
    resume = ["train", "--steps", "4", "--quiet", "--out", str(run), "--resume"]
    before, images = _bytes(run), _bytes(folder)
    refused(resume, "or continue on them with --accept-new-data (recorded in data.json)")
    refused([*resume[:-1], "--accept-new-data"], "--accept-new-data continues a run on images")
    assert _bytes(run) == before and _bytes(folder) == images
    old = _record(run)
    _run([*resume, "--accept-new-data"])
    record = _record(run)
    (entry,) = record["accepted"]
    assert entry["command"] == "train --resume" and entry["step"] == 2
    assert entry["from"] == old and entry["to"]["splits"] == record["splits"]
    assert record["splits"]["train"]["images"] == old["splits"]["train"]["images"] + 1
    assert record["splits"]["train"]["sha256"] != old["splits"]["train"]["sha256"]
    assert record["splits"]["val"] == old["splits"]["val"]
    # The new data is now the run's: later commands check against it, and keep the history.
    _run(["train", "--steps", "6", "--quiet", "--out", run, "--resume"])
    assert _record(run) == record
    _run(["score", "--run", run, "--out", tmp_path / "s", *SCORE])


def test_score_accepts_new_training_data_only_with_the_option_and_records_it(
    trained, tmp_path, refused
):
    folder, run = trained
    _add_training_image(folder, "extra.png")
    out = tmp_path / "s"
    argv = ["score", "--run", str(run), "--out", str(out), *SCORE]
    before = _bytes(run)
    refused(argv, "or score with them as they are now with --accept-new-data")
    _run([*argv, "--accept-new-data"])
    assert _bytes(run) == before  # the run's own record stays as it was
    (entry,) = _record(out)["accepted"]
    assert entry["command"] == "score" and entry["step"] == 2
    assert entry["from"] == json.loads(before["data.json"])
    assert entry["to"]["splits"]["train"]["images"] == 20
    assert _record(out)["splits"] == entry["to"]["splits"]


def test_commands_without_the_option_say_how_to_record_new_data(trained, tmp_path, refused):
    from anogan_jax.cli_parser import build_parser

    folder, run = trained
    _add_training_image(folder, "extra.png")
    expected = f"record them in the run with `train --out {run} --resume --accept-new-data`"
    files = [str(folder / "test" / "good" / "000.png")]
    refused(["predict", "--run", str(run), *files, "--out", str(tmp_path / "p"), *SCORE], expected)
    commands = build_parser()._subparsers._group_actions[0].choices
    for name in ("predict", "export", "train-encoder", "evaluate"):
        flags = {f for a in commands[name]._actions for f in a.option_strings}
        assert "--accept-new-data" not in flags
        assert "`train --out RUN --resume --accept-new-data`" in commands[name].description
    for name in ("train", "score"):
        assert any("--accept-new-data" in a.option_strings for a in commands[name]._actions)


@pytest.mark.slow  # more than 5 s: two trainings
def test_an_old_folder_run_keeps_the_validation_split_it_was_trained_with(trained, tmp_path):
    folder, run = trained
    (run / "data.json").unlink()  # as written before data records and the by-name rule
    normal = data.load_dataset(f"folder:{folder}", image_size=16, channels=1)[0].images
    # The rule such runs were trained with: a seeded permutation of the files in name order
    # (2 of 20 images; the by-name rule holds out 1 here).
    rng = np.random.default_rng(np.random.SeedSequence([0, 0, 0]))
    expected = normal[np.sort(rng.permutation(20)[:2])]
    _run(["score", "--run", run, "--out", tmp_path / "s1", *SCORE])
    assert sum(r[1] == "val" for r in _rows(tmp_path / "s1" / "scores.csv")) == 2
    _run(["train", "--steps", "4", "--quiet", "--out", run, "--resume"])
    record = _record(run)  # the resumed run now records its rule, and keeps it
    assert record["splits"]["val"]["images"] == 2 and record["val_split"] == "seeded_permutation"
    _run(["score", "--run", run, "--out", tmp_path / "s2", *SCORE])
    assert _record(tmp_path / "s2")["splits"]["val"] == record["splits"]["val"]

    from anogan_jax.runs.config import RunConfig
    from anogan_jax.runs.gan import load_data
    from anogan_jax.runs.identity import val_split_rule

    config = RunConfig.from_json(run / "config.json")
    np.testing.assert_array_equal(load_data(config, run=run).val, expected)
    assert len(load_data(config).val) == 1  # a new run's rule
    del record["val_split"]  # a record from before the rule was named: by name
    (run / "data.json").write_text(json.dumps(record))
    assert val_split_rule(run) == "by_name"


RECORD = "mnist/3.0.1/mnist-train.array_record-00000-of-00001"


def _write_tfds_copy(root: Path, seed: int) -> None:
    """A stand-in prepared tfds copy of mnist: its record file holds the seed's bytes."""
    (root / RECORD).parent.mkdir(parents=True, exist_ok=True)
    (root / RECORD).parent.joinpath("dataset_info.json").write_text('{"name": "mnist"}')
    (root / RECORD).write_bytes(np.random.default_rng(seed).bytes(256))


def _decode_stand_in(name: str, data_dir: str) -> dict:
    """What tfds would decode from ``_write_tfds_copy``'s files: arrays drawn from the bytes of
    its record file (20 training and 2 test images of each digit)."""
    rng = np.random.default_rng(list((Path(data_dir) / RECORD).read_bytes()))
    out = {}
    for part, per_class in (("train", 20), ("test", 2)):
        n = 10 * per_class
        out[f"x_{part}"] = rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)
        out[f"y_{part}"] = np.repeat(np.arange(10, dtype=np.int32), per_class)
    return out


@pytest.mark.slow  # more than 5 s: two trainings
def test_a_tfds_copy_replaced_at_the_same_path_is_decoded_again(tmp_path, monkeypatch, refused):
    from anogan_jax import datasets

    monkeypatch.setattr(datasets, "_decode_tfds", _decode_stand_in)
    tfds, run = tmp_path / "tfds", tmp_path / "run"
    _write_tfds_copy(tfds, seed=1)
    argv = ["train", "--dataset", "mnist", "--data-dir", str(tfds), "--out", str(run)]
    small = ["--arch", "mlp", "--latent-dim", "8", "--batch-size", "8", "--quiet"]
    _run([*argv, *small, "--steps", "2", "--checkpoint-every", "2", "--sample-every", "2"])
    stat = (tfds / RECORD).stat()
    _write_tfds_copy(tfds, seed=2)  # another copy: same names, sizes and times, other bytes
    os.utime(tfds / RECORD, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    before = _bytes(run)
    refused([*argv, "--resume", "--steps", "4"], "the train split holds 18 images with digest")
    assert _bytes(run) == before
