"""Per-image scores kept with a study's cells: a score file reads back exactly as the scores.csv
it was made from, its bytes depend on the scores alone, and every derived row (seed ensembles,
complexity rows and their ensemble, pair AUROCs, subsample errors) computed from the score
files alone, without a run folder or a model, equals the row computed from the score folders."""

import dataclasses
import json
import shutil

import numpy as np
import pytest

from anogan_jax.runs.gan import load_data
from anogan_jax.studies import layout
from anogan_jax.studies.complexity import complexity_cells
from anogan_jax.studies.config import Method
from anogan_jax.studies.derived import ensemble_cells, pair_aurocs, subsample_errors
from anogan_jax.studies.score_files import (
    keep_all_scores,
    read_score_file,
    read_scores,
    write_score_file,
)
from tests.test_study import TINY

# f-AnoGAN ranked by its image term too (the same scores as fanogan); anogan_ic's ensemble and
# fanogan's: rows derived from every kind of source.
FANOGAN = TINY.methods[1]
STUDY = dataclasses.replace(
    TINY,
    methods=(*TINY.methods, Method("fanogan_img", FANOGAN.score, column="img_mse")),
    complexity=("anogan",),
    ensembles=("fanogan", "anogan_ic"),
)


def _write_csv(path, index, split, labels, classes, columns: dict) -> None:
    """A scores.csv as ``score_report.write_report`` writes it: each score with 9 digits."""
    lines = ["index,split,label,class," + ",".join(columns)]
    for i in range(len(index)):
        values = ",".join(f"{columns[c][i]:.9g}" for c in columns)
        lines.append(f"{index[i]},{split[i]},{labels[i]},{classes[i]},{values}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def test_a_score_file_reads_back_as_its_scores_csv_bit_for_bit(tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    split = np.array(["test"] * 250 + ["val"] * 50)
    columns = {
        "A": rng.normal(size=n).astype(np.float32),  # float32 scores: kept as float32
        "R": rng.uniform(0, 1e6, size=n),  # float64 with more digits than 9: kept as float64
        "D": np.where(np.arange(n) % 50 == 0, np.nan, rng.normal(size=n)).astype(np.float32),
    }
    csv = tmp_path / "scores.csv"
    classes = np.where(split == "val", -1, rng.integers(0, 10, n))
    _write_csv(csv, np.arange(n) + 40000, split, rng.integers(0, 2, n), classes, columns)
    table = read_scores(csv)
    write_score_file(tmp_path / "a.npz", table)
    back = read_score_file(tmp_path / "a.npz")
    assert list(back) == list(table) == ["index", "split", "label", "class", "A", "R", "D"]
    for name in table:
        assert back[name].dtype == table[name].dtype
        if back[name].dtype == np.float64:
            assert np.array_equal(back[name].view(np.int64), table[name].view(np.int64)), name
        else:
            assert np.array_equal(back[name], table[name]), name
    with np.load(tmp_path / "a.npz") as stored:
        kinds = {name: stored[name].dtype for name in stored.files}
    assert (kinds["A"], kinds["R"], kinds["D"]) == (np.float32, np.float64, np.float32)
    assert kinds["index"] == np.int32 and kinds["label"] == np.int8
    # The same scores give the same bytes, whenever they are written.
    write_score_file(tmp_path / "b.npz", read_scores(csv))
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    assert (tmp_path / "a.npz").stat().st_size < csv.stat().st_size / 2


def _score_folders(runs, data) -> None:
    """Both seeds' score folders of class 0: the search's (a subsample of the test set, as
    ``limit`` draws it) with its residual, and f-AnoGAN's with its image term."""
    rng = np.random.default_rng(4)
    n_test = len(data.test)
    for method, test_idx in (("anogan", np.arange(0, n_test, 3)), ("fanogan", np.arange(n_test))):
        for seed in STUDY.seeds:
            labels = data.test_labels[test_idx]
            val_idx = n_test + np.arange(8)
            index = np.concatenate([test_idx, val_idx])
            n = len(index)
            residual = rng.uniform(50, 150, size=n).astype(np.float32)
            residual[: len(test_idx)] += 40 * labels
            columns = {"A": residual * 0.01, "R": residual, "img_mse": residual * 1e-3}
            _write_csv(
                layout.scores_csv(runs, 0, seed, method),
                index,
                ["test"] * len(test_idx) + ["val"] * len(val_idx),
                np.concatenate([labels, np.zeros(len(val_idx), int)]),
                np.concatenate([data.test_classes[test_idx], -np.ones(len(val_idx), int)]),
                columns,
            )
    for seed in STUDY.seeds:  # scored again with the same config: the same scores
        twin = layout.scores_csv(runs, 0, seed, "fanogan_img")
        twin.parent.mkdir(parents=True)
        shutil.copy(layout.scores_csv(runs, 0, seed, "fanogan"), twin)


def _derive(results, runs) -> None:
    ensemble_cells(STUDY, results, runs)
    subsample_errors(STUDY, results, runs)
    pair_aurocs(STUDY, results, runs)
    complexity_cells(STUDY, results, runs)


def _folder(results) -> dict:
    return {
        p.relative_to(results).as_posix(): p.read_bytes() for p in sorted(results.rglob("*.json"))
    }


def test_rows_derived_from_the_score_files_alone_equal_those_from_the_score_folders(tmp_path):
    data = load_data(dataclasses.replace(STUDY.run, cls=0, seed=0))
    runs = tmp_path / "runs"
    _score_folders(runs, data)
    with_runs, kept_only = tmp_path / "with_runs", tmp_path / "kept_only"
    for results in (with_runs, kept_only):
        for seed in STUDY.seeds:
            for method in STUDY.methods:
                cell = layout.cell_path(results, 0, seed, method.name)
                cell.parent.mkdir(parents=True, exist_ok=True)
                cell.write_text("{}")  # the plain cells themselves are not read
    # The existing way: every row from the score folders under runs/.
    _derive(with_runs, runs)
    # Kept with the cells, then the run folders gone: the same rows from the files alone.
    assert keep_all_scores(STUDY, kept_only, runs) == len(STUDY.seeds) * len(STUDY.methods)
    assert keep_all_scores(STUDY, kept_only, runs) == 0  # kept once
    shutil.copy(layout.scores_csv(runs, 0, 1, "fanogan"), tmp_path / "fanogan.csv")
    shutil.rmtree(runs)
    _derive(kept_only, runs)
    derived = _folder(with_runs)
    assert _folder(kept_only) == derived
    assert {"cells/c0_ens_fanogan.json", "cells/c0_ens_anogan_ic.json"} <= set(derived)
    assert {"cells/c0_s0_anogan_ic.json", "cells/c0_s1_anogan_ic.json"} <= set(derived)
    ensemble = json.loads(derived["cells/c0_ens_anogan_ic.json"])
    assert 0.5 < ensemble["scores"]["R_ic"]["auroc"] <= 1.0
    pairs = json.loads(derived[layout.AUROC_BY_PAIR])
    assert set(pairs) == {"anogan", "fanogan", "fanogan_img", "anogan_ic"}
    assert json.loads(derived[layout.SUBSAMPLE_SE])["anogan"]["0"] > 0
    sizes = {p.stem: p.stat().st_size for p in layout.score_files(kept_only)}
    assert len(sizes) == 6 and sum(sizes.values()) < 100_000
    # fanogan_img's files name fanogan's, whose scores they are, instead of copying them.
    assert sizes["c0_s1_fanogan_img"] < 300 < sizes["c0_s1_fanogan"]
    same = read_score_file(layout.score_file(kept_only, 0, 1, "fanogan_img"))
    original = read_scores(tmp_path / "fanogan.csv")
    assert same.keys() == original.keys()
    assert all(np.array_equal(same[k], original[k]) for k in original)


def test_merge_brings_score_files_with_their_cells(tmp_path):
    from anogan_jax.studies.merge import merge_results

    here, there = tmp_path / "here", tmp_path / "there"
    cell = {"study": STUDY.name, "class": 0}
    for seed in STUDY.seeds:
        path = layout.cell_path(there, 0, seed, "anogan")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cell))
        table = {"index": np.arange(3), "split": np.array(["test"] * 3), "A": np.ones(3)}
        write_score_file(layout.score_file(there, 0, seed, "anogan"), table)
    plan = merge_results(STUDY, there, here)
    assert (plan.cells(), plan.score_files()) == (2, 2)
    assert [p.name for p in layout.score_files(here)] == ["c0_s0_anogan.npz", "c0_s1_anogan.npz"]


@pytest.mark.parametrize(
    "name, parsed",
    [
        ("c3_s12_hybrid10.json", (3, "12", "hybrid10")),
        ("c0_ens_fanogan_ic.json", (0, "ens", "fanogan_ic")),
    ],
)
def test_layout_names_cells_and_parses_them_back(name, parsed, tmp_path):
    assert layout.cell_name(name) == parsed
    cls, seed, method = parsed
    path = (
        layout.ensemble_path(tmp_path, cls, method)
        if seed == "ens"
        else layout.cell_path(tmp_path, cls, int(seed), method)
    )
    assert path == tmp_path / "cells" / name
