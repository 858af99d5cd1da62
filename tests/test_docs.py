"""The docs: the Python-API page's program runs as written and computes sensible numbers; the
public face resolves; the site builds strictly (slow)."""

import argparse
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import anogan_jax as ag
from anogan_jax.cli_parser import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def python_blocks(md: Path) -> list[str]:
    """The ```python blocks of a Markdown page, in order."""
    return re.findall(r"^```python\n(.*?)^```", md.read_text(encoding="utf-8"), re.M | re.S)


def test_public_face():
    assert callable(ag.make_gan_step) and callable(ag.make_search)
    missing = [name for name in ag.__all__ if not hasattr(ag, name)]
    assert missing == []
    assert len(set(ag.__all__)) == len(ag.__all__)
    assert isinstance(ag.__version__, str) and ag.__version__


def test_the_face_stands_on_the_library_floor():
    # A fresh process: importing the face imports neither runs/ nor studies/.
    code = (
        "import sys, anogan_jax; "
        "print(sorted(m for m in sys.modules if m.startswith(('anogan_jax.runs', "
        "'anogan_jax.studies'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_python_api_page_runs(capsys):
    blocks = python_blocks(DOCS / "python-api.md")
    assert len(blocks) == 1
    code = blocks[0]
    assert "import anogan_jax as ag" in code
    assert len([line for line in code.splitlines() if line.strip()]) <= 35
    scope: dict = {}
    exec(compile(code, "docs/python-api.md", "exec"), scope)
    data, result = scope["data"], scope["result"]
    n = len(data.test)
    assert result.z.shape == (n, scope["models"].latent_dim)
    assert scope["anogan"]["A"].shape == (n,) and scope["fanogan"].shape == (n,)
    assert int(scope["state"].step) == 300 and int(scope["e_state"].step) == 300
    printed = capsys.readouterr().out
    aurocs = [float(x) for x in re.findall(r"AUROC ([0-9.]+)", printed)]
    assert len(aurocs) == 2
    # Digits class 0 against the other nine: both methods separate them well.
    assert all(0.8 < a <= 1.0 for a in aurocs), aurocs
    assert aurocs[0] == ag.auroc(data.test_labels, np.asarray(scope["anogan"]["A"]))


@pytest.mark.slow
def test_site_builds_strictly(tmp_path):
    pytest.importorskip("mkdocstrings")
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    cli = (tmp_path / "cli" / "index.html").read_text(encoding="utf-8")
    parser = build_parser()
    commands = next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert len(commands) >= 8
    for command, sub in commands.items():
        assert f'id="{command}"' in cli, command
        options = [o for a in sub._actions for o in a.option_strings if o.startswith("--")]
        assert all(o in cli for o in options), command
    assert "--num-steps" in cli and "--resume" in cli
    api = (tmp_path / "api" / "index.html").read_text(encoding="utf-8")
    assert "make_gan_step" in api and "make_search" in api
