"""Convolutions as pure functions, with interchangeable formulations.

Every formulation computes exactly the same function (up to float32 rounding); `models/layers.py`
chooses one with a switch so the networks are defined once. Layout is NHWC activations and
HWIO kernels throughout.

A transposed convolution follows PyTorch's ``ConvTranspose2d(stride, padding, output_padding)``
size rule, ``out = (in - 1) * stride - 2 * padding + k + output_padding``. Its kernel is stored
as the HWIO kernel of the equivalent direct convolution over the stride-dilated input (that is,
PyTorch's weight flipped in H and W and transposed to (kh, kw, in, out)).

Formulations (``impl``):

- ``"lax"``: one ``lax.conv_general_dilated``; a transposed convolution dilates its input.
  Gradients are JAX's own transposes.
- ``"im2col"``: pad, take the kh*kw strided slices, concatenate, one matmul.
- ``"tuned"``: "lax" forward with a hand-written backward (``jax.custom_vjp``) that keeps every
  convolution in a form XLA:CPU runs fast. JAX's transpose of a strided transposed
  convolution's kernel gradient is a window-dilated convolution in an odd layout that XLA:CPU
  runs as a naive loop (seconds per call on the big generator layer); here it is one im2col
  matmul over the cotangent's patches. A direct convolution's kernel gradient, which XLA:CPU
  also ran in that loop inside the whole training step, is one im2col matmul over x's patches
  (``_conv_kernel_grad``); where that buffer would be big (the generator's wide stride-1
  layers) it is XLA's own convolution (or, when convolutions go to YNNPACK, one matmul per tap
  of x with the shifted cotangent, ``_shifted_kernel_grad``, 2x YNNPACK's own there). Input
  gradients are the adjoint convolutions, themselves "tuned", and the forward rules go through
  the custom_vjp again, so gradients of gradients (the WGAN-GP penalty) stay fast too. Direct
  convolutions with very few channels (``_im2col_is_faster``), which XLA:CPU keeps off its
  fast paths, use "im2col". Programs are compiled with ``xla_cpu.jit``, which has XLA run
  convolutions itself rather than YNNPACK (faster on these layers).

``"auto"`` picks per function and backend; see ``resolve_impl``. The measurements behind it
are in ``experiments/results/conv_profile.md``. Two more formulations that were profiled and
not adopted ("patches", "subpixel") live in ``experiments/conv_variants.py``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from anogan_jax.ops import xla_cpu

IMPLS = ("lax", "im2col", "tuned")
_DIMS = ("NHWC", "HWIO", "NHWC")
# Measured winners on XLA:CPU (experiments/profile_conv.py); accelerators keep XLA's own conv.
_AUTO_CPU = {"conv2d": "tuned", "conv_transpose2d": "tuned"}
# XLA:CPU (jax 0.10) keeps convolutions with <= 16 output channels off YNNPACK; with a
# contraction of <= 27 as well (3x3 kernel, <= 3 input channels) its own conv is 1.5-5x slower
# than im2col plus one matmul (experiments/results/conv_profile.md).
_IM2COL_MAX_CONTRACTION, _IM2COL_MAX_COUT = 27, 16
# Largest im2col buffer (elements) for a direct conv's kernel gradient as one matmul.
_IM2COL_GRAD_MAX_ELEMENTS = 1 << 23


def resolve_impl(impl: str, op: str = "conv2d") -> str:
    """Maps "auto" to the formulation that is fastest for ``op`` on the default backend.

    Args:
      impl: "auto" or one of ``IMPLS``.
      op: "conv2d" or "conv_transpose2d"; "auto" may resolve differently for each.

    Returns:
      A member of ``IMPLS``.
    """
    if op not in _AUTO_CPU:
        raise ValueError(f"unknown conv op {op!r}; choose one of {tuple(_AUTO_CPU)}")
    if impl == "auto":
        return _AUTO_CPU[op] if jax.default_backend() == "cpu" else "lax"
    if impl not in IMPLS:
        raise ValueError(f"unknown conv impl {impl!r}; choose one of {('auto',) + IMPLS}")
    return impl


def conv2d(x: jax.Array, kernel: jax.Array, *, stride: int, padding: int, impl: str = "lax"):
    """Direct convolution (cross-correlation, as in PyTorch and lax).

    Args:
      x: (N, H, W, Cin) activations.
      kernel: (kh, kw, Cin, Cout).
      stride: the same in H and W.
      padding: zeros added on every side.
      impl: "auto" or one of ``IMPLS``.

    Returns:
      (N, H', W', Cout) with H' = (H + 2 * padding - kh) // stride + 1.
    """
    impl = resolve_impl(impl, "conv2d")
    pads = ((padding, padding), (padding, padding))
    if impl == "tuned":
        return _conv_tuned(x, kernel, stride, pads)
    return _direct(x, kernel, stride, pads, impl)


def conv_transpose2d(
    x: jax.Array,
    kernel: jax.Array,
    *,
    stride: int,
    padding: int,
    output_padding: int = 0,
    impl: str = "lax",
):
    """Transposed convolution with PyTorch's size rule.

    Args:
      x: (N, H, W, Cin) activations.
      kernel: (kh, kw, Cin, Cout), the direct-convolution kernel over the dilated input.
      stride, padding, output_padding: as in PyTorch's ``ConvTranspose2d``.
      impl: "auto" or one of ``IMPLS``.

    Returns:
      (N, H', W', Cout) with H' = (H - 1) * stride - 2 * padding + kh + output_padding.
    """
    impl = resolve_impl(impl, "conv_transpose2d")
    lo = kernel.shape[0] - 1 - padding
    pads = ((lo, lo + output_padding),) * 2
    if impl == "tuned":
        return _transposed_tuned(x, kernel, stride, pads)
    return _dilated(x, kernel, stride, pads, impl)


def _direct(x, kernel, stride, pads, engine):
    """Strided convolution with per-side padding ((lo, hi), (lo, hi)); negative pads crop."""
    if engine == "lax":
        return lax.conv_general_dilated(x, kernel, (stride, stride), pads, dimension_numbers=_DIMS)
    kh, kw, cin, cout = kernel.shape
    cols = _im2col(x, kh, kw, stride, pads)
    weights = kernel.reshape(kh * kw * cin, cout)
    return lax.dot_general(cols, weights, (((3,), (0,)), ((), ())))


def _dilated(x, kernel, stride, pads, engine):
    """Stride-1 convolution over x with (stride - 1) zeros inserted between pixels."""
    if engine == "lax":
        return lax.conv_general_dilated(
            x, kernel, (1, 1), pads, lhs_dilation=(stride, stride), dimension_numbers=_DIMS
        )
    interior = stride - 1
    zero = jnp.zeros((), x.dtype)
    x = lax.pad(x, zero, [(0, 0, 0), (0, 0, interior), (0, 0, interior), (0, 0, 0)])
    return _direct(x, kernel, 1, pads, engine)


def _im2col(x, kh, kw, stride, pads):
    """(N, H, W, C) -> (N, H', W', kh * kw * C) in the (kh, kw, C) order of an HWIO kernel."""
    zero = jnp.zeros((), x.dtype)
    x = lax.pad(x, zero, [(0, 0, 0), (*pads[0], 0), (*pads[1], 0), (0, 0, 0)])
    n, h, w, c = x.shape
    ho, wo = (h - kh) // stride + 1, (w - kw) // stride + 1
    limit = lambda i, j: (n, i + (ho - 1) * stride + 1, j + (wo - 1) * stride + 1, c)
    cols = [
        lax.slice(x, (0, i, j, 0), limit(i, j), (1, stride, stride, 1))
        for i in range(kh)
        for j in range(kw)
    ]
    return jnp.concatenate(cols, axis=-1)


def _flip_io(kernel):
    """Kernel of the adjoint convolution: taps reversed, input and output channels swapped."""
    return jnp.flip(kernel, (0, 1)).swapaxes(2, 3)


def _im2col_is_faster(kernel) -> bool:
    kh, kw, cin, cout = kernel.shape
    return kh * kw * cin <= _IM2COL_MAX_CONTRACTION and cout <= _IM2COL_MAX_COUT


def _conv_tuned(x, kernel, stride, pads):
    if _im2col_is_faster(kernel):
        return _direct(x, kernel, stride, pads, "im2col")
    return _conv_cvjp(x, kernel, stride, pads)


def _transposed_tuned(x, kernel, stride, pads):
    # At stride 1 there is nothing to dilate, and XLA's own kernel gradient is the faster one.
    if stride == 1:
        return _conv_tuned(x, kernel, 1, pads)
    return _dilated_cvjp(x, kernel, stride, pads)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv_cvjp(x, kernel, stride, pads):
    return _direct(x, kernel, stride, pads, "lax")


def _conv_cvjp_fwd(x, kernel, stride, pads):
    # The primal through the custom_vjp itself: a gradient of this gradient (WGAN-GP)
    # differentiates the forward rule too, and must not fall back on JAX's own transpose.
    return _conv_cvjp(x, kernel, stride, pads), (x, kernel)


def _conv_cvjp_bwd(stride, pads, res, ct):
    x, kernel = res
    kh, kw = kernel.shape[:2]
    # The adjoint is a dilated conv of ct; the high pad regains rows the stride's floor dropped.
    adj_pads = tuple(
        (k - 1 - lo, k - 1 - hi + (n + lo + hi - k) % stride)
        for k, n, (lo, hi) in zip((kh, kw), x.shape[1:3], pads, strict=True)
    )
    dx = _transposed_tuned(ct, _flip_io(kernel), stride, adj_pads)
    return dx, _conv_kernel_grad(x, ct, kernel, stride, pads)


def _conv_kernel_grad(x, ct, kernel, stride, pads):
    """dL/dkernel of ``_direct(x, kernel, stride, pads)`` for the output cotangent ``ct``.

    JAX's own is a convolution of x with ct as the window (window-dilated at stride > 1). In
    a layer's own program XLA:CPU runs it on YNNPACK, but in the whole training step it was
    laid out batch/feature-swapped (``f01b_i01o->01bf``) and run in XLA's naive loop emitter:
    60-400 ms a call for d28l.c2 and d28.c4 at N=64 (experiments/results/train_profile.md).
    dK[t] = sum_o x_pad[s*o + t] ct[o] is x's own im2col patches contracted with ct over
    (N, H', W'): one matmul, whatever the context. Where the patches would be big (the
    generator's wide stride-1 layers) it is XLA's own: with ``xla_cpu.jit``'s options XLA runs
    these convolutions itself, at 0.6-0.8x PyTorch's time, faster than any matmul form tried.
    Only when convolutions go to YNNPACK (``ANOGAN_JAX_CPU_CONV=ynnpack``), which ran them at
    ~1/3 of the forward's speed, is it ``_shifted_kernel_grad`` (2x YNNPACK's own there).
    """
    kh, kw = kernel.shape[:2]
    if x.size * kh * kw > _IM2COL_GRAD_MAX_ELEMENTS:
        if stride == 1 and xla_cpu.conv_engine() == "ynnpack":
            return _shifted_kernel_grad(x, ct, kh, kw, pads)
        _, kernel_vjp = jax.vjp(lambda w: _direct(x, w, stride, pads, "lax"), kernel)
        return kernel_vjp(ct)[0]
    cols = _im2col(x, kh, kw, stride, pads)
    dw = lax.dot_general(cols, ct, (((0, 1, 2), (0, 1, 2)), ((), ())))
    return dw.reshape(kernel.shape)


def _shifted_kernel_grad(x, ct, kh, kw, pads):
    """dL/dkernel of a stride-1 ``_direct(x, kernel, 1, pads)``: one matmul per tap.

    dK[i, j] = sum_o x_pad[o + (i, j)] ct[o] = sum_p x[p] ct[p - (i, j) + lo]: x as it is,
    contracted over (N, H, W) with the cotangent shifted by (i - lo_h, j - lo_w), zeros shifted
    in (a pad, negative where it crops). Only ct, the narrower operand in the generator, is
    copied per tap; no im2col buffer. dcgan28 G at N=64, one core: 1.9-2.0x XLA's own for
    ConvT 256->128 and 1.9-2.1x for 128->64 (experiments/results/cpu_speed.md).
    """
    h, w = x.shape[1:3]
    ho, wo = ct.shape[1:3]
    zero = jnp.zeros((), ct.dtype)
    taps = []
    for i in range(kh):
        for j in range(kw):
            dh, dw = i - pads[0][0], j - pads[1][0]
            shifted = lax.pad(
                ct, zero, [(0, 0, 0), (dh, h - ho - dh, 0), (dw, w - wo - dw, 0), (0, 0, 0)]
            )
            taps.append(lax.dot_general(x, shifted, (((0, 1, 2), (0, 1, 2)), ((), ()))))
    return jnp.stack(taps).reshape(kh, kw, *taps[0].shape)


_conv_cvjp.defvjp(_conv_cvjp_fwd, _conv_cvjp_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _dilated_cvjp(x, kernel, stride, pads):
    return _transposed_by_phases(x, kernel, stride, pads)


def _transposed_by_phases(x, kernel, stride, pads):
    """``_dilated(x, kernel, stride, pads)`` as one matmul, then a sum of shifted slices per
    output phase, then depth-to-space: no multiplications by the inserted zeros.

    y[o] = sum_t K[t] x_dilated[o + t - lo]: input pixel i reaches o = s*i + lo - t, so with
    Z[i, t] = x[i] @ K[t] (one matmul to kh*kw*Cout columns), output phase r (o = s*q + r)
    sums the taps t = lo - r (mod s), each Z[:, t] shifted by d = (lo - t - r) / s. XLA:CPU
    runs the dilated convolution (lax) on the zero-filled input: dcgan28 G's ConvT 512->256
    took 250 ms at batch 256 against 200 ms this way, and the discriminators' adjoint
    convolutions 1.2-2x as long (experiments/results/cpu_speed.md).
    """
    kh, kw, cin, cout = kernel.shape
    n, h, w, _ = x.shape
    s = stride
    axes = zip((h, w), pads, (kh, kw), strict=True)
    sizes = [(size - 1) * s + lo + hi - k + 2 for size, (lo, hi), k in axes]
    qh, qw = (-(-size // s) for size in sizes)
    z = lax.dot_general(
        x, kernel.transpose(2, 0, 1, 3).reshape(cin, kh * kw * cout), (((3,), (0,)), ((), ()))
    ).reshape(n, h, w, kh, kw, cout)
    zero = jnp.zeros((), z.dtype)
    rows = []
    for rh in range(s):
        phases = []
        for rw in range(s):
            acc = jnp.zeros((n, qh, qw, cout), z.dtype)
            for th in range(kh):
                dh, off_h = divmod(pads[0][0] - th - rh, s)
                for tw in range(kw):
                    dw, off_w = divmod(pads[1][0] - tw - rw, s)
                    if off_h or off_w:
                        continue
                    acc = acc + lax.pad(
                        z[:, :, :, th, tw, :],
                        zero,
                        [(0, 0, 0), (dh, qh - h - dh, 0), (dw, qw - w - dw, 0), (0, 0, 0)],
                    )
            phases.append(acc)
        rows.append(jnp.stack(phases, 3))
    y = jnp.stack(rows, 2).reshape(n, qh * s, qw * s, cout)
    return y[:, : sizes[0], : sizes[1], :]


def _dilated_cvjp_fwd(x, kernel, stride, pads):
    return _dilated_cvjp(x, kernel, stride, pads), (x, kernel)  # as in _conv_cvjp_fwd


def _dilated_cvjp_bwd(stride, pads, res, ct):
    x, kernel = res
    kh, kw, cin, cout = kernel.shape
    adj_pads = tuple((k - 1 - lo, k - 1 - hi) for k, (lo, hi) in zip((kh, kw), pads, strict=True))
    dx = _conv_tuned(ct, _flip_io(kernel), stride, adj_pads)
    # y[o] = sum_t K[t] x[(o + t - lo) / s] gives dK[k-1-t'] = sum_j x[j] ct_pad[s*j + t']: the
    # adjoint conv's patches of ct (no inserted zeros) contracted with x over (N, H, W).
    cols = _im2col(ct, kh, kw, stride, adj_pads)
    dw = lax.dot_general(x, cols, (((0, 1, 2), (0, 1, 2)), ((), ())))
    dw = dw.reshape(cin, kh, kw, cout).transpose(1, 2, 0, 3)
    return dx, jnp.flip(dw, (0, 1))


_dilated_cvjp.defvjp(_dilated_cvjp_fwd, _dilated_cvjp_bwd)
