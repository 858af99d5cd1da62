"""Output folders through the CLI: a command writes only into a folder it made (or one of its
own kind), ``--overwrite`` removes only the files the tool wrote, and one process at a time
holds a folder, a stale lock taken over by exactly one of the processes that find it."""

import errno
import hashlib
import multiprocessing
import os
import shutil
import socket
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anogan_jax import cli, files
from anogan_jax.errors import UserError
from anogan_jax.runs import manifest
from anogan_jax.runs.folders import folder_lock
from anogan_jax.runs.manifest import MANIFEST
from anogan_jax.runs.textures import make_texture_folder

DEAD = 2**22 + 1  # above Linux's pid_max: no process has it


def _hold(folder: str, start, results) -> None:
    """One racer: waits for the start, then holds the folder for a moment if it can, noting
    (through an O_EXCL file) whether another holder was inside at the same time."""
    start.wait()
    try:
        with folder_lock(folder):
            try:
                fd = os.open(Path(folder) / "inside", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                results.put("two holders")
                return
            time.sleep(0.01)
            os.close(fd)
            os.unlink(Path(folder) / "inside")
        results.put("held")
    except UserError:
        results.put("refused")


# The racers run only ``folder_lock`` (no jax), so JAX's threads cannot deadlock them.
@pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")
@pytest.mark.parametrize("stale", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_two_processes_never_hold_one_folder(tmp_path, stale):
    """Two processes race for one folder (with a stale lock of a dead process there, or none)
    many times: each time at most one holds it, and no lock is left behind."""
    ctx = multiprocessing.get_context("fork")
    for i in range(40):
        folder = tmp_path / f"f{i}"
        folder.mkdir()
        if stale:
            (folder / ".lock").write_text(f"{DEAD} {socket.gethostname()}")
        start, results = ctx.Barrier(2), ctx.Queue()
        racers = [ctx.Process(target=_hold, args=(str(folder), start, results)) for _ in "ab"]
        for p in racers:
            p.start()
        for p in racers:
            p.join(30)
        got = sorted(results.get(timeout=5) for _ in racers)
        assert "two holders" not in got, (i, got)
        assert "held" in got, (i, got)
        assert not (folder / ".lock").exists(), i


# --- through the CLI ------------------------------------------------------------------

TINY = ["--arch", "mlp", "--batch-size", "8", "--latent-dim", "8", "--quiet"]
TINY += ["--checkpoint-every", "1", "--sample-every", "1", "--log-every", "1"]
SEARCH = ["--num-steps", "2", "--batch-size", "8", "--val-images", "8", "--quiet"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """A 16 x 16 texture folder and a tiny run trained on it for 2 steps."""
    root = tmp_path_factory.mktemp("out_folders")
    make_texture_folder(root / "ds", size=16, num_train=24, num_test_good=4, num_test_per_defect=2)
    argv = ["train", "--dataset", f"folder:{root / 'ds'}", "--image-size", "16", *TINY]
    assert cli.main([*argv, "--steps", "2", "--out", str(root / "run")]) == 0
    return root


def _bytes(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(Path(folder).rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def _user_folder(path: Path) -> Path:
    """A folder of the user's: images, and files named as the tool names its own."""
    (path / "images").mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((16, 16), 40 * i, np.uint8)).save(path / "images" / f"{i}.png")
    (path / "predictions.csv").write_text("my own table\n")
    (path / "scores.csv").write_text("my own scores\n")
    return path


def test_predict_and_score_refuse_a_folder_they_did_not_write(ws, tmp_path, refused):
    """``predict ds/images --out ds`` wrote into the user's folder (replacing a file of the
    same name), and a second one with --overwrite then deleted the input images."""
    user = _user_folder(tmp_path / "mine")
    before = _bytes(user)
    predict = ["predict", "--run", str(ws / "run"), str(user / "images"), "--method", "anogan"]
    for extra in ([], ["--overwrite"]):
        refused([*predict, *SEARCH, "--out", str(user), *extra], "not a folder this tool wrote")
        score = ["score", "--run", str(ws / "run"), *SEARCH, "--out", str(user), *extra]
        refused(score, "choose another --out")
    assert _bytes(user) == before


def test_predict_overwrite_removes_only_what_predict_wrote(ws, tmp_path, capsys):
    out = tmp_path / "pred"
    argv = ["predict", "--run", str(ws / "run"), str(ws / "ds" / "test"), "--method", "anogan"]
    argv += [*SEARCH, "--out", str(out)]
    assert cli.main(argv) == 0
    drawn = sorted(p.name for p in (out / "images").iterdir())
    (out / "images" / "my_photo.png").write_bytes(b"the user's photo")
    (out / "parts" / "notes.txt").write_text("the user's notes")
    (out / "notes.txt").write_text("more notes")
    assert cli.main([*argv, "--overwrite"]) == 0
    assert (out / "images" / "my_photo.png").read_bytes() == b"the user's photo"
    assert (out / "parts" / "notes.txt").read_text() == "the user's notes"
    assert (out / "notes.txt").read_text() == "more notes"
    assert sorted(p.name for p in (out / "images").iterdir()) == sorted([*drawn, "my_photo.png"])


def test_train_overwrite_keeps_the_users_files_in_its_folders(ws, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(ws / "run", out)
    (out / "samples" / "favourite.png").write_bytes(b"kept")
    (out / "checkpoints" / "README").write_text("do not delete")
    (out / "events" / "mine").mkdir()
    (out / "events" / "mine" / "a.txt").write_text("mine")
    argv = ["train", "--dataset", f"folder:{ws / 'ds'}", "--image-size", "16", *TINY]
    assert cli.main([*argv, "--steps", "1", "--seed", "3", "--out", str(out), "--overwrite"]) == 0
    assert (out / "samples" / "favourite.png").read_bytes() == b"kept"
    assert (out / "checkpoints" / "README").read_text() == "do not delete"
    assert (out / "events" / "mine" / "a.txt").read_text() == "mine"
    # What the earlier run wrote is gone: its step-2 checkpoint and sample grid.
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["1", "README", "model.json"]
    assert not (out / "samples" / "step_0000002.png").exists()


def test_a_killed_predict_is_visibly_unfinished_and_redone(ws, tmp_path, capsys, monkeypatch):
    """A predict stopped while drawing left a complete-looking folder, and Ctrl-C advised
    --resume, which predict does not take."""
    from anogan_jax.runs import plotting

    out = tmp_path / "pred"
    argv = ["predict", "--run", str(ws / "run"), str(ws / "ds" / "test"), "--method", "anogan"]
    argv += [*SEARCH, "--out", str(out)]
    draw = plotting.prediction_figure

    def interrupted(path, *args, **kwargs):
        if path.name.startswith("00002_"):
            raise KeyboardInterrupt
        draw(path, *args, **kwargs)

    monkeypatch.setattr(plotting, "prediction_figure", interrupted)
    capsys.readouterr()
    assert cli.main(argv) == 130
    err = capsys.readouterr().err
    assert "--resume" not in err and "rerun with --overwrite to redo it" in err, err
    assert (out / "predict.json").exists() and not (out / "predictions.csv").exists()
    monkeypatch.setattr(plotting, "prediction_figure", draw)
    before = _bytes(out)
    _refused(argv, capsys, "stopped before it finished (it has no predictions.csv)")
    assert _bytes(out) == before
    assert cli.main([*argv, "--overwrite"]) == 0
    images = list((ws / "ds" / "test").rglob("*.png"))
    assert len((out / "predictions.csv").read_text().splitlines()) == 1 + len(images)
    _refused(argv, capsys, "pass --overwrite to replace them, or choose another --out")


def _names(folder: Path) -> list[str]:
    """The entries of ``folder`` but its manifest (``runs.manifest``)."""
    return sorted(n for n in os.listdir(folder) if n != MANIFEST)


def _refused(argv, capsys, message: str) -> str:
    capsys.readouterr()
    assert cli.main(argv) == 2, argv
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err, err
    assert message in err, err
    return err


@pytest.mark.slow
def test_a_killed_export_is_redone_by_overwrite(ws, tmp_path, capsys, monkeypatch):
    """An export stopped after its first function was refused by --overwrite ("not a folder
    this tool wrote"), and Ctrl-C advised --resume."""
    from anogan_jax.runs import export

    run = tmp_path / "run"
    shutil.copytree(ws / "run", run)
    assert (
        cli.main(
            ["train-encoder", "--run", str(run), "--steps", "2", "--batch-size", "8", "--quiet"]
        )
        == 0
    )
    out = tmp_path / "export"
    argv = ["export", "--run", str(run), "--out", str(out), "--num-steps", "2", "--quiet"]
    serialize, calls = export._serialize, []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return serialize(*args)

    monkeypatch.setattr(export, "_serialize", interrupted)
    capsys.readouterr()
    assert cli.main(argv) == 130
    assert "rerun with --overwrite to redo it" in capsys.readouterr().err
    monkeypatch.setattr(export, "_serialize", serialize)
    assert _names(out) == ["data.json", "fanogan.jaxexport", "fanogan.npz"]
    _refused(argv, capsys, "stopped before it wrote scorer.json")
    # A full disk is named, and the export is redone the same way.
    write = files._atomic_write

    def full(path, data):
        if path.name == "hybrid.npz":
            raise OSError(errno.ENOSPC, "No space left on device")
        write(path, data)

    monkeypatch.setattr(files, "_atomic_write", full)
    err = _refused([*argv, "--overwrite"], capsys, "hybrid.npz: No space left on device")
    assert "rerun with --overwrite to redo it" in err and "--resume" not in err
    monkeypatch.setattr(files, "_atomic_write", write)
    assert cli.main([*argv, "--overwrite"]) == 0
    assert _names(out) == sorted(export.OWNED)


# --- what --overwrite removes: the manifest ----------------------------------------------


def _train(ws, out: Path, *extra: str) -> list[str]:
    argv = ["train", "--dataset", f"folder:{ws / 'ds'}", "--image-size", "16", *TINY]
    return [*argv, "--steps", "2", "--out", str(out), *extra]


@pytest.mark.slow
def test_overwrite_refuses_to_replace_a_users_file_named_as_the_tools(ws, tmp_path, refused):
    """A file the user put where the tool writes (a sample grid, a file inside a checkpoint,
    a score folder's metrics) after the run wrote its own there was removed by --overwrite,
    matched by its name; now it is refused, and no byte of the folder changes."""
    out = tmp_path / "run"
    shutil.copytree(ws / "run", out)
    for rel, data in (
        ("samples/step_0000002.png", b"my own picture"),
        ("checkpoints/2/notes.txt", b"my notes on this checkpoint"),
    ):
        (out / rel).write_bytes(data)
        before = _bytes(out)
        refused(_train(ws, out, "--overwrite"), f"would replace {rel}, which the tool did not")
        assert _bytes(out) == before
        (out / rel).unlink()
    scores = tmp_path / "scores"
    score = ["score", "--run", str(ws / "run"), *SEARCH, "--method", "anogan"]
    assert cli.main([*score, "--out", str(scores)]) == 0
    (scores / "metrics.json").write_text('{"mine": 1}\n')
    before = _bytes(scores)
    refused([*score, "--out", str(scores), "--overwrite"], "would replace metrics.json")
    assert _bytes(scores) == before


def test_overwrite_never_takes_a_users_folder_for_an_unfinished_run(ws, tmp_path, refused):
    """A folder holding only files named as predict names its own (the user's table and an
    image named as a drawn one) was taken for a predict stopped before its marker and
    emptied by --overwrite."""
    user = tmp_path / "mine"
    (user / "images").mkdir(parents=True)
    (user / "predictions.csv").write_text("file,score\nmine.png,1.0\n")
    (user / "images" / "00001_mine.png").write_bytes(b"not a drawing of the tool's")
    before = _bytes(user)
    predict = ["predict", "--run", str(ws / "run"), str(ws / "ds" / "test"), "--method", "anogan"]
    refused([*predict, *SEARCH, "--out", str(user), "--overwrite"], "not a folder this tool wrote")
    assert _bytes(user) == before
    mine = tmp_path / "mine_too"  # the same for train: a log and a sample grid of the user's
    (mine / "samples").mkdir(parents=True)
    (mine / "metrics.jsonl").write_text('{"step": 1, "loss": 0.5}\n')
    (mine / "samples" / "step_0000002.png").write_bytes(b"my own picture")
    before = _bytes(mine)
    refused(_train(ws, mine, "--overwrite"), "not a folder this tool wrote")
    assert _bytes(mine) == before


def test_overwrite_keeps_and_names_what_the_tool_did_not_write(ws, tmp_path, capsys):
    """Files the new run never writes again stay, each named in one line; what the earlier
    run wrote goes, sub-folders it leaves empty with it."""
    out = tmp_path / "run"
    shutil.copytree(ws / "run", out)
    (out / "notes.txt").write_text("mine")
    (out / "scores").mkdir()
    (out / "scores" / "a.csv").write_text("mine too")
    events = next((out / "events").iterdir()) if (out / "events").exists() else None
    capsys.readouterr()
    assert cli.main(_train(ws, out, "--overwrite", "--steps", "1", "--seed", "4")) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if line.startswith("note: --overwrite kept")]
    assert notes == [f"note: --overwrite kept in {out}: notes.txt, scores/ (1 file)"], err
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "scores" / "a.csv").read_text() == "mine too"
    assert not (out / "samples" / "step_0000002.png").exists()
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["1", "model.json"]
    assert events is None or not events.exists()


@pytest.mark.slow
def test_a_folder_without_manifest_is_judged_once_by_name(ws, tmp_path, refused):
    """A run folder written before manifests (its marker, no manifest) resumes and is
    overwritten as then (the files its names match are the tool's); its first resume records
    them, so a file the user replaces afterwards is told apart."""
    out = tmp_path / "run"
    shutil.copytree(ws / "run", out)
    (out / MANIFEST).unlink()
    assert cli.main([*_train(ws, out, "--resume"), "--steps", "3"]) == 0
    listed = manifest.read(out)
    assert "samples/step_0000001.png" in listed and "checkpoints/3/_CHECKPOINT_METADATA" in listed
    (out / "samples" / "step_0000001.png").write_bytes(b"mine now")
    before = _bytes(out)
    refused(_train(ws, out, "--overwrite"), "would replace samples/step_0000001.png")
    assert _bytes(out) == before
    (out / "samples" / "step_0000001.png").unlink()
    (out / MANIFEST).unlink()
    assert cli.main(_train(ws, out, "--overwrite", "--steps", "1")) == 0
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_0000001.png"]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["1", "model.json"]


def test_manifest_records_whole_files_and_skips_a_cut_line(tmp_path):
    """A record cut short by a killed process is not read (the file stays the user's); a file
    that grows is hashed as a whole; a folder written whole lists each file in it."""
    with manifest.recording(tmp_path):
        files.write_json(tmp_path / "a.json", {"x": 1})
        grown = tmp_path / "events" / "log"
        grown.parent.mkdir()
        for chunk in (b"abc", b"defg"):
            with open(grown, "ab") as f:
                f.write(chunk)
            files.written(grown)
        (tmp_path / "ckpt" / "sub").mkdir(parents=True)
        (tmp_path / "ckpt" / "sub" / "x").write_bytes(b"12345")
        files.written(tmp_path / "ckpt")
    files.write_json(tmp_path / "b.json", {"y": 2})  # not recorded: no longer held
    with open(tmp_path / MANIFEST, "a") as f:
        f.write('{"path": "b.json", "size": 1')
    listed = manifest.read(tmp_path)
    assert sorted(listed) == ["a.json", "ckpt/sub/x", "events/log"]
    assert listed["events/log"]["sha256"] == hashlib.sha256(b"abcdefg").hexdigest()
    assert all(manifest.still_written(tmp_path, e) for e in listed.values())
    (tmp_path / "a.json").write_text('{"x": 2}\n')
    assert not manifest.still_written(tmp_path, listed["a.json"])
