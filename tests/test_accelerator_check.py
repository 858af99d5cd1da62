"""The accelerator check: its flop counter against closed forms, the batched-matmul form of
the models axis against the grouped convolution and the loop, the budget, and (slow) the tiny
run writing every section."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from anogan_jax.ops import conv
from experiments import accelerator_check as ac
from experiments import bench_common as bc


def test_model_flops_counts_dots_convs_and_every_scan_iteration():
    a, b = jnp.ones((8, 16)), jnp.ones((16, 4))
    assert bc.model_flops(jnp.dot, a, b) == 2 * 8 * 16 * 4

    def five(x):
        return lax.scan(lambda c, _: (c @ b.T @ b, None), x, None, length=5)[0]

    assert bc.model_flops(five, jnp.ones((8, 4))) == 5 * 2 * (8 * 4 * 16 + 8 * 16 * 4)
    x, k = jnp.ones((2, 28, 28, 3)), jnp.ones((3, 3, 3, 8))
    one = bc.model_flops(lambda x, k: conv.conv2d(x, k, stride=1, padding=1), x, k)
    assert one == 2 * 2 * 28 * 28 * 8 * 27
    # The tuned formulation's custom_vjp and the plain one count the same work.
    tuned = lambda x, k: conv.conv2d(x, k, stride=1, padding=1, impl="tuned")  # noqa: E731
    assert bc.model_flops(tuned, x, k) == one
    # M models' kernels vmapped: a grouped convolution of M times the work.
    grouped = jax.vmap(lambda x, k: conv.conv2d(x, k, stride=1, padding=1, impl="lax"))
    assert bc.model_flops(grouped, jnp.stack([x] * 4), jnp.stack([k] * 4)) == 4 * one
    # A stride-2 transposed convolution: the zeros between the input pixels are not work.
    xt, kt = jnp.ones((2, 7, 7, 8)), jnp.ones((4, 4, 8, 3))
    flops = bc.model_flops(
        lambda x, k: conv.conv_transpose2d(x, k, stride=2, padding=1, impl="lax"), xt, kt
    )
    assert flops == 2 * 2 * 14 * 14 * 3 * 8 * 16 / 4


@pytest.mark.slow
@pytest.mark.parametrize("op", ["conv2d", "conv_transpose2d"])
def test_batched_matmul_form_equals_grouped_conv_and_loop(op):
    """vmap over per-model kernels: im2col gives a batched matmul, lax a grouped convolution;
    both equal each model's own convolution, values and gradients."""
    m = 3
    kx, kk = jax.random.split(jax.random.key(0))
    if op == "conv2d":
        x = jax.random.normal(kx, (m, 2, 14, 14, 8))
        k = jax.random.normal(kk, (m, 4, 4, 8, 16)) * 0.1
        fn = lambda impl: lambda x, k: conv.conv2d(x, k, stride=2, padding=1, impl=impl)  # noqa: E731
    else:
        x = jax.random.normal(kx, (m, 2, 7, 7, 16))
        k = jax.random.normal(kk, (m, 4, 4, 16, 8)) * 0.1
        fn = lambda impl: (
            lambda x, k: conv.conv_transpose2d(  # noqa: E731
                x, k, stride=2, padding=1, impl=impl
            )
        )

    def value_and_grads(impl):
        loss = lambda x, k: jnp.sum(jnp.sin(fn(impl)(x, k)))  # noqa: E731
        return jax.vmap(jax.value_and_grad(loss, argnums=(0, 1)))(x, k)

    batched, grouped = value_and_grads("im2col"), value_and_grads("lax")
    looped = [jax.value_and_grad(lambda x, k: jnp.sum(jnp.sin(fn("lax")(x, k))), (0, 1))(x[i], k[i])
              for i in range(m)]  # fmt: skip
    for a, b in zip(jax.tree.leaves(batched), jax.tree.leaves(grouped), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    for i in range(m):
        for a, b in zip(jax.tree.leaves(looped[i]), jax.tree.leaves(batched), strict=True):
            np.testing.assert_allclose(a, b[i], rtol=1e-4, atol=1e-4)


def test_spent_budget_skips_every_section_and_still_writes_the_device(tmp_path):
    ac.main(["--tiny", "--no-torch", "--budget-s", "0", "--out", str(tmp_path / "a")])
    payload = json.loads((tmp_path / "a.json").read_text())
    assert payload["training"] == [] and payload["inference"] == [] and payload["profiles"] == []
    # Each section the budget stopped is named: 1 model count x 4 archs, bf16, search, profile.
    assert len(payload["skipped"]) == 4 + 1 + 1 + 1 + 1
    assert payload["device"]["machine"]["jax_backend"] == "cpu"
    assert payload["device"]["measured"]["float32_tflops"] > 0
    assert "## Not measured" in (tmp_path / "a.md").read_text()


@pytest.mark.slow
def test_tiny_check_measures_every_form_and_section(tmp_path):
    argv = ["--tiny", "--archs", "dcgan28_light,mlp", "--objective", "non_saturating"]
    ac.main([*argv, "--budget-s", "1000", "--out", str(tmp_path / "a")])
    payload = json.loads((tmp_path / "a.json").read_text())
    assert payload["skipped"] == []
    rows = payload["training"]
    forms = {(r["arch"], r["dtype"]): set() for r in rows}
    for r in rows:
        forms[(r["arch"], r["dtype"])].add(r["form"])
        assert r["model_steps_per_s"] > 0 and r["tflops"] > 0 and r["models"] == 2
    jax_forms = {(a, d): f - {"torch"} for (a, d), f in forms.items()}
    assert jax_forms == {
        ("dcgan28_light", "float32"): set(ac.CONV_FORMS),
        ("dcgan28_light", "bfloat16"): set(ac.CONV_FORMS),
        ("mlp", "float32"): set(ac.MLP_FORMS),
    }
    # Every form of one arch and dtype is credited with the same work.
    for key in forms:
        work = {r["gflop_per_model_step"] for r in rows if (r["arch"], r["dtype"]) == key}
        assert len(work) == 1, key
    methods = {(r["method"], r["batch"], r["dtype"]) for r in payload["inference"]}
    assert methods == {("search", 8, "float32"), ("fanogan", 8, "float32"),
                       ("search", 8, "bfloat16"), ("fanogan", 8, "bfloat16")}  # fmt: skip
    assert all(r["images_per_s"] > 0 and r["tflops"] > 0 for r in payload["inference"])
    (profile,) = payload["profiles"]
    assert 0 < len(profile["ops"]) <= 10 and profile["models"] == 2
    assert all(o["ms"] > 0 for o in profile["ops"])
    assert [o["ms"] for o in profile["ops"]] == sorted(
        (o["ms"] for o in profile["ops"]), reverse=True
    )
    chosen = {(c["arch"], c["models"]): c["best_form"] for c in payload["summary"]["chosen_forms"]}
    assert set(chosen) == {("dcgan28_light", 2), ("mlp", 2)}
    text = (tmp_path / "a.md").read_text()
    assert "## Fastest form per architecture" in text and "| dcgan28_light | 2 | grouped |" in text
