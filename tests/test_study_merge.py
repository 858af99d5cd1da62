"""Merging a study's results computed elsewhere: a committed study split in two by class and
merged back gives its cells, tables and report; a merge that would overwrite a different cell,
or bring in another study's, is refused and writes nothing."""

import json
import shutil

import pytest

from anogan_jax.errors import UserError
from anogan_jax.files import write_json
from anogan_jax.studies.layout import AUROC_BY_PAIR, SUBSAMPLE_SE, TRAINING_TIME
from anogan_jax.studies.merge import merge_results, plan_merge
from experiments.run_study import ROOT, load_config, main
from tests.test_study_status import _snapshot

NAME = "mnist_one_class_normal_fanogan_mlp"
CONFIG = ROOT / "experiments" / "configs" / f"{NAME}.py"
COMMITTED = ROOT / "experiments" / "results" / NAME
TABLES = (TRAINING_TIME, SUBSAMPLE_SE, AUROC_BY_PAIR)


def _keep_classes(table: dict, classes: set, nested: bool) -> dict:
    if not nested:
        return {c: v for c, v in table.items() if int(c) in classes}
    return {m: {c: v for c, v in by.items() if int(c) in classes} for m, by in table.items()}


def _half(dest, classes: set):
    """The committed study's results for ``classes`` only, as one machine would have them."""
    for sub in ("cells", "timings"):
        (dest / sub).mkdir(parents=True)
        for p in (COMMITTED / sub).glob("*.json"):
            if json.loads((COMMITTED / "cells" / p.name).read_text())["class"] in classes:
                shutil.copy(p, dest / sub / p.name)
    for name in TABLES:
        table = json.loads((COMMITTED / name).read_text())
        write_json(dest / name, _keep_classes(table, classes, nested=name != TRAINING_TIME))
    if 9 in classes:  # the quiet frontier benchmark ran on the machine that did the last class
        for name in ("frontier_speed.json", "frontier_speed.md", "NOTES.md"):
            shutil.copy(COMMITTED / name, dest / name)


def test_a_study_split_by_class_merges_back_into_its_committed_results(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(ROOT)  # the report names the config as it was given
    here, there = tmp_path / "here", tmp_path / "there"
    _half(here, {0, 1, 2, 3, 4})
    _half(there, {4, 5, 6, 7, 8, 9})  # class 4 computed in both places, alike
    config = str(CONFIG.relative_to(ROOT))
    argv = [config, "--results", str(here), "--runs", str(tmp_path / "no_runs")]
    assert main([*argv, "--merge-from", str(there)]) == 0
    out = capsys.readouterr().out
    assert "merged from" in out and "105 new cells, 21 already here alike, 90 timings" in out
    for sub in ("cells", "timings"):
        names = sorted(p.name for p in (COMMITTED / sub).glob("*.json"))
        assert sorted(p.name for p in (here / sub).glob("*.json")) == names
        for name in names:
            assert (here / sub / name).read_bytes() == (COMMITTED / sub / name).read_bytes()
    for name in TABLES:
        assert json.loads((here / name).read_text()) == json.loads((COMMITTED / name).read_text())
    ours = (here / "REPORT.md").read_text().splitlines()
    theirs = (COMMITTED / "REPORT.md").read_text().splitlines()
    assert [line for line in ours if "report written on" not in line] == [
        line for line in theirs if "report written on" not in line
    ]
    # Merging again changes nothing.
    before = {p: p.read_bytes() for p in (here / "cells").glob("*.json")}
    assert merge_results(load_config(str(CONFIG)), there, here).copies == []
    assert {p: p.read_bytes() for p in (here / "cells").glob("*.json")} == before


def test_a_table_row_both_folders_hold_keeps_this_folders_value(tmp_path):
    here, there = tmp_path / "here", tmp_path / "there"
    _half(here, {0})
    _half(there, {0, 1})
    write_json(there / TRAINING_TIME, {"0": {"gan": 1.0, "encoder": 2.0}, "1": {"gan": 3.0}})
    plan = plan_merge(load_config(str(CONFIG)), there, here)
    saved = json.loads((COMMITTED / TRAINING_TIME).read_text())
    assert plan.tables[TRAINING_TIME] == {"0": saved["0"], "1": {"gan": 3.0}}


def test_a_cell_that_differs_is_refused_and_nothing_is_written(tmp_path):
    here, there = tmp_path / "here", tmp_path / "there"
    _half(here, {0, 1})
    _half(there, {1, 2})
    cell = there / "cells" / "c1_s2_fanogan.json"
    cell.write_text(cell.read_text().replace('"seed": 2', '"seed": 2, "other": 1'))
    before = _snapshot(here)
    with pytest.raises(
        UserError, match=r"1 cells differ .*c1_s2_fanogan.json.*Nothing was written"
    ):
        merge_results(load_config(str(CONFIG)), there, here)
    assert _snapshot(here) == before


def test_cells_of_another_study_or_no_results_folder_are_refused(tmp_path, capsys):
    here, there = tmp_path / "here", tmp_path / "there"
    _half(here, {0})
    _half(there, {1})
    write_json(there / "cells" / "c1_s0_x.json", {"study": "another", "class": 1})
    before = _snapshot(here)
    study = load_config(str(CONFIG))
    with pytest.raises(UserError, match="cell of study 'another'"):
        merge_results(study, there, here)
    with pytest.raises(UserError, match="no cells/ folder there"):
        merge_results(study, tmp_path / "missing", here)
    with pytest.raises(UserError, match="is the results folder itself"):
        merge_results(study, here, here)
    argv = [str(CONFIG), "--results", str(here), "--merge-from", str(there)]
    assert main(argv) == 2
    assert "cell of study 'another'" in capsys.readouterr().err
    assert _snapshot(here) == before
