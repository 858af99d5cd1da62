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


def test_a_package_that_is_not_the_top_of_a_checkout_has_no_commit(tmp_path):
    """Installed into a site-packages inside another repository: that repository's commit is
    not this package's."""
    outer = tmp_path / "project"
    copy = outer / ".venv" / "site-packages" / "anogan_jax" / "runs"
    copy.mkdir(parents=True)
    (copy / "provenance.py").write_text(Path(provenance.__file__).read_text())
    subprocess.run(["git", "init", "-q", str(outer)], check=True)
    who = ["-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", *who, "-C", str(outer), "commit", "-q", "--allow-empty", "-m", "x"],
                   check=True)  # fmt: skip
    import importlib.util

    spec = importlib.util.spec_from_file_location("copied_provenance", copy / "provenance.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.git_commit() == "unknown"
