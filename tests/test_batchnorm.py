"""models.BatchNorm (batchnorm.batch_norm inside) is flax's nn.BatchNorm, faster on CPU."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from anogan_jax import models
from anogan_jax.ops import batchnorm

# Like the generator's dense BatchNorm (64, 25088), a small conv one, and one with more rows
# than GEMV_MAX_ROWS (JAX's own reductions).
SHAPES = [(64, 2048), (6, 7, 7, 16), (20, 8, 8, 4)]


def _plain(x, scale, bias):
    """Training-mode BatchNorm over axis 0 with JAX's own reductions and derivative."""
    mean = jnp.mean(x, 0)
    var = jnp.maximum(0.0, jnp.mean(x * x, 0) - mean * mean)
    return (x - mean) * (jax.lax.rsqrt(var + 1e-5) * scale) + bias, mean, var


def _pair(shape, train, seed=0):
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.standard_normal(shape, np.float32) * 3 + 1)
    ours = models.BatchNorm(use_running_average=not train)
    ref = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)
    variables = ref.init(jax.random.key(0), x)
    # Non-trivial parameters and running statistics.
    c = shape[-1]
    variables = {
        "params": {"scale": jnp.linspace(0.5, 2, c), "bias": jnp.linspace(-1, 1, c)},
        "batch_stats": {"mean": jnp.linspace(-0.3, 0.3, c), "var": jnp.linspace(0.5, 3, c)},
    }
    return x, ours, ref, variables


def test_same_variables_as_flax():
    x, ours, ref, _ = _pair((4, 3, 3, 5), train=False)
    a, b = ours.init(jax.random.key(0), x), ref.init(jax.random.key(0), x)
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    jax.tree_util.tree_map(np.testing.assert_array_equal, a, b)


@pytest.mark.parametrize("shape", SHAPES)
def test_training_mode_matches_flax(shape):
    rows = [int(np.prod(s[:-1])) for s in SHAPES]
    assert max(rows[:2]) <= batchnorm.GEMV_MAX_ROWS < rows[2]
    x, ours, ref, variables = _pair(shape, train=True)
    cot = jnp.asarray(np.random.default_rng(1).standard_normal(shape, np.float32))

    def run(module):
        def f(x, params):
            y, upd = module.apply(
                {"params": params, "batch_stats": variables["batch_stats"]},
                x,
                mutable=["batch_stats"],
            )
            return jnp.sum(y * cot), (y, upd["batch_stats"])

        (_, (y, stats)), grads = jax.value_and_grad(f, (0, 1), has_aux=True)(x, variables["params"])
        return y, stats, grads

    y, stats, grads = run(ours)
    y_ref, stats_ref, grads_ref = run(ref)
    # float32 sums of <= 1280 terms, in another order: 1e-5 of each array's scale.
    for got, want in zip(
        jax.tree_util.tree_leaves((y, stats, grads)),
        jax.tree_util.tree_leaves((y_ref, stats_ref, grads_ref)),
        strict=True,
    ):
        np.testing.assert_allclose(got, want, atol=1e-5 * float(jnp.abs(want).max()))


def test_inference_mode_matches_flax():
    x, ours, ref, variables = _pair((5, 4, 4, 6), train=False)
    np.testing.assert_allclose(
        ours.apply(variables, x), ref.apply(variables, x), rtol=1e-6, atol=1e-6
    )


def test_few_rows_vjp_covers_the_statistics_outputs():
    """The custom VJP against JAX's derivative of the plain formula, with cotangents on y,
    mean and var (the running averages are built from the last two)."""
    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.standard_normal((9, 11), np.float32))
    scale = jnp.asarray(rng.uniform(0.5, 2, 11).astype(np.float32))
    bias = jnp.asarray(rng.standard_normal(11).astype(np.float32))
    cots = (
        jnp.asarray(rng.standard_normal((9, 11), np.float32)),
        jnp.asarray(rng.standard_normal(11).astype(np.float32)),
        jnp.asarray(rng.standard_normal(11).astype(np.float32)),
    )

    def ours(x, scale, bias):
        return batchnorm.batch_norm(x, scale, bias, 1e-5)

    out, vjp = jax.vjp(ours, x, scale, bias)
    out_ref, vjp_ref = jax.vjp(_plain, x, scale, bias)
    for got, want in zip(out + vjp(cots), out_ref + vjp_ref(cots), strict=True):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)


def test_second_derivative_matches_plain():
    """Gradients of input gradients (a gradient penalty on a BatchNorm critic) go through the
    custom VJP's backward; compare with JAX's own second derivative of the plain formula."""
    rng = np.random.default_rng(3)
    x = jnp.asarray(rng.standard_normal((6, 5), np.float32))
    scale = jnp.asarray(rng.uniform(0.5, 2, 5).astype(np.float32))

    def penalty(norm):
        def f(scale):
            gx = jax.grad(lambda x: jnp.sum(jnp.tanh(norm(x, scale))))(x)
            return jnp.sum(gx**2)

        return jax.value_and_grad(f)(scale)

    got = penalty(lambda x, s: batchnorm.batch_norm(x, s, jnp.zeros(5), 1e-5)[0])
    want = penalty(lambda x, s: _plain(x, s, jnp.zeros(5))[0])
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
