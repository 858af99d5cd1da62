"""A study config edited after its cells exist: a rerun, ``--report-only`` and ``--merge-from``
refuse it, naming each changed field and writing nothing; an unchanged config reruns as before;
a results folder without a settings record is recorded from the config on first use."""

import copy
import dataclasses
import json
import shutil

import pytest

from anogan_jax.errors import UserError
from anogan_jax.studies.config import Method, cell_settings, settings_digest
from anogan_jax.studies.layout import settings_path
from anogan_jax.studies.run import run_study
from anogan_jax.studies.settings import changed_fields, check_settings
from experiments.run_study import main
from tests.test_study import TINY
from tests.test_study_status import _snapshot

# One method, no encoder: the tiny study at its cheapest.
SMALL = dataclasses.replace(TINY, methods=TINY.methods[:1], ensembles=(), frontier=())
ANOGAN = SMALL.methods[0]
# The same study with one setting of its method edited.
EDITED = dataclasses.replace(
    SMALL,
    methods=(Method("anogan", dataclasses.replace(ANOGAN.score, num_steps=5)),),
)


@pytest.fixture(scope="module")
def computed(tmp_path_factory):
    """The small study's results and runs folders, run once."""
    root = tmp_path_factory.mktemp("computed")
    run_study(SMALL, root / "results", root / "runs", progress=False)
    return root


@pytest.fixture
def study(computed, tmp_path):
    """A copy of the computed study's folders, for one test to change."""
    for name in ("results", "runs"):
        shutil.copytree(computed / name, tmp_path / name)
    return tmp_path / "results", tmp_path / "runs"


def _config(tmp_path, name: str) -> str:
    """A study config file whose STUDY is ``tests.test_study_settings.<name>``."""
    path = tmp_path / f"{name.lower()}.py"
    path.write_text(f"from tests.test_study_settings import {name}\n\nSTUDY = {name}\n")
    return str(path)


@pytest.mark.slow
def test_the_settings_of_each_methods_cells_are_recorded_and_an_unchanged_rerun_runs(study):
    results, runs = study
    record = json.loads(settings_path(results).read_text())
    settings = cell_settings(SMALL, ANOGAN)
    assert record == {"anogan": {"digest": settings_digest(settings), "settings": settings}}
    assert settings["score"]["num_steps"] == 3 and "cls" not in settings["run"]
    assert "encoder" not in settings  # the search from the prior needs none
    before = _snapshot(results / "cells"), settings_path(results).stat().st_mtime_ns
    cells = run_study(SMALL, results, runs, progress=False)
    assert len(cells) == 2
    assert (_snapshot(results / "cells"), settings_path(results).stat().st_mtime_ns) == before


@pytest.mark.slow
def test_a_rerun_with_an_edited_method_setting_is_refused_naming_it(study):
    results, runs = study
    before = _snapshot(results.parent)
    with pytest.raises(UserError) as err:
        run_study(EDITED, results, runs, progress=False)
    message = str(err.value)
    assert "anogan: score.num_steps: 3 -> 5" in message
    assert "Revert the config" in message and "aside" in message
    assert "nothing was written" in message
    assert _snapshot(results.parent) == before


@pytest.mark.slow
def test_report_only_with_an_edited_config_is_refused_and_writes_nothing(study, tmp_path, capsys):
    results, runs = study
    config = _config(tmp_path, "EDITED")
    before = _snapshot(results.parent)
    argv = ["--results", str(results), "--runs", str(runs), "--report-only"]
    assert main([config, *argv]) == 2
    err = capsys.readouterr().err
    assert "anogan: score.num_steps: 3 -> 5" in err and "Traceback" not in err
    assert _snapshot(results.parent) == before
    # The config the cells were computed with reports as before.
    assert main([_config(tmp_path, "SMALL"), *argv]) == 0


@pytest.mark.slow
def test_a_merge_of_results_computed_with_other_settings_is_refused(study, tmp_path, capsys):
    results, runs = study
    target = tmp_path / "here"
    argv = ["--results", str(target), "--runs", str(tmp_path / "no_runs")]
    assert main([_config(tmp_path, "EDITED"), *argv, "--merge-from", str(results)]) == 2
    err = capsys.readouterr().err
    assert "anogan: score.num_steps: 3 -> 5" in err and str(results) in err
    assert not target.exists()
    # The config the source was computed with merges, and records its settings there.
    assert main([_config(tmp_path, "SMALL"), *argv, "--merge-from", str(results)]) == 0
    assert settings_path(target).read_bytes() == settings_path(results).read_bytes()


@pytest.mark.slow
def test_cells_without_a_record_are_recorded_from_the_config_once(study, capsys):
    results, runs = study
    recorded = settings_path(results).read_bytes()
    settings_path(results).unlink()
    run_study(SMALL, results, runs, progress=False)
    assert "recorded the settings of the anogan cells" in capsys.readouterr().out
    assert settings_path(results).read_bytes() == recorded
    run_study(SMALL, results, runs, progress=False)
    assert "recorded" not in capsys.readouterr().out


def test_changed_fields_name_old_and_new_values_and_read_a_missing_field_as_its_default():
    old = cell_settings(TINY, TINY.methods[1])  # f-AnoGAN: with the encoder's settings
    assert set(old) == {"run", "score", "column", "encoder"}
    new = copy.deepcopy(old)
    new["run"]["steps"], new["encoder"]["lr"] = 4, 1e-4
    assert changed_fields(old, new) == ["encoder.lr: 5e-05 -> 0.0001", "run.steps: 3 -> 4"]
    assert settings_digest(old) != settings_digest(new)
    # A record written before a field existed meant the field's default.
    older = copy.deepcopy(old)
    del older["run"]["width"]
    assert changed_fields(older, old) == []
    new = copy.deepcopy(old)
    new["run"]["width"] = 8
    assert changed_fields(older, new) == ["run.width: 0 -> 8"]


def test_a_method_without_cells_takes_the_configs_settings(tmp_path):
    # A record of settings whose cells are gone refuses nothing: no cell was made with them.
    stale = {"anogan": {"digest": "0", "settings": cell_settings(EDITED, EDITED.methods[0])}}
    settings_path(tmp_path).write_text(json.dumps(stale))
    record, first = check_settings(SMALL, tmp_path)
    assert first == [] and record["anogan"]["settings"]["score"]["num_steps"] == 3
    (tmp_path / "cells").mkdir()
    (tmp_path / "cells" / "c0_s0_anogan.json").write_text("{}")
    with pytest.raises(UserError, match=r"anogan: score.num_steps: 5 -> 3"):
        check_settings(SMALL, tmp_path)
