"""mkdocs hooks: pages that are built from the code, so that they cannot drift from it.

* ``<!-- cli -->`` becomes the ``--help`` of ``anogan-jax`` and of each of its subcommands,
  rendered from the parser the command itself uses (``anogan_jax.cli_parser``).
* ``<!-- modules: PACKAGE -->`` becomes one mkdocstrings directive per module of PACKAGE (the
  library floor for ``anogan_jax``, less its entry points and the floors above it).
* ``<!-- names -->`` becomes the table of ``anogan_jax.__all__``, each name linked to its entry
  in the module it is defined in.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
from pathlib import Path

import anogan_jax
from anogan_jax.cli_parser import build_parser

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "anogan_jax"
# Entry points and floors that the library's reference leaves to their own pages.
NOT_LIBRARY = ("cli", "cli_parser", "demo", "runs", "studies")
# Modules left out of the reference: their Args sections document several parameters per
# entry ("a, b: ..."), which the strict build refuses; each entry needs its own name first.
LEFT_OUT: tuple[str, ...] = ()


def _help(parser: argparse.ArgumentParser) -> str:
    os.environ["COLUMNS"] = "100"  # argparse wraps at the terminal's width; fix it
    return parser.format_help().rstrip()


def cli_markdown() -> str:
    """Every command's ``--help``, one section each, from ``cli_parser.build_parser``."""
    parser = build_parser()
    parts = ["## anogan-jax", "", "```text", _help(parser), "```"]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                parts += ["", f"## {name}", "", "```text", _help(sub), "```"]
    return "\n".join(parts)


def modules(package: str) -> list[str]:
    """The modules of ``package`` in file order: the package itself, then its modules and
    sub-packages (private ones, ``_x``, left out)."""
    folder = ROOT / package.replace(".", "/")
    names = [package]
    for path in sorted(folder.iterdir()):
        stem = path.stem
        if stem.startswith("_") or (package == "anogan_jax" and stem in NOT_LIBRARY):
            continue
        if (path.suffix == ".py") or (path / "__init__.py").exists():
            names.append(f"{package}.{stem}")
    if package == "anogan_jax":
        names.remove("anogan_jax")  # the face has its own page
    return names


def modules_markdown(package: str) -> str:
    return "\n\n".join(f"::: {name}" for name in modules(package) if name not in LEFT_OUT)


def _imported_from() -> dict[str, str]:
    """{name in ``anogan_jax/__init__.py``: the module it is imported from}."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    found = {}
    for node in tree.body:
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("anogan_jax")
        ):
            found.update({alias.asname or alias.name: node.module for alias in node.names})
    return found


def names_markdown() -> str:
    """A table of ``anogan_jax.__all__``: each name linked to its module's entry."""
    where = _imported_from()
    rows = ["| name | from |", "|---|---|"]
    for name in anogan_jax.__all__:
        if name in where:
            rows.append(f"| [`ag.{name}`][{where[name]}.{name}] | `{where[name]}` |")
    return "\n".join(rows)


MARKERS = {
    re.compile(r"<!-- cli -->"): lambda m: cli_markdown(),
    re.compile(r"<!-- modules: ([\w.]+) -->"): lambda m: modules_markdown(m.group(1)),
    re.compile(r"<!-- names -->"): lambda m: names_markdown(),
}


def on_page_markdown(markdown: str, **kwargs) -> str:
    for pattern, render in MARKERS.items():
        markdown = pattern.sub(render, markdown)
    return markdown
