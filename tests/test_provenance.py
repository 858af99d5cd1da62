"""Where a result was computed: the commit of this checkout (whatever the current folder),
the machine with its usable cores, and the installed versions."""

import os
import subprocess
from pathlib import Path

import pytest

from anogan_jax.runs import provenance

REPO = Path(provenance.__file__).resolve().parents[2]


def test_git_commit_is_this_checkouts_from_any_folder(tmp_path, monkeypatch):
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    monkeypatch.chdir(tmp_path)  # not a repository: the answer must not depend on it
    commit = provenance.git_commit()
    assert commit.split(" ")[0] == head
    assert commit in (head, f"{head} (with uncommitted changes)")


def test_hardware_names_the_usable_cores_and_versions_the_packages():
    usable = len(os.sched_getaffinity(0))
    assert f"({usable} usable by this process)" in provenance.hardware()
    import jax

    assert f"jax {jax.__version__}" in provenance.versions().split(", ")
    assert set(provenance.describe()) == {"hardware", "versions", "git_commit"}


def test_a_result_computed_on_a_gpu_names_the_gpu_before_the_host(monkeypatch):
    """On a GPU or TPU the device decides a result's speed and rounding, so the record leads
    with it; on the CPU backend the record is the host's alone, as cells recorded before."""
    import jax

    if jax.default_backend() != "cpu":
        pytest.skip("checks the CPU backend's record against a faked GPU")
    host = provenance.machine()
    assert ";" not in host and "(gpu)" not in host

    class Fake:
        def __init__(self, kind):
            self.device_kind = kind

    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    monkeypatch.setattr(jax, "devices", lambda: [Fake("NVIDIA H200"), Fake("NVIDIA H200")])
    assert provenance.machine() == f"2 x NVIDIA H200 (gpu); host {host}"
    assert provenance.hardware().startswith(f"2 x NVIDIA H200 (gpu); host {host}, ")
    # a GPU cell is not this CPU host's, and the CPU host's cells are not the GPU machine's
    assert not provenance.same_machine(provenance.hardware(), here=host)
    assert not provenance.same_machine(f"{host}, Linux 6", here=provenance.machine())


def test_the_settings_that_change_xlas_numbers_are_recorded_where_set(monkeypatch):
    for name in provenance.SETTINGS:
        monkeypatch.delenv(name, raising=False)
    assert provenance.settings() == "" and "settings" not in provenance.describe()
    monkeypatch.setenv("XLA_FLAGS", "--xla_gpu_deterministic_ops=true")
    monkeypatch.setenv("ANOGAN_JAX_CPU_CONV", "ynnpack")
    expected = "XLA_FLAGS=--xla_gpu_deterministic_ops=true, ANOGAN_JAX_CPU_CONV=ynnpack"
    assert provenance.settings() == expected
    assert provenance.describe()["settings"] == expected
    # jax's own options count however they were set, here through jax.config
    import jax

    with jax.default_matmul_precision("highest"):
        assert provenance.settings() == expected + ", jax_default_matmul_precision=highest"
    assert provenance.settings() == expected


def test_a_package_that_is_not_the_top_of_a_checkout_has_no_commit(tmp_path):
    """Installed into a site-packages inside another repository: that repository's commit is
    not this package's."""
    outer = tmp_path / "project"
    copy = outer / ".venv" / "site-packages" / "anogan_jax" / "runs"
    copy.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(outer)], check=True)
    who = ["-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", *who, "-C", str(outer), "commit", "-q", "--allow-empty", "-m", "x"],
                   check=True)  # fmt: skip
    assert _load_copy(copy / "provenance.py").git_commit() == "unknown"


def _load_copy(module_file: Path):
    """This module's source, copied to ``module_file``, imported from there."""
    import importlib.util

    module_file.write_text(Path(provenance.__file__).read_text())
    spec = importlib.util.spec_from_file_location(f"copy_{module_file.parent.name}", module_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _copy_in_a_checkout(tmp_path):
    """This module copied into a committed checkout of its own, with a tracked results file."""
    repo = tmp_path / "checkout"
    (repo / "anogan_jax" / "runs").mkdir(parents=True)
    (repo / "results").mkdir()
    module_file = repo / "anogan_jax" / "runs" / "provenance.py"
    module_file.write_text(Path(provenance.__file__).read_text())  # tracked from the start
    (repo / "results" / "REPORT.md").write_text("old\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-C", str(repo)]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "x"], check=True)
    return repo, _load_copy(module_file)


def test_changes_in_the_output_folders_are_not_uncommitted_code(tmp_path, monkeypatch):
    repo, module = _copy_in_a_checkout(tmp_path)
    clean = module.git_commit()
    assert len(clean) >= 7 and " " not in clean
    (repo / "results" / "REPORT.md").write_text("rewritten before its commit\n")
    monkeypatch.chdir(tmp_path)
    assert module.git_commit() == f"{clean} (with uncommitted changes)"
    assert module.git_commit(outputs=[repo / "results"]) == clean
    assert module.describe(outputs=[str(repo / "results")])["git_commit"] == clean
    # Outputs outside the checkout change nothing; a code change still counts.
    assert module.git_commit(outputs=[tmp_path / "elsewhere"]) != clean
    (repo / "anogan_jax" / "runs" / "provenance.py").write_text("# changed\n")
    assert module.git_commit(outputs=[repo / "results"]) == f"{clean} (with uncommitted changes)"


def test_version_prints_the_package_commit_and_libraries_on_stdout(capsys):
    from importlib import metadata

    from anogan_jax import cli

    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    out, err = capsys.readouterr()
    first, libraries = out.splitlines()
    assert first == f"anogan-jax {metadata.version('anogan-jax')}, git commit " + (
        provenance.git_commit()
    )
    assert libraries == provenance.versions() and err == ""
