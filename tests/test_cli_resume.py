"""Resuming through the CLI takes a run's settings from its folder; multi-seed runs refuse
options they do not honour; a refused command changes no byte of the run."""

import json
from pathlib import Path

import pytest

from anogan_jax import cli
from anogan_jax.runs.config import RunError

TINY = ["--arch", "mlp", "--batch-size", "16", "--latent-dim", "8", "--quiet"]
TINY += ["--checkpoint-every", "2", "--sample-every", "2", "--log-every", "2"]


def _snapshot(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture(scope="module")
def seeds_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("seeds") / "m"
    assert cli.main(["train", *TINY, "--steps", "2", "--seeds", "0,1", "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_multi_seed_resume_restores_the_saved_settings(seeds_run, tmp_path):
    import shutil

    out = tmp_path / "m"
    shutil.copytree(seeds_run, out)
    # Only --steps repeated: the saved arch, batch size and latent size are kept (bug 1 of
    # the architecture issue: the defaults were taken instead).
    argv = ["train", "--steps", "4", "--seeds", "0,1", "--quiet", "--out", str(out), "--resume"]
    assert cli.main(argv) == 0
    for s in (0, 1):
        config = json.loads((out / f"seed_{s}" / "config.json").read_text())
        assert (config["arch"], config["batch_size"], config["latent_dim"]) == ("mlp", 16, 8)
        assert (config["steps"], config["seed"]) == (4, s)
        records = (out / f"seed_{s}" / "metrics.jsonl").read_text().splitlines()
        assert [json.loads(r)["step"] for r in records] == [2, 4]


def test_multi_seed_resume_with_other_settings_is_refused_and_changes_nothing(
    seeds_run, tmp_path, capsys
):
    import shutil

    out = tmp_path / "m"
    shutil.copytree(seeds_run, out)
    before = _snapshot(out)
    argv = ["train", "--steps", "4", "--seeds", "0,1", "--quiet", "--out", str(out), "--resume"]
    assert cli.main([*argv, "--arch", "dcgan28_light"]) == 2
    err = capsys.readouterr().err
    assert "arch: saved 'mlp', given 'dcgan28_light'" in err and "Traceback" not in err
    assert _snapshot(out) == before


def test_study_style_resume_with_a_whole_config_keeps_the_resolved_image_shape(seeds_run, tmp_path):
    """A study resumes with its whole config, whose image_size and channels are 0 ("as the
    data has it") while the saved ones hold 28 and 1: that is the same run, not a change.
    (A resumed study was refused with "channels: saved 1, given 0".)"""
    import shutil

    from anogan_jax.runs.config import RunConfig, resumed_config
    from anogan_jax.runs.gan import train_gan

    out = tmp_path / "m"
    shutil.copytree(seeds_run, out)
    saved = json.loads((out / "seed_0" / "config.json").read_text())
    assert (saved["image_size"], saved["channels"]) == (28, 1)
    given = RunConfig(
        dataset="digits",
        arch="mlp",
        batch_size=16,
        latent_dim=8,
        steps=4,
        checkpoint_every=2,
        sample_every=2,
        log_every=2,
    )
    assert (given.image_size, given.channels) == (0, 0)
    train_gan(given, out, seeds=[0, 1], resume=True, progress=False)
    config = json.loads((out / "seed_1" / "config.json").read_text())
    assert (config["steps"], config["image_size"], config["channels"]) == (4, 28, 1)
    # A size that is given, not left to the data, must still match the saved one.
    folder = RunConfig(dataset="folder:x", image_size=28, channels=1)
    assert resumed_config(folder, {"image_size": 0, "channels": 0}, out) == folder
    with pytest.raises(RunError, match="image_size: saved 28, given 32"):
        resumed_config(folder, {"image_size": 32}, out)


def test_multi_seed_resume_at_different_steps_is_refused_before_writing(
    seeds_run, tmp_path, capsys
):
    """Seeds whose checkpoints stand at different steps (seed 2 untrained) are refused before
    any seed folder is opened: no saved config rewritten, no seed_2 folder begun."""
    import shutil

    out = tmp_path / "m"
    shutil.copytree(seeds_run, out)
    before = _snapshot(out)
    argv = ["train", "--steps", "4", "--quiet", "--out", str(out), "--resume", "--seeds"]
    for order in ("0,1,2", "2,0,1"):  # settings come from a seed that has them, not seed 2
        assert cli.main([*argv, order]) == 2
        assert "different steps [0, 2]" in capsys.readouterr().err
    assert _snapshot(out) == before and not (out / "seed_2" / "config.json").exists()
    enc = ["train-encoder", "--run", str(out), "--batch-size", "16", "--quiet"]
    assert cli.main([*enc, "--seeds", "0,1", "--steps", "2", "--checkpoint-every", "1"]) == 0
    one = ["train-encoder", "--run", str(out / "seed_0"), "--resume", "--steps", "3", "--quiet"]
    assert cli.main(one) == 0
    before = _snapshot(out)
    argv = [*enc, "--seeds", "0,1", "--resume", "--steps", "6", "--keep", "1"]
    assert cli.main(argv) == 2
    assert "different steps [2, 3]" in capsys.readouterr().err
    assert _snapshot(out) == before


@pytest.mark.parametrize("seeds", ["0,-1", "4294967295,4294967296", "-3"])
def test_every_seed_of_seeds_is_range_checked(tmp_path, seeds, refused):
    out = tmp_path / "n"
    refused(
        ["train", *TINY, "--steps", "2", "--out", str(out), f"--seeds={seeds}"], "0..4294967295"
    )
    assert not out.exists()


@pytest.mark.parametrize(
    "extra, named",
    [
        (["--fid-every", "2"], "--fid-every"),
        (["--classifier-dir", "x"], "--classifier-dir"),
        (["--devices", "2"], "--devices"),
        (["--coordinator", "localhost:1"], "--coordinator"),
        (["--seed", "3"], "--seed and --seeds"),
    ],
)
def test_multi_seed_refuses_options_it_does_not_honour(tmp_path, capsys, extra, named):
    out = tmp_path / "m"
    argv = ["train", *TINY, "--steps", "2", "--seeds", "0,1", "--out", str(out), *extra]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err
    assert not out.exists() or _snapshot(out) == {}


def test_single_resume_keeps_saved_settings_and_refuses_changes(tmp_path, capsys):
    out = tmp_path / "r"
    assert cli.main(["train", *TINY, "--steps", "2", "--seed", "5", "--out", str(out)]) == 0
    saved = _snapshot(out)
    for extra, shown in [
        (["--seed", "6"], "seed: saved 5, given 6"),
        (["--objective", "wgan_gp"], "objective: saved 'non_saturating', given 'wgan_gp'"),
        (["--batch-size", "8"], "batch_size: saved 16, given 8"),
        (["--g-lr", "0.001"], "g_lr: saved None, given 0.001"),
    ]:
        argv = ["train", "--steps", "4", "--quiet", "--out", str(out), "--resume", *extra]
        assert cli.main(argv) == 2
        assert shown in capsys.readouterr().err
        assert _snapshot(out) == saved
    # --resume without repeating anything continues with the saved settings.
    assert cli.main(["train", "--steps", "4", "--quiet", "--out", str(out), "--resume"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert (config["seed"], config["arch"], config["steps"]) == (5, "mlp", 4)
    # Going back is refused.
    before = _snapshot(out)
    assert cli.main(["train", "--steps", "2", "--quiet", "--out", str(out), "--resume"]) == 2
    assert "already at step 4" in capsys.readouterr().err
    assert _snapshot(out) == before


@pytest.mark.slow
def test_score_and_encoder_seeds_go_with_multi_seed_runs(seeds_run, tmp_path, refused):
    """score's --seed (the search's draws) and train-encoder's --seed (the encoder's) are the
    same for every GAN seed, so they go with --seeds; only train's --seed is refused."""
    import shutil

    root = tmp_path / "m"
    shutil.copytree(seeds_run, root)
    enc = ["train-encoder", "--run", str(root), "--steps", "2", "--batch-size", "16"]
    assert cli.main([*enc, "--seed", "4", "--seeds", "0,1", "--quiet"]) == 0
    for s in (0, 1):
        saved = json.loads(
            (root / f"seed_{s}" / "encoder_izi_f" / "encoder_config.json").read_text()
        )
        assert saved["seed"] == 4
    score = ["score", "--run", str(root), "--num-steps", "2", "--batch-size", "16", "--limit", "20"]
    score += ["--val-images", "4", "--quiet", "--seed", "3", "--seeds", "0,1"]
    assert cli.main([*score, "--out", str(tmp_path / "s")]) == 0
    saved = json.loads((tmp_path / "s" / "seed_0" / "score_config.json").read_text())
    assert saved["seed"] == 3
    # Resumed without --seeds, the folder says what it holds and how to resume it.
    again = ["score", "--run", str(root / "seed_0"), "--out", str(tmp_path / "s"), "--resume"]
    refused(again, "holds a score of several seeds; resume it with --seeds 0,1")


def test_a_resume_compares_numbers_as_numbers():
    """--kappa is text ("calibrated" or a number): "1" is the saved "1.0", "0.5" is not."""
    from anogan_jax.runs.config import ScoreConfig, resumed_config

    saved = ScoreConfig(method="fanogan")
    assert resumed_config(saved, {"kappa": "1", "method": "fanogan"}, Path("s")) == saved
    with pytest.raises(RunError, match="kappa: saved '1.0', given '0.5'"):
        resumed_config(saved, {"kappa": "0.5"}, Path("s"))


def test_resume_into_a_new_folder_starts_afresh(tmp_path):
    """A job script may always pass --resume: in a folder without results it trains from
    step 0, with the given settings, the same run as without --resume."""
    runs = {}
    for name, extra in (("plain", []), ("resumed", ["--resume"])):
        out = tmp_path / name
        assert cli.main(["train", *TINY, "--steps", "2", "--out", str(out), *extra]) == 0
        records = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines()]
        runs[name] = [{k: v for k, v in r.items() if k != "steps_per_s"} for r in records]
        config = json.loads((out / "config.json").read_text())
        assert (config["arch"], config["steps"], config["latent_dim"]) == ("mlp", 2, 8)
    assert runs["plain"] == runs["resumed"]
    assert [r["step"] for r in runs["plain"]] == [2] and len(runs["plain"][0]) > 3
