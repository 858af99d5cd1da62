"""Every committed study config loads and is valid: its name is its file's, its settings pass
the same validation as the command line's, and its ensembles and frontier name its methods.
(A study runs for hours; a config that fails in its last class is found here instead.)"""

from pathlib import Path

import pytest

from anogan_jax.studies.config import Study, complexity_name
from experiments.run_study import load_config

CONFIGS = sorted(
    p
    for p in (Path(__file__).resolve().parent.parent / "experiments" / "configs").glob("*.py")
    if not p.name.startswith("_")
)


def test_there_are_study_configs():
    assert len(CONFIGS) >= 8


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_study_config_is_valid(path):
    study = load_config(str(path))
    assert isinstance(study, Study) and study.name == path.stem
    study.run.validate()
    study.encoder.validate()
    names = [m.name for m in study.methods]
    assert len(names) == len(set(names)) and names
    for method in study.methods:
        method.score.validate()
    assert set(study.frontier) <= set(names) and set(study.complexity) <= set(names)
    assert set(study.ensembles) <= set(names) | {complexity_name(c) for c in study.complexity}
    assert study.classes and len(set(study.seeds)) == len(study.seeds) >= 1
    for reference in study.published.values():
        assert set(reference) <= set(study.classes)


BAD_CONFIGS = {
    "missing.py": (None, "study config {p} does not exist"),
    "folder": ("", "{p} is not a Python file; give a study config such as"),
    "notes.txt": ("STUDY = 1\n", "{p} is not a Python file"),
    "syntax.py": ("x = (\n", "fails to load: SyntaxError: '(' was never closed"),
    "raises.py": (
        "\n\nimport nosuchmodule\n",
        "ModuleNotFoundError: No module named 'nosuchmodule' (line 3)",
    ),
    "no_study.py": ("X = 1\n", "{p} defines no STUDY; a study config sets STUDY = Study(...)"),
    "not_a_study.py": ("STUDY = {'name': 'x'}\n", "{p} sets STUDY to a dict;"),
}


@pytest.mark.parametrize("name", list(BAD_CONFIGS))
def test_a_bad_study_config_is_refused_with_what_is_wrong(tmp_path, capsys, name):
    from experiments.run_study import main

    text, expected = BAD_CONFIGS[name]
    path = tmp_path / name
    if name == "folder":
        path.mkdir()
    elif text is not None:
        path.write_text(text)
    before = sorted(tmp_path.rglob("*"))
    assert main([str(path), "--results", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected.format(p=path) in err, err
    assert "Traceback" not in err and sorted(tmp_path.rglob("*")) == before


def test_report_only_of_a_folder_without_cells_is_refused_and_writes_nothing(tmp_path, capsys):
    from experiments.run_study import main

    config = CONFIGS[0]
    results = tmp_path / "typo"
    assert main([str(config), "--report-only", "--results", str(results)]) == 2
    assert f"{results} holds no cells (cells/*.json): nothing to report" in capsys.readouterr().err
    assert not results.exists()
