"""What a careless user can do through the CLI: --overwrite never deletes what the tool did
not write, a refused command changes no byte, damaged files get a message naming them, and
values that would be silently wrong are refused. Every case runs through ``cli.main``."""

import json
import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

from anogan_jax import cli, cli_parser
from anogan_jax.runs.folders import folder_lock

TINY = ["--arch", "mlp", "--batch-size", "16", "--latent-dim", "8", "--quiet"]
TINY += ["--checkpoint-every", "2", "--sample-every", "2", "--log-every", "2"]
SCORE = ["--num-steps", "2", "--batch-size", "16", "--limit", "40", "--val-images", "8"]


def _bytes(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(Path(folder).rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def _refused(argv, capsys, message: str) -> str:
    capsys.readouterr()
    assert cli.main(argv) == 2, argv
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err, err
    assert message in err, err
    return err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("rel")
    assert cli.main(["train", *TINY, "--steps", "2", "--out", str(root / "run")]) == 0
    return root / "run"


@pytest.fixture
def run(trained, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    return copy


# --- --overwrite and --keep -------------------------------------------------------------


def test_overwrite_refuses_a_folder_the_tool_did_not_write(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "thesis.tex").write_text("years of work")
    argv = ["train", *TINY, "--steps", "2", "--out", str(docs), "--overwrite"]
    _refused(argv, capsys, "not a folder this tool wrote")
    _refused([*argv, "--batch-size", "99999"], capsys, "not a folder this tool wrote")
    assert (docs / "thesis.tex").read_text() == "years of work"


def test_overwrite_refuses_the_current_folder_and_home(tmp_path, capsys, monkeypatch):
    (tmp_path / "config.json").write_text("{}")  # even one that looks like a run
    monkeypatch.chdir(tmp_path)
    _refused(["train", *TINY, "--out", ".", "--overwrite"], capsys, "the current folder")
    _refused(["train", *TINY, "--out", "/", "--overwrite"], capsys, "the root folder")
    home = str(Path.home())
    _refused(["train", *TINY, "--out", home, "--overwrite"], capsys, "your home folder")
    assert (tmp_path / "config.json").read_text() == "{}"


def test_score_overwrite_refuses_to_delete_the_run_it_scores(run, capsys):
    before = _bytes(run)
    argv = ["score", "--run", str(run), "--out", str(run), *SCORE, "--quiet", "--overwrite"]
    _refused(argv, capsys, "--overwrite of")
    _refused(argv, capsys, "would mix them with (or delete)")
    assert _bytes(run) == before


@pytest.mark.slow
def test_score_never_writes_into_or_clears_the_runs_it_reads(tmp_path, capsys):
    """``score --seeds --out <the runs' root>`` used to be accepted (score files went into the
    GAN folders) and a later ``score --overwrite`` there removed every ``seed_*`` folder,
    GAN checkpoints included."""
    exp = tmp_path / "exp"
    assert cli.main(["train", *TINY, "--steps", "2", "--seeds", "0,1", "--out", str(exp)]) == 0
    before = _bytes(exp)
    score = ["score", *SCORE, "--quiet", "--seeds", "0,1", "--run", str(exp)]
    _refused([*score, "--out", str(exp)], capsys, "which this command reads")
    _refused([*score, "--out", str(exp), "--overwrite"], capsys, "which this command reads")
    one = ["score", *SCORE, "--quiet", "--run", str(exp / "seed_0")]
    _refused(
        [*one, "--out", str(exp / "seed_0")],
        capsys,
        "choose an output folder that neither is nor holds it",
    )
    assert _bytes(exp) == before
    # --overwrite of a multi-seed score folder clears its seeds' score folders and nothing else.
    out = tmp_path / "scores"
    assert cli.main([*score, "--out", str(out)]) == 0
    (out / "seed_0" / "notes.txt").write_text("mine")
    (out / "seed_7").mkdir()
    (out / "seed_7" / "config.json").write_text("{}")  # not a score folder: left alone
    assert cli.main([*score, "--out", str(out), "--overwrite"]) == 0
    assert (out / "seed_0" / "notes.txt").read_text() == "mine"
    assert (out / "seed_7" / "config.json").read_text() == "{}"
    assert (out / "seed_1" / "scores.csv").exists() and (out / "seed_0" / "scores.csv").exists()
    assert _bytes(exp) == before


def test_no_command_writes_into_a_folder_another_command_wrote(trained, run, tmp_path, capsys):
    """``export --out`` another seed's run folder used to add its files to that run."""
    before = _bytes(run)
    is_run = f"{run} is a run folder of `train` (it holds config.json)"
    score = ["score", "--run", str(trained), "--out", str(run), *SCORE, "--quiet"]
    _refused(score, capsys, is_run)
    _refused([*score, "--overwrite"], capsys, is_run)
    reader = tmp_path / "reader"  # export checks its run's encoder first: one it can find
    shutil.copytree(trained, reader)
    (reader / "encoder_izi_f").mkdir()
    (reader / "encoder_izi_f" / "encoder_config.json").write_text("{}")
    _refused(["export", "--run", str(reader), "--out", str(run), "--quiet"], capsys, is_run)
    assert _bytes(run) == before
    scores = tmp_path / "scores"
    scores.mkdir()
    (scores / "score_config.json").write_text("{}")
    train = ["train", *TINY, "--steps", "2", "--out", str(scores)]
    _refused(train, capsys, "is a score folder of `score` (it holds score_config.json)")
    _refused([*train, "--overwrite"], capsys, "is a score folder of `score`")
    assert [p.name for p in scores.iterdir()] == ["score_config.json"]


def test_overwrite_validates_first_and_keeps_what_it_did_not_write(run, capsys):
    (run / "notes.txt").write_text("mine")
    (run / "anogan").mkdir()
    (run / "anogan" / "scores.csv").write_text("a score folder inside the run")
    before = _bytes(run)
    argv = ["train", *TINY, "--steps", "2", "--out", str(run), "--overwrite"]
    _refused([*argv, "--batch-size", "99999"], capsys, "batch size 99999 is larger")
    assert _bytes(run) == before
    assert cli.main([*argv, "--steps", "4"]) == 0
    assert (run / "notes.txt").read_text() == "mine"
    assert (run / "anogan" / "scores.csv").exists()
    assert json.loads((run / "config.json").read_text())["steps"] == 4


def test_overwrite_or_resume_refused_for_devices_or_fid_changes_nothing(run, tmp_path, capsys):
    """The device count and the FID classifier are checked before the folder is cleared or
    its config rewritten (both used to come after: a refused --overwrite deleted the run)."""
    before = _bytes(run)
    argv = ["train", *TINY, "--steps", "4", "--out", str(run)]
    _refused([*argv, "--overwrite", "--devices", "64"], capsys, "--devices 64")
    _refused([*argv, "--resume", "--keep", "1", "--devices", "64"], capsys, "--devices 64")
    nowhere = str(tmp_path / "no_classifiers")
    fid = ["--fid-every", "2", "--classifier-dir", nowhere]
    _refused([*argv, "--overwrite", *fid], capsys, "classifier")
    _refused([*argv, "--resume", *fid], capsys, "classifier")
    assert _bytes(run) == before


def test_a_mistyped_run_is_named_and_nothing_is_created(tmp_path, capsys):
    typo = tmp_path / "typo"
    enc = ["train-encoder", "--run", str(typo), "--steps", "2", "--quiet"]
    _refused(enc, capsys, f"run folder {typo} does not exist")
    _refused([*enc, "--seeds", "0,1"], capsys, f"run folder {typo / 'seed_0'} does not exist")
    out = tmp_path / "scores"
    _refused(["score", "--run", str(typo), "--out", str(out), *SCORE], capsys, "does not exist")
    assert not typo.exists() and not out.exists()


def test_keep_zero_is_refused(tmp_path, capsys):
    _refused(["train", *TINY, "--keep", "0", "--out", str(tmp_path / "k")], capsys, "keep must")


# --- resume never silently changes or mixes runs ------------------------------------------


def test_score_resume_into_another_models_scores_is_refused(run, trained, tmp_path, capsys):
    out = tmp_path / "scores"
    argv = ["score", *SCORE, "--quiet", "--out", str(out)]
    assert cli.main([*argv, "--run", str(trained)]) == 0
    before = _bytes(out)
    _refused([*argv, "--run", str(run), "--resume"], capsys, "'run'")
    assert _bytes(out) == before
    # The same run trained further is another model too.
    assert cli.main(["train", "--steps", "4", "--quiet", "--out", str(run), "--resume"]) == 0
    shutil.rmtree(out)
    assert cli.main([*argv, "--run", str(run)]) == 0
    assert cli.main(["train", "--steps", "6", "--quiet", "--out", str(run), "--resume"]) == 0
    _refused([*argv, "--run", str(run), "--resume"], capsys, "'gan_step': (4, 6)")


@pytest.mark.slow
def test_a_gan_trained_again_at_the_same_step_is_another_gan(run, tmp_path, capsys):
    """Score folders and encoders record the GAN's weights' fingerprint, not only its step:
    a run overwritten with another seed and trained to the same step is refused; the same
    seed retrained gives the same weights and is accepted."""
    out = tmp_path / "scores"
    score = ["score", *SCORE, "--quiet", "--run", str(run), "--out", str(out)]
    enc = ["train-encoder", "--run", str(run), "--steps", "2", "--batch-size", "16", "--quiet"]
    assert cli.main(score) == 0 and cli.main(enc) == 0
    scored = json.loads((out / "scored.json").read_text())
    assert scored["gan_step"] == 2 and len(scored["gan_fingerprint"]) == 16
    gan = json.loads((run / "encoder_izi_f" / "gan.json").read_text())
    assert gan == {k: scored[k] for k in ("gan_step", "gan_fingerprint")}
    retrain = ["train", *TINY, "--steps", "2", "--out", str(run), "--overwrite"]
    assert cli.main([*retrain, "--seed", "0"]) == 0  # the same GAN again
    assert cli.main([*score, "--resume"]) == 0
    assert cli.main([*retrain, "--seed", "7"]) == 0  # another GAN at the same step
    before = _bytes(out)
    _refused([*score, "--resume"], capsys, "gan_fingerprint")
    assert _bytes(out) == before
    fanogan = ["score", *SCORE, "--quiet", "--run", str(run), "--method", "fanogan"]
    _refused([*fanogan, "--out", str(tmp_path / "f")], capsys, "trained against another GAN")
    _refused([*enc, "--steps", "4", "--resume"], capsys, "trained against another GAN")
    # A folder recorded before fingerprints is judged by its run and step, as it was then.
    old = json.loads((out / "scored.json").read_text())
    old.pop("gan_fingerprint")
    (out / "scored.json").write_text(json.dumps(old))
    assert cli.main([*score, "--resume"]) == 0


def test_fanogan_refuses_an_encoder_of_an_earlier_gan_checkpoint(run, tmp_path, capsys):
    enc = ["train-encoder", "--run", str(run), "--steps", "2", "--batch-size", "16", "--quiet"]
    assert cli.main(enc) == 0
    assert cli.main(["train", "--steps", "4", "--quiet", "--out", str(run), "--resume"]) == 0
    argv = ["score", "--run", str(run), "--method", "fanogan", *SCORE, "--quiet"]
    _refused([*argv, "--out", str(tmp_path / "f")], capsys, "no longer belongs")
    _refused([*enc, "--steps", "4", "--resume"], capsys, "the GAN is now at step 4")
    assert cli.main([*enc, "--overwrite"]) == 0
    assert cli.main([*argv, "--out", str(tmp_path / "f")]) == 0


def test_multi_seed_training_takes_each_seed_folders_lock(tmp_path, capsys):
    out = tmp_path / "m"
    with folder_lock(out / "seed_1"):  # another process resuming that seed alone
        argv = ["train", *TINY, "--steps", "2", "--seeds", "0,1", "--out", str(out)]
        _refused(argv, capsys, "is in use by another process")
    assert not (out / "seed_0" / "config.json").exists()


def test_a_stale_lock_is_taken_over_only_where_it_can_be_checked(tmp_path, capsys):
    out = tmp_path / "r"
    argv = ["train", *TINY, "--steps", "2", "--out", str(out)]
    out.mkdir()
    dead = 2**22 + 1  # above Linux's pid_max: no process has it
    (out / ".lock").write_text(f"{dead} {socket.gethostname()}")  # this host: checked, stale
    assert cli.main(argv) == 0
    assert not (out / ".lock").exists()
    (out / ".lock").write_text(str(dead))  # the earlier format: a pid alone
    assert cli.main([*argv, "--resume", "--steps", "3"]) == 0
    (out / ".lock").write_text(f"{dead} another-host")  # cannot be checked from here
    before = _bytes(out)
    message = _refused([*argv, "--resume", "--steps", "4"], capsys, "on host another-host")
    assert "delete the lock file" in message
    assert _bytes(out) == before
    (out / ".lock").write_text(f"{os.getpid()} {socket.gethostname()}")  # alive, here
    _refused([*argv, "--resume", "--steps", "4"], capsys, "is in use by another process")


# --- damaged files --------------------------------------------------------------------


@pytest.mark.parametrize(
    "damage, message",
    [
        ("{not json", "config.json is damaged"),
        ('{"arch": 7}', "arch = 7 has the wrong type"),
        ('{"g_lr": -0.5}', "g_lr must be a positive finite number"),
        ('{"colour": "red"}', "unknown settings ['colour']"),
        ("[1, 2]", "holds a JSON list"),
    ],
)
def test_a_damaged_config_is_named(run, tmp_path, capsys, damage, message):
    saved = json.loads((run / "config.json").read_text())
    if damage.startswith('{"'):
        saved.update(json.loads(damage))
        damage = json.dumps(saved)
    (run / "config.json").write_text(damage)
    argv = ["score", "--run", str(run), *SCORE, "--quiet", "--out", str(tmp_path / "s")]
    err = _refused(argv, capsys, message)
    assert str(run / "config.json") in err


def test_a_damaged_model_json_is_named(run, tmp_path, capsys):
    (run / "checkpoints" / "model.json").write_text('{"arch": ')
    argv = ["score", "--run", str(run), *SCORE, "--quiet", "--out", str(tmp_path / "s")]
    _refused(argv, capsys, "model.json is damaged")


def test_a_truncated_last_metrics_line_is_dropped_on_resume(run):
    log = run / "metrics.jsonl"
    log.write_text(log.read_text() + '{"step": 3, "d_lo')
    with pytest.warns(RuntimeWarning, match="dropped its damaged last line"):
        assert cli.main(["train", "--steps", "4", "--quiet", "--out", str(run), "--resume"]) == 0
    steps = [json.loads(line)["step"] for line in log.read_text().splitlines()]
    assert steps == [2, 4]


# --- values that used to be accepted and wrong, or a traceback ----------------------------


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--seed", "-1"], "seed must be in 0..4294967295"),
        (["--seed", "4294967296"], "seed must be in 0..4294967295"),
        (["--seed", "18446744073709551616"], "seed must be in 0..4294967295"),
        (["--g-lr", "-0.001"], "g_lr must be a positive finite number"),
        (["--d-lr", "inf"], "d_lr must be a positive finite number"),
        (["--sample-every", "0"], "sample_every must be positive"),
        (["--val-fraction", "1.5"], "val_fraction must be in (0, 1)"),
        (["--seeds", ""], "--seeds '': give distinct integers"),
        (["--devices", "0"], "--devices '0': give a positive number"),
        (["--objective", "wgan_gp", "--update", "reuse"], "needs n_critic 1 (wgan_gp uses 5)"),
    ],
)
def test_train_values_refused(tmp_path, capsys, extra, message):
    out = tmp_path / "t"
    _refused(["train", *TINY, "--steps", "2", "--out", str(out), *extra], capsys, message)
    assert not (out / "config.json").exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--lam", "nan"], "lam must be a finite number >= 0"),
        (["--lr", "inf"], "lr must be a positive finite number"),
        (["--limit", "-5"], "--limit must be >= 0"),
        (["--val-images", "0"], "--val-images must be >= 1"),
        (["--kappa", "-1"], "--kappa must be a finite number >= 0"),
    ],
)
def test_score_values_refused_before_writing(run, tmp_path, capsys, extra, message):
    out = tmp_path / "s"
    _refused(["score", "--run", str(run), "--out", str(out), *SCORE, *extra], capsys, message)
    assert not (out / "score_config.json").exists()


def test_out_that_is_a_file_or_under_a_file(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    _refused(["train", *TINY, "--out", str(tmp_path / "f")], capsys, "is a file, not a folder")
    argv = ["train", *TINY, "--out", str(tmp_path / "f" / "run")]
    _refused(argv, capsys, "which is a file")
    assert (tmp_path / "f").read_text() == "x"


def test_evaluate_names_a_missing_step(run, capsys):
    argv = ["evaluate", "--run", str(run), "--step", "999"]
    _refused(argv, capsys, "no checkpoint at step 999")


def test_score_refuses_a_test_set_of_one_class(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (64, 28, 28), dtype=np.uint8)
    y = np.zeros(64, np.int64)
    np.savez(tmp_path / "one.npz", x_train=x, y_train=y, x_test=x[:20], y_test=y[:20])
    run = tmp_path / "r"
    argv = ["train", *TINY, "--steps", "2", "--dataset", str(tmp_path / "one.npz")]
    assert cli.main([*argv, "--out", str(run)]) == 0
    score = ["score", "--run", str(run), "--out", str(tmp_path / "s"), *SCORE, "--quiet"]
    _refused(score, capsys, "all normal")
    assert not (tmp_path / "s" / "score_config.json").exists()


@pytest.mark.parametrize(
    "arrays, message",
    [
        (lambda x, y: dict(y_train=y[:, None]), "shape (64, 1); give a flat array"),
        (lambda x, y: dict(y_train=y.astype(str)), "give integer class labels 0-9"),
        (lambda x, y: dict(y_train=y + 0.5), "give integer class labels 0-9"),
        (lambda x, y: dict(y_train=y + 10), "classes must be 0-9"),
        (lambda x, y: dict(x_train=x > 128), "have dtype bool"),
        (lambda x, y: dict(x_train=x / 255.0), "floats in [0, 1]"),
        (lambda x, y: dict(x_test=x[:0], y_test=y[:0]), "the test split is empty"),
    ],
)
def test_npz_datasets_that_would_be_read_wrongly(tmp_path, capsys, arrays, message):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (64, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 3, 64)
    data = dict(x_train=x, y_train=y, x_test=x[:20], y_test=y[:20])
    data.update(arrays(x, y))
    np.savez(tmp_path / "d.npz", **data)
    argv = ["train", *TINY, "--dataset", str(tmp_path / "d.npz"), "--out", str(tmp_path / "o")]
    _refused(argv, capsys, message)


# --- files and folders ----------------------------------------------------------------


def test_files_follow_the_umask_and_a_failed_start_blocks_nothing(tmp_path, capsys):
    out = tmp_path / "u"
    old = os.umask(0o027)
    try:
        _refused(["train", *TINY, "--batch-size", "99999", "--out", str(out)], capsys, "larger")
        assert _bytes(out) == {}  # nothing that makes the plain rerun "already hold results"
        assert cli.main(["train", *TINY, "--steps", "2", "--out", str(out)]) == 0
    finally:
        os.umask(old)
    assert (out / "config.json").stat().st_mode & 0o777 == 0o640
    assert (out / "metrics.jsonl").stat().st_mode & 0o777 == 0o640


def test_every_option_says_what_it_does(capsys):
    parser = cli_parser.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(cli.COMMANDS)  # each subcommand parsed is one that runs
    missing = [
        f"{name} {opt.option_strings[0]}"
        for name, p in sub.choices.items()
        for opt in p._actions
        if opt.option_strings and opt.dest != "help" and not opt.help
    ]
    assert missing == []
    text = sub.choices["train"].format_help()
    assert "generator updates in total" in text and "(default: 2000)" in text
