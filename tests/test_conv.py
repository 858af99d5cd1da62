"""Every conv formulation is the same function as "lax": outputs, input and kernel gradients.

Cases are batched into one jitted program per formulation: XLA:CPU compile time, not
arithmetic, is what these tests spend.
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from anogan_jax.ops import conv, xla_cpu
from experiments import conv_variants

# The library's formulations and the two profiled-only ones of experiments/conv_variants.py.
OTHER_IMPLS = [impl for impl in conv_variants.IMPLS if impl != "lax"]
EPS32 = float(np.finfo(np.float32).eps)


class Layer(NamedTuple):
    transpose: bool
    size: int
    cin: int
    cout: int
    stride: int
    padding: int = 1
    output_padding: int = 0
    k: int = 3


# Every layer of the models (kernels 3x3), in the order of experiments/profile_conv.py.
MODEL_LAYERS = {
    "g28.ct1": Layer(True, 7, 512, 256, 2, 1, 1),
    "g28.ct2": Layer(True, 14, 256, 128, 1),
    "g28.ct3": Layer(True, 14, 128, 64, 1),
    "g28.ct4": Layer(True, 14, 64, 1, 2, 1, 1),
    "d28.c1": Layer(False, 28, 1, 8, 1),
    "d28.c2": Layer(False, 28, 8, 16, 2),
    "d28.c3": Layer(False, 14, 16, 32, 2),
    "d28.c4": Layer(False, 7, 32, 64, 1),
    "g28l.ct1": Layer(True, 7, 256, 64, 2, 1, 1),
    "g28l.ct2": Layer(True, 14, 64, 1, 2, 1, 1),
    "d28l.c1": Layer(False, 28, 1, 32, 2),
    "d28l.c2": Layer(False, 14, 32, 64, 2),
}
# Stride 1 and 2, padding 0 and 1, output_padding 0 and 1 (< stride, as PyTorch requires); at
# stride 2 odd and even sizes (a strided conv then drops, or keeps, the last padded row). The
# model layers above already cover padding 1 at stride 1 and (1, 1) transposed at stride 2.
ODD_LAYERS = {
    f"{'ct' if t else 'c'}-s{s}-p{p}-op{op}-n{n}": Layer(t, n, 3, 4, s, p, op)
    for t, s, p, op, n in itertools.product((False, True), (1, 2), (0, 1), (0, 1), (5, 6))
    if op < s and (t or op == 0) and (s == 2 or n == 5) and (s, p, op) not in ((1, 1, 0), (2, 1, 1))
}


def apply(layer: Layer, impl: str, x, kernel):
    if layer.transpose:
        return conv_variants.conv_transpose2d(
            x,
            kernel,
            stride=layer.stride,
            padding=layer.padding,
            output_padding=layer.output_padding,
            impl=impl,
        )
    return conv_variants.conv2d(x, kernel, stride=layer.stride, padding=layer.padding, impl=impl)


@functools.cache
def _normal_pool() -> np.ndarray:
    # One fixed-shape jax.random draw, compiled once; a draw per shape would compile per shape.
    return np.asarray(jax.random.normal(jax.random.key(0), (1 << 21,)))


def normal(offset: int, shape) -> jnp.ndarray:
    pool = _normal_pool()
    return jnp.asarray(np.take(pool, np.arange(offset, offset + math.prod(shape)), mode="wrap"))


def random_problem(layer: Layer, batch: int, seed: int):
    """Unit-variance x and cotangent, kernel scaled by 1/sqrt(fan-in): O(1) outputs."""
    x_shape = (batch, layer.size, layer.size, layer.cin)
    k_shape = (layer.k, layer.k, layer.cin, layer.cout)
    x = normal(7919 * seed, x_shape).reshape(x_shape)
    kernel = normal(7919 * seed + 1000003, k_shape).reshape(k_shape) / np.sqrt(
        math.prod(k_shape[:3])
    )
    y_shape = jax.eval_shape(lambda x, w: apply(layer, "lax", x, w), x, kernel).shape
    cotangent = normal(7919 * seed + 2000003, y_shape).reshape(y_shape)
    return x, kernel, cotangent


@functools.partial(xla_cpu.jit, static_argnums=(0, 1))
def values_and_grads(layers: tuple[Layer, ...], impl: str, problems):
    """For each layer: (y, dL/dx, dL/dkernel) with L = <y, cotangent>."""
    out = []
    for layer, (x, kernel, cotangent) in zip(layers, problems, strict=True):
        y, vjp_fn = jax.vjp(lambda x, w, layer=layer: apply(layer, impl, x, w), x, kernel)
        out.append((y, *vjp_fn(cotangent)))
    return out


def assert_same_function(layers: dict[str, Layer], impl: str, batch: int = 2):
    """y, dL/dx and dL/dkernel of ``impl`` match "lax" to float32 summation-order rounding.

    Each result is a float32 sum of `terms` products, summed in a different order by each
    formulation. Independent roundings grow like eps * sqrt(terms) relative to the result's
    magnitude (here the largest |reference| of the tensor); 16x that covers blocked / FMA
    accumulation. The largest reduction is k*k*C for y and dx, N*H'*W' for the kernel gradient:
    e.g. 4608 terms allow 1.3e-4, where a wrong tap, phase or channel order is an O(1) error.
    """
    names, cases = tuple(layers), tuple(layers.values())
    problems = [random_problem(layer, batch, seed) for seed, layer in enumerate(cases)]
    want = values_and_grads(cases, "lax", problems)
    got = values_and_grads(cases, impl, problems)
    for name, layer, (_, _, ct), w, g in zip(names, cases, problems, want, got, strict=True):
        terms = max(layer.k**2 * layer.cin, layer.k**2 * layer.cout, batch * ct.shape[1] ** 2)
        tol = 16 * EPS32 * np.sqrt(terms)
        for what, a, b in zip(("y", "dx", "dkernel"), g, w, strict=True):
            a, b = np.asarray(a), np.asarray(b)
            assert a.shape == b.shape and a.dtype == b.dtype, (name, what, a.shape, b.shape)
            err = np.max(np.abs(a - b)) / np.max(np.abs(b))
            assert err <= tol, f"{impl} {name} {what}: relative error {err:.2e} > {tol:.2e}"


def _narrow_for_patches(layer: Layer) -> Layer:
    # conv_general_dilated_patches is a convolution with a one-hot kernel, ~k^2 * Cin times the
    # layer's work; the channel-heavy layers are checked with at most 64 channels.
    return layer._replace(cin=min(layer.cin, 64), cout=min(layer.cout, 64))


@pytest.mark.parametrize("impl", OTHER_IMPLS)
def test_model_layers_match_lax(impl):
    layers = MODEL_LAYERS
    if impl == "patches":
        layers = {name: _narrow_for_patches(layer) for name, layer in layers.items()}
    assert_same_function(layers, impl)


@pytest.mark.parametrize("impl", OTHER_IMPLS)
def test_odd_cases_match_lax(impl):
    assert_same_function(ODD_LAYERS, impl)


@pytest.mark.parametrize("engine", xla_cpu.CONV_ENGINES)
def test_tuned_kernel_gradient_without_im2col_matches_lax(monkeypatch, engine):
    """Above a size "tuned" leaves a direct conv's kernel gradient to XLA, or, when YNNPACK
    runs convolutions, computes it per tap at stride 1 (``_shifted_kernel_grad``); at N=2 every
    layer is below that size, so force those branches here, on the model layers and on the odd
    paddings (stride-1 padding 0: taps that crop the cotangent instead of padding it)."""
    monkeypatch.setattr(conv, "_IM2COL_GRAD_MAX_ELEMENTS", 0)
    monkeypatch.setenv(xla_cpu.ENV, engine)
    jax.clear_caches()  # the jitted helpers were traced with the default threshold
    try:
        assert_same_function({**MODEL_LAYERS, **ODD_LAYERS}, "tuned")
    finally:
        jax.clear_caches()


@pytest.mark.parametrize("engine", xla_cpu.CONV_ENGINES)
def test_tuned_generator_layers_at_training_batch_match_lax(monkeypatch, engine):
    """dcgan28's stride-1 generator layers at the training batch (64), above the im2col
    threshold: XLA's kernel gradient, or the per-tap one when YNNPACK runs convolutions."""
    monkeypatch.setenv(xla_cpu.ENV, engine)
    jax.clear_caches()
    layers = {name: MODEL_LAYERS[name] for name in ("g28.ct2", "g28.ct3")}
    for layer in layers.values():
        assert 64 * layer.size**2 * layer.cin * layer.k**2 > conv._IM2COL_GRAD_MAX_ELEMENTS
    assert_same_function(layers, "tuned", batch=64)


def test_gradient_of_input_gradient_matches_lax():
    """The WGAN-GP penalty differentiates a per-sample input gradient (vmapped) again.

    Only "tuned" has hand-written gradients; the others are JAX's own transposes.
    """
    layers = tuple(MODEL_LAYERS[name]._replace(cin=4, cout=3) for name in ("d28.c2", "g28.ct4"))
    problems = [random_problem(layer, batch=3, seed=seed) for seed, layer in enumerate(layers)]

    @functools.partial(jax.jit, static_argnums=1)
    def penalty_grads(kernels, impl):
        def penalty(kernel, layer, x, weights):
            def critic(x, w):
                return jnp.sum(jnp.tanh(apply(layer, impl, x[None], kernel)[0]) * w)

            grads = jax.vmap(jax.grad(critic))(x, weights)
            return jnp.sum((jnp.sqrt(jnp.sum(grads**2, axis=(1, 2, 3))) - 1.0) ** 2)

        return [
            jax.value_and_grad(penalty)(kernel, layer, x, weights)
            for kernel, layer, (x, _, weights) in zip(kernels, layers, problems, strict=True)
        ]

    kernels = [kernel for _, kernel, _ in problems]
    for (want_value, want_grad), (value, grad) in zip(
        penalty_grads(kernels, "lax"), penalty_grads(kernels, "tuned"), strict=True
    ):
        # Two chained reductions of <= 36 and 3*28*28 terms: well inside 1e-4 relative.
        np.testing.assert_allclose(value, want_value, rtol=1e-4)
        np.testing.assert_allclose(grad, want_grad, atol=1e-4 * float(jnp.abs(want_grad).max()))


@pytest.mark.parametrize("name", ["d28.c4", "d28l.c2"])
def test_tuned_training_programs_have_no_window_dilated_conv(name):
    """XLA:CPU ran the window-dilated, batch/feature-swapped kernel-gradient convolutions of
    the training step in its naive loop emitter: 60-400 ms a call. "tuned" must leave none, in
    a kernel gradient or in a penalty's gradient of an input gradient (which also
    differentiates the custom_vjp's forward rule), inside lax.scan as the step has them."""
    layer = MODEL_LAYERS[name]._replace(cin=4, cout=3)
    x, kernel, weights = random_problem(layer, batch=3, seed=0)

    def penalty(kernel, x):
        def critic(x, w):
            return jnp.sum(jnp.tanh(apply(layer, "tuned", x[None], kernel)[0]) * w)

        grads = jax.vmap(jax.grad(critic))(x, weights)
        return jnp.sum(grads**2) + jnp.sum(apply(layer, "tuned", x, kernel))

    def scanned(kernel, xs):
        return lax.scan(lambda k, x: (k - jax.grad(penalty)(k, x), None), kernel, xs)[0]

    hlo = xla_cpu.jit(scanned).lower(kernel, x[None]).compile().as_text()
    convs = [line for line in hlo.splitlines() if " convolution(" in line]
    slow = [c.strip()[:200] for c in convs if "rhs_dilate" in c or "->01bf" in c]
    assert convs and not slow, slow


def test_patches_feature_order_is_channel_major():
    """conv_general_dilated_patches gives features as (Cin, kh, kw), which "patches" relies on."""
    x = jnp.arange(1 * 4 * 4 * 2, dtype=jnp.float32).reshape(1, 4, 4, 2)
    cols = lax.conv_general_dilated_patches(
        x, (3, 3), (1, 1), "VALID", dimension_numbers=conv._DIMS
    )
    window = x[0, 1:4, 0:3, :]  # output pixel (1, 0)
    np.testing.assert_array_equal(cols[0, 1, 0], window.transpose(2, 0, 1).reshape(-1))


@pytest.mark.parametrize("impl", ["subpixel", "tuned"])
def test_low_precision_dtype_is_kept(impl):
    """The formulations that build tensors themselves (sub-kernels, hand-written cotangents)."""
    # A strided transposed conv: every path of both, "tuned"'s im2col adjoint included.
    layers = (Layer(True, 4, 4, 2, 2, 1, 1),)
    problems = [tuple(a.astype(jnp.bfloat16) for a in random_problem(layers[0], 1, seed=0))]
    outputs = values_and_grads(layers, impl, problems)[0]
    assert [a.dtype for a in outputs] == [jnp.bfloat16] * 3


def test_resolve_impl():
    want = "tuned" if jax.default_backend() == "cpu" else "lax"
    assert conv.resolve_impl("auto", "conv2d") == want
    assert conv.resolve_impl("auto", "conv_transpose2d") == want
    assert all(conv.resolve_impl(impl) == impl for impl in conv.IMPLS)
    with pytest.raises(ValueError, match="unknown conv impl 'cudnn'"):
        conv.conv2d(
            jnp.ones((1, 4, 4, 1)), jnp.ones((3, 3, 1, 1)), stride=1, padding=1, impl="cudnn"
        )
    with pytest.raises(ValueError, match="unknown conv op"):
        conv.resolve_impl("auto", "conv3d")
