"""The package's shape: three floors (the library; ``runs/`` above it; ``studies/`` above
that), ``experiments/`` on top (it may import any of them, none of them imports it), no import
cycle, no function-level import of the package that could hide one, and flax only in
``models/``."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "anogan_jax"
EXPERIMENTS = PACKAGE.parent / "experiments"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_module(name: str) -> bool:
    """Whether ``name`` is a module or package of this repository (not a name inside one)."""
    path = PACKAGE.parent / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _imports(path: Path, roots=("anogan_jax",)) -> list[tuple[str, bool]]:
    """(imported module of ``roots``, at module level?) for every import in ``path``."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(roots):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                name = candidate if _is_module(candidate) else node.module
                found.append((name, id(node) in top))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(roots):
                    found.append((alias.name, id(node) in top))
    return found


def _graph(with_experiments: bool = False) -> dict[str, set[str]]:
    graph = {}
    roots = ("anogan_jax", "experiments")
    paths = [*PACKAGE.rglob("*.py"), *(EXPERIMENTS.rglob("*.py") if with_experiments else [])]
    for path in paths:
        graph[_module_name(path)] = {m for m, _ in _imports(path, roots)} - {"anogan_jax"}
    return graph


def test_no_function_level_imports_of_the_package():
    inner = [
        (_module_name(p), m) for p in PACKAGE.rglob("*.py") for m, top in _imports(p) if not top
    ]
    assert inner == []


# The top floor: thin entry points over runs/.
ENTRY_POINTS = ("anogan_jax.cli", "anogan_jax.cli_parser", "anogan_jax.demo")


def _above(graph: dict, floor: str, below) -> dict:
    """{module of ``below``: the modules of ``floor`` (or below it) it imports}, where any."""
    bad = {m: sorted(d for d in graph[m] if d.startswith(floor)) for m in below}
    return {m: d for m, d in bad.items() if d}


def test_library_never_imports_runs_or_studies():
    graph = _graph()
    library = [
        m
        for m in graph
        if not m.startswith(("anogan_jax.runs", "anogan_jax.studies")) and m not in ENTRY_POINTS
    ]
    assert _above(graph, "anogan_jax.runs", library) == {}
    assert _above(graph, "anogan_jax.studies", library) == {}
    assert not any("anogan_jax.cli" in deps for deps in graph.values())
    # the CLI's parser is the CLI's alone
    assert [m for m, deps in graph.items() if "anogan_jax.cli_parser" in deps] == ["anogan_jax.cli"]


def test_runs_never_imports_studies_and_the_package_never_imports_experiments():
    graph = _graph(with_experiments=True)
    package = [m for m in graph if m.startswith("anogan_jax")]
    runs = [m for m in package if m.startswith("anogan_jax.runs")]
    assert _above(graph, "anogan_jax.studies", runs + list(ENTRY_POINTS)) == {}
    assert _above(graph, "experiments", package) == {}
    # the studies floor exists and experiments stand on it
    assert "anogan_jax.studies.layout" in graph
    assert "anogan_jax.studies.run" in graph["experiments.run_study"]


def test_no_import_cycle():
    graph = _graph(with_experiments=True)
    state: dict[str, int] = {}
    cycles = []

    def visit(node, stack):
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep) :] + [dep])
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_flax_only_in_models():
    users = sorted(
        _module_name(p)
        for p in PACKAGE.rglob("*.py")
        if "import flax" in p.read_text() or "from flax" in p.read_text()
    )
    outside = [
        m for m in users if m != "anogan_jax.models" and not m.startswith("anogan_jax.models.")
    ]
    assert "anogan_jax.models" in users and outside == []
