"""TensorBoard event files, read back with TensorBoard's own reader: the scalars equal
metrics.jsonl's records (float32) at the same steps, a resume writes each step once, sample
grids and score histograms are there, and without tensorboardX a run is the same run."""

import csv
import json
import shutil
import struct
import sys

import jax
import numpy as np
import pytest

from anogan_jax import cli, objectives
from anogan_jax.runs import events
from anogan_jax.runs.models import load_gan

try:
    import tensorboardX  # noqa: F401
    from tensorboard.backend.event_processing import event_accumulator as accumulator
except ImportError:  # the dev extra installs both
    accumulator = None
HAS_READER = accumulator is not None
pytestmark = pytest.mark.skipif(not HAS_READER, reason="needs tensorboardX and tensorboard")

TINY = ["--arch", "mlp", "--batch-size", "16", "--latent-dim", "8", "--quiet"]
TINY += ["--checkpoint-every", "2", "--sample-every", "2", "--log-every", "1"]
SCORE = ["score", "--num-steps", "2", "--batch-size", "16", "--limit", "40", "--quiet"]
ENC = ["train-encoder", "--mode", "izi_f", "--batch-size", "16", "--quiet", "--log-every", "1"]


def read_events(folder):
    """TensorBoard's EventAccumulator over ``folder/events``, every event kept."""
    acc = accumulator.EventAccumulator(
        str(folder / events.EVENTS), size_guidance={"scalars": 0, "images": 0, "histograms": 0}
    )
    return acc.Reload()


def _records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def assert_scalars_match(folder, jsonl: str, tag: str) -> None:
    """Every number of every record of ``folder/jsonl`` is the event ``<tag>/<name>`` at the
    record's step, in float32 (as TensorBoard stores scalars), each step once."""
    acc, records = read_events(folder), _records(folder / jsonl)
    names = {k for r in records for k in r if k != "step"}
    assert names and {f"{tag}/{k}" for k in names} <= set(acc.Tags()["scalars"])
    for name in names:
        logged = [(e.step, e.value) for e in acc.Scalars(f"{tag}/{name}")]
        assert logged == [(r["step"], float(np.float32(r[name]))) for r in records], name


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("events") / "r"
    assert cli.main(["train", *TINY, "--steps", "4", "--out", str(out)]) == 0
    return out


def test_training_events_equal_metrics_and_a_resume_writes_each_step_once(run, tmp_path):
    assert_scalars_match(run, "metrics.jsonl", "train")
    acc = read_events(run)
    config = json.loads((run / "config.json").read_text())
    g_lr, d_lr = objectives.learning_rates(config["objective"])
    assert [(e.step, e.value) for e in acc.Scalars("lr/g")] == [
        (s, float(np.float32(g_lr))) for s in (1, 2, 3, 4)
    ]
    assert {e.value for e in acc.Scalars("lr/d")} == {float(np.float32(d_lr))}
    grids = acc.Images("samples")
    assert [g.step for g in grids] == [2, 4] and grids[0].width > 0
    # A run killed after logging steps 3 and 4 but before their checkpoint: it resumes at 2,
    # trains 3 and 4 again, and the events hold each step once, equal to metrics.jsonl.
    cut = tmp_path / "cut"
    shutil.copytree(run, cut)
    shutil.rmtree(cut / "checkpoints" / "4")
    assert cli.main(["train", *TINY, "--steps", "4", "--out", str(cut), "--resume"]) == 0
    assert len(list((cut / events.EVENTS).iterdir())) == 2
    assert_scalars_match(cut, "metrics.jsonl", "train")
    assert [g.step for g in read_events(cut).Images("samples")] == [2, 4]
    # Bit-exact resume: the resumed run's records are the uninterrupted run's.
    strip = lambda rs: [{k: v for k, v in r.items() if k != "steps_per_s"} for r in rs]  # noqa: E731
    assert strip(_records(cut / "metrics.jsonl")) == strip(_records(run / "metrics.jsonl"))


def test_each_seed_of_a_multi_seed_run_logs_its_own_metrics(tmp_path):
    out = tmp_path / "m"
    assert cli.main(["train", *TINY, "--steps", "2", "--seeds", "0,1", "--out", str(out)]) == 0
    seeds = [out / "seed_0", out / "seed_1"]
    for folder in seeds:
        assert_scalars_match(folder, "metrics.jsonl", "train")
    losses = [[e.value for e in read_events(f).Scalars("train/d_loss")] for f in seeds]
    assert losses[0] != losses[1]


def test_encoder_events_equal_its_metrics(run, tmp_path):
    gan = tmp_path / "r"
    shutil.copytree(run, gan)
    assert cli.main([*ENC, "--run", str(gan), "--steps", "3"]) == 0
    folder = gan / "encoder_izi_f"
    assert_scalars_match(folder, "metrics.jsonl", "train")
    acc = read_events(folder)
    assert [i.step for i in acc.Images("reconstructions")] == [3]
    assert [e.step for e in acc.Scalars("lr/e")] == [1, 2, 3]


def test_score_histograms_per_score_normal_and_anomalous(run, tmp_path):
    out = tmp_path / "s"
    args = [*SCORE, "--run", str(run), "--out", str(out)]
    assert cli.main(args) == 0
    with open(out / "scores.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "test"]
    report = json.loads((out / "metrics.json").read_text())
    # A finished score folder scored again: its events are replaced, not doubled.
    assert cli.main([*args, "--resume"]) == 0
    acc = read_events(out)
    for score in report["scores"]:
        for label, kind in (("0", "normal"), ("1", "anomalous")):
            (hist,) = acc.Histograms(f"{score}/{kind}")
            values = [float(r[score]) for r in rows if r["label"] == label]
            assert hist.step == 4 and hist.histogram_value.num == len(values)
            assert hist.histogram_value.min == pytest.approx(min(values), rel=1e-6)
        (auroc,) = acc.Scalars(f"{score}/auroc")
        assert auroc.value == float(np.float32(report["scores"][score]["auroc"]))


def _frame(payload: bytes) -> bytes:
    header = struct.pack("<Q", len(payload))
    return header + b"\0" * 4 + payload + b"\0" * 4  # the reader here checks no CRC


def test_records_end_at_a_record_cut_short():
    lib = events.load_tensorboardx()
    scalar = lambda s: lib.Event(step=s, summary=lib.summary.scalar("x", s))  # noqa: E731
    header = lib.Event(file_version="brain.Event:2")
    frames = [_frame(e.SerializeToString()) for e in (header, *map(scalar, range(1, 6)))]
    data = b"".join(frames) + frames[-1][:7]  # a record cut short by a kill
    steps = lambda d: [lib.Event.FromString(p).step for _, p in events.records(d)]  # noqa: E731
    assert steps(data) == [0, 1, 2, 3, 4, 5]


def test_keep_until_rewrites_or_removes_event_files(tmp_path):
    log = events.EventLog(tmp_path, 0)
    for step in (1, 2, 3):
        log.scalars(step, {"loss": step / 10}, "train")
    log.close()
    (path,) = (tmp_path / events.EVENTS).iterdir()
    lib = events.load_tensorboardx()
    events.keep_until(path.parent, 2, lib)
    kept = [lib.Event.FromString(p) for _, p in events.records(path.read_bytes())]
    assert [e.step for e in kept if e.HasField("summary")] == [1, 2]
    assert kept[0].file_version == "brain.Event:2"
    events.keep_until(path.parent, 0, lib)
    assert not path.exists()  # nothing but the header was left


def test_without_tensorboardx_a_run_is_the_same_and_says_so_once(
    run, tmp_path, monkeypatch, capsys
):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # its import fails
    events.load_tensorboardx.cache_clear()
    out = tmp_path / "plain"
    try:
        capsys.readouterr()
        assert cli.main(["train", *TINY, "--steps", "4", "--out", str(out)]) == 0
        events.EventLog(tmp_path / "other", 0).scalars(1, {"loss": 1.0}, "train")
        assert capsys.readouterr().err.count(events.HINT) == 1
        assert not (tmp_path / "other").exists()
        assert not (out / events.EVENTS).exists()
    finally:
        events.load_tensorboardx.cache_clear()
    # Events change no trained number: the same weights and records as the run with events.
    for a, b in zip(
        jax.tree.leaves(load_gan(run)[2]), jax.tree.leaves(load_gan(out)[2]), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    strip = lambda rs: [{k: v for k, v in r.items() if k != "steps_per_s"} for r in rs]  # noqa: E731
    assert strip(_records(out / "metrics.jsonl")) == strip(_records(run / "metrics.jsonl"))
