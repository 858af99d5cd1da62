"""xla_cpu.jit: per-program XLA:CPU options that hand convolutions back to XLA."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from anogan_jax import models
from anogan_jax.ops import conv, xla_cpu

pytestmark = pytest.mark.skipif(jax.default_backend() != "cpu", reason="XLA:CPU options")


def _conv(x, k):
    return conv.conv2d(x, k, stride=1, padding=1, impl="lax")


def _problem():
    x = jax.random.normal(jax.random.key(0), (2, 14, 14, 32))
    k = jax.random.normal(jax.random.key(1), (3, 3, 32, 16)) * 0.1
    return x, k


def _hlo(jitted, *args):
    return jitted.lower(*args).compile().as_text()


def test_convolutions_leave_ynnpack_and_give_the_same_numbers(monkeypatch):
    monkeypatch.delenv(xla_cpu.ENV, raising=False)
    if xla_cpu.compiler_options() is None:
        pytest.skip("this jaxlib does not know the YNNPACK fusion option")
    x, k = _problem()
    ours, plain = xla_cpu.jit(_conv), jax.jit(_conv)
    hlo = _hlo(ours, x, k)
    assert " convolution(" in hlo and "ynn_fusion" not in hlo
    # XLA's default (what the option changes) does send this convolution to YNNPACK.
    assert "ynn_fusion" in _hlo(plain, x, k)
    np.testing.assert_allclose(ours(x, k), plain(x, k), rtol=1e-5, atol=1e-5)


def test_engine_variable(monkeypatch):
    monkeypatch.setenv(xla_cpu.ENV, "ynnpack")
    assert xla_cpu.compiler_options() is None
    x, k = _problem()
    assert "ynn_fusion" in _hlo(xla_cpu.jit(_conv), x, k)
    monkeypatch.setenv(xla_cpu.ENV, "oneDNN")
    with pytest.raises(ValueError, match="ANOGAN_JAX_CPU_CONV='oneDNN' is not one of"):
        xla_cpu.compiler_options()


def test_rejected_options_fall_back_with_a_warning(monkeypatch):
    monkeypatch.delenv(xla_cpu.ENV, raising=False)
    monkeypatch.setattr(xla_cpu, "CPU_OPTIONS", {"xla_cpu_no_such_option_for_this_test": "1"})
    with pytest.warns(UserWarning, match="rejects the CPU compile options"):
        assert xla_cpu.compiler_options() is None
    x, k = _problem()
    np.testing.assert_allclose(xla_cpu.jit(_conv)(x, k), jax.jit(_conv)(x, k), rtol=1e-6)


def test_nested_and_transformed_calls():
    """jax refuses compiler options on a jit inside another trace; ours becomes a plain jit
    there, whether the arguments are tracers or closed-over constants."""
    f = xla_cpu.jit(lambda x, n: x * n, static_argnames="n")
    ones = jnp.ones(3)
    np.testing.assert_array_equal(f(ones, n=2), 2 * ones)
    np.testing.assert_array_equal(jax.jit(lambda: f(ones, n=3))(), 3 * ones)
    np.testing.assert_array_equal(jax.jit(lambda y: f(y, n=4))(ones), 4 * ones)
    np.testing.assert_array_equal(jax.grad(lambda y: f(y, n=5).sum())(ones), 5 * ones)
    assert jax.vmap(lambda y: f(y, n=6))(jnp.ones((2, 3))).shape == (2, 3)
    assert jax.eval_shape(lambda y: f(y, n=7), ones).shape == (3,)
    assert f.lower(ones, n=2).compile() is not None
    assert f.__wrapped__ is not None


def test_models_are_built_lazily_and_init_nests():
    """Model init is an xla_cpu.jit; checkpoint templates call it under eval_shape."""
    g = models.make_gan("dcgan28_light", latent_dim=8).generator
    shapes = jax.eval_shape(g.init, jax.random.key(0))
    params = g.init(jax.random.key(0))
    assert jax.tree_util.tree_structure(shapes) == jax.tree_util.tree_structure(params)


# Where the package may call jax.jit itself, as (file under anogan_jax/, enclosing function):
# the project's jit and its option probe, and the export, whose serialized StableHLO carries
# no compile options.
ALLOWED_JAX_JIT = {
    ("ops/xla_cpu.py", "_accepted"),
    ("ops/xla_cpu.py", "_Jit._get"),
    ("ops/xla_cpu.py", "_Jit.__call__"),
    ("runs/export.py", "_serialize"),
}


def _jax_jit_sites(path, rel):
    """(rel, enclosing function, line) of each use of jax.jit in one file: ``jax.jit`` or an
    alias of the jax module (``import jax as j``) and ``from jax import jit``."""
    import ast

    tree = ast.parse(path.read_text(), filename=str(path))
    aliases = {"jax"} | {
        a.asname
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for a in node.names
        if a.name == "jax" and a.asname
    }
    sites = []

    def visit(node, scope):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            scope = f"{scope}.{node.name}" if scope else node.name
        hit = (
            isinstance(node, ast.Attribute)
            and node.attr == "jit"
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ) or (
            isinstance(node, ast.ImportFrom)
            and node.module == "jax"
            and any(a.name == "jit" for a in node.names)
        )
        if hit:
            sites.append((rel, scope, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child, scope)

    visit(tree, "")
    return sites


def _stray_jits(root):
    return [
        site
        for path in sorted(root.rglob("*.py"))
        for site in _jax_jit_sites(path, path.relative_to(root).as_posix())
        if site[:2] not in ALLOWED_JAX_JIT
    ]


def test_library_programs_compile_with_the_options(tmp_path):
    """No stray jax.jit anywhere in the package: every program is an xla_cpu.jit (so the
    measured speed is what users get), except the call sites listed in ALLOWED_JAX_JIT."""
    import pathlib

    import anogan_jax

    root = pathlib.Path(anogan_jax.__file__).parent
    assert len(list(root.rglob("*.py"))) > 40  # the whole package, sub-packages included
    assert not _stray_jits(root)
    assert {s[:2] for s in _jax_jit_sites(root / "runs/export.py", "runs/export.py")} == {
        ("runs/export.py", "_serialize")
    }
    # The scan finds each spelling in a planted file, in a sub-package as in the real tree.
    planted = tmp_path / "runs" / "planted.py"
    planted.parent.mkdir()
    planted.write_text(
        "import jax\nimport jax as j\nfrom jax import jit\n"
        "# jax.jit in a comment is no call\n"
        "def f(g):\n    return jax.jit(g)\n\n"
        "class C:\n    def m(self, g):\n        return j.jit(g)\n"
    )
    assert _stray_jits(tmp_path) == [
        ("runs/planted.py", "", 3),
        ("runs/planted.py", "f", 6),
        ("runs/planted.py", "C.m", 10),
    ]


def test_warning_free_on_supported_jaxlib(monkeypatch):
    monkeypatch.delenv(xla_cpu.ENV, raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xla_cpu.compiler_options()
