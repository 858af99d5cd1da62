"""The form of the models axis per (backend, arch) (``runs.forms``): the measured table, its
stated default, the ``ANOGAN_JAX_SEED_MODE`` override and its refusal, the record in
provenance, the batched-matmul form in training, and the models-axis benchmark's smoke run."""

import dataclasses
import json
from pathlib import Path

import jax
import numpy as np
import pytest

from anogan_jax.files import read_jsonl
from anogan_jax.runs import provenance
from anogan_jax.runs.config import RunConfig, RunError, ScoreConfig
from anogan_jax.runs.forms import (
    FORM_ENV,
    FORMS,
    MEASURED,
    FormChoice,
    choose_form,
    fit_mode,
    form_config,
)
from anogan_jax.runs.gan import train_gans
from anogan_jax.runs.models import load_gan
from anogan_jax.runs.seeds import seed_mode
from anogan_jax.studies.config import Method, Study
from anogan_jax.studies.run import run_study

REPO = Path(__file__).resolve().parents[1]
SEEDS_MD = "experiments/results/bench_seeds.md"


@pytest.fixture(autouse=True)
def no_override(monkeypatch):
    monkeypatch.delenv(FORM_ENV, raising=False)


def test_the_table_names_a_measured_form_and_its_results_file_per_backend_and_arch():
    assert choose_form("mlp", "cpu") == FormChoice("vmap", f"measured: {SEEDS_MD}")
    assert choose_form("dcgan28_light", "cpu") == FormChoice("loop", f"measured: {SEEDS_MD}")
    unmeasured = "default (unmeasured)"
    dcgan28_md = "experiments/results/bench_seeds_dcgan28.md"
    assert choose_form("dcgan28", "cpu") == FormChoice("loop", f"measured: {dcgan28_md}")
    # Conv models the CPU has not measured loop like the measured ones; elsewhere all vmap.
    assert choose_form("resnet64", "cpu") == FormChoice("loop", unmeasured)
    for arch in ("mlp", "dcgan28", "resnet64"):
        assert choose_form(arch, "gpu") == FormChoice("vmap", unmeasured)
        assert choose_form(arch, "tpu") == FormChoice("vmap", unmeasured)
    for (backend, arch), (form, results) in MEASURED.items():
        assert form in FORMS and (REPO / results).is_file(), (backend, arch)
        assert arch in (REPO / results).read_text()
    # Without a backend the choice is jax's default backend's.
    assert choose_form("dcgan28") == choose_form("dcgan28", jax.default_backend())


def test_seed_mode_is_the_fit_mode_of_the_chosen_form(monkeypatch):
    assert seed_mode("mlp") == "vmap"
    expected = "loop" if jax.default_backend() == "cpu" else "vmap"
    assert seed_mode("dcgan28_light") == expected
    assert [fit_mode(f) for f in FORMS] == ["vmap", "vmap", "loop"]
    config = RunConfig(arch="dcgan28_light", conv_impl="tuned")
    assert form_config(config, "batched_matmul") == dataclasses.replace(config, conv_impl="im2col")
    assert form_config(config, "vmap") is config and form_config(config, "loop") is config


def test_the_override_chooses_any_form_and_a_bad_value_is_refused(monkeypatch):
    for form in FORMS:
        monkeypatch.setenv(FORM_ENV, form)
        for backend in ("cpu", "gpu"):
            assert choose_form("mlp", backend) == FormChoice(form, f"override: {FORM_ENV}")
    monkeypatch.setenv(FORM_ENV, "batched_matmul")
    assert seed_mode("dcgan28") == "vmap"
    monkeypatch.setenv(FORM_ENV, "grouped")
    with pytest.raises(RunError, match="'grouped' is not one of vmap, batched_matmul, loop"):
        choose_form("mlp")


def test_a_bad_override_refuses_a_seeds_run_before_it_writes(tmp_path, monkeypatch, refused):
    monkeypatch.setenv(FORM_ENV, "pmap")
    argv = ["train", "--dataset", "digits", "--arch", "mlp", "--steps", "1", "--seeds", "0,1"]
    argv += ["--batch-size", "8", "--latent-dim", "8", "--quiet", "--out", str(tmp_path / "r")]
    refused(argv, f"{FORM_ENV}='pmap' is not one of vmap, batched_matmul, loop")


def test_provenance_records_the_form_and_its_source(monkeypatch):
    record = provenance.describe(arch="dcgan28")
    choice = choose_form("dcgan28")
    assert record["models_form"] == choice.form
    assert record["models_form_source"] == choice.source
    assert "models_form" not in provenance.describe()
    monkeypatch.setenv(FORM_ENV, "batched_matmul")
    assert provenance.form_record("mlp") == {
        "models_form": "batched_matmul",
        "models_form_source": f"override: {FORM_ENV}",
    }
    assert f"{FORM_ENV}=batched_matmul" in provenance.settings()


TINY_RUN = RunConfig(
    dataset="digits",
    arch="dcgan28_light",
    steps=2,
    batch_size=8,
    checkpoint_every=2,
    sample_every=2,
    log_every=1,
)


@pytest.mark.slow
def test_a_study_cell_records_the_form_its_models_trained_in(tmp_path):
    study = Study(
        name="forms",
        run=dataclasses.replace(TINY_RUN, arch="mlp", latent_dim=8),
        classes=(0,),
        seeds=(0,),
        methods=(Method("fanogan", ScoreConfig(method="fanogan", batch_size=64, val_images=8)),),
    )
    run_study(study, tmp_path / "res", tmp_path / "runs", progress=False, program="models")
    timing = json.loads((tmp_path / "res" / "timings" / "c0_s0_fanogan.json").read_text())
    choice = choose_form("mlp")
    assert timing["computed_on"]["models_form"] == choice.form
    assert timing["computed_on"]["models_form_source"] == choice.source


@pytest.mark.slow
def test_the_batched_matmul_form_trains_the_runs_of_the_loop(tmp_path, monkeypatch):
    """Two conv models trained as batched matmuls (vmap over im2col convolutions) log the
    looped runs' losses at the first step (the same initial parameters: the forms differ in
    rounding only) and stay within two Adam steps of them (lr 2e-4 each: a near-zero gradient's
    sign is rounding there); each folder's config keeps its own conv_impl."""
    pairs = [(0, 0), (1, 0)]
    configs = [dataclasses.replace(TINY_RUN, cls=c, seed=s) for c, s in pairs]
    finals, first = {}, {}
    for form in ("loop", "batched_matmul"):
        monkeypatch.setenv(FORM_ENV, form)
        outs = [tmp_path / form / f"c{c}" for c, _ in pairs]
        train_gans(configs, outs, progress=False)
        finals[form] = [jax.tree.leaves(load_gan(o)[2]) for o in outs]
        first[form] = [read_jsonl(o / "metrics.jsonl")[0] for o in outs]
        for o in outs:
            assert json.loads((o / "config.json").read_text())["conv_impl"] == "auto"
    for a, b in zip(first["loop"], first["batched_matmul"], strict=True):
        assert a["step"] == b["step"] == 1
        for name in ("d_loss", "g_loss"):
            assert b[name] == pytest.approx(a[name], rel=1e-4), name
    for a, b in zip(finals["loop"], finals["batched_matmul"], strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-3, atol=8e-4)


@pytest.mark.slow
def test_the_models_axis_benchmark_smoke_run(tmp_path):
    """``bench_models_axis --tiny``: one row per arch in the table's form; looped models are
    bit-identical between the two paths."""
    from experiments import bench_models_axis

    stem = tmp_path / "bma"
    argv = ["--tiny", "--allow-busy", "--archs", "mlp,dcgan28_light", "--out", str(stem)]
    assert bench_models_axis.main(argv) == 0
    payload = json.loads(stem.with_suffix(".json").read_text())
    assert payload["command"].endswith(" ".join(argv))
    rows = {r["arch"]: r for r in payload["rows"]}
    assert list(rows) == ["mlp", "dcgan28_light"]
    for arch, row in rows.items():
        choice = choose_form(arch)
        assert (row["form"], row["form_source"]) == (choice.form, choice.source)
        assert row["models"] == 2 and row["models_axis_over_per_class"] > 0
        if row["form"] == "loop":
            assert row["bit_identical_models"] == 2 and row["max_abs_diff"] == 0
        assert row["max_abs_diff"] < 1e-3
    assert "| dcgan28_light | loop |" in stem.with_suffix(".md").read_text()


def test_the_accelerator_check_names_the_fastest_form_at_the_most_models_in_table_terms():
    from experiments import accelerator_check

    chosen = [
        {"arch": "dcgan28", "models": 30, "best_form": "grouped"},
        {"arch": "dcgan28", "models": 1, "best_form": "loop"},
        {"arch": "dcgan28_light", "models": 3, "best_form": "loop"},
        {"arch": "dcgan28_light", "models": 30, "best_form": "batched_matmul"},
        {"arch": "mlp", "models": 30, "best_form": "vmap"},
    ]
    table = accelerator_check.table_forms(chosen)
    assert table == {
        "dcgan28": {"form": "vmap", "models": 30},
        "dcgan28_light": {"form": "batched_matmul", "models": 30},
        "mlp": {"form": "vmap", "models": 30},
    }
    assert all(entry["form"] in FORMS for entry in table.values())
