"""Two convolution formulations that were profiled and not adopted, kept for
``experiments/profile_conv.py`` (and tested against "lax" in tests/test_conv.py):

- ``"patches"``: ``lax.conv_general_dilated_patches`` then one matmul.
- ``"subpixel"``: a strided convolution becomes space-to-depth then a stride-1 convolution with
  a ceil(k/s)-wide kernel; a strided transposed convolution becomes a stride-1 convolution over
  the undilated input to s*s*Cout channels, then depth-to-space. No multiplications by
  inserted zeros. At stride 1 it is "lax".

``conv2d`` / ``conv_transpose2d`` here take these names as well as the library's
(``anogan_jax.ops.conv.IMPLS``), so a profile can compare all of them.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax

from anogan_jax.ops import conv

VARIANTS = ("patches", "subpixel")
IMPLS = (*conv.IMPLS, *VARIANTS)
_DIMS = ("NHWC", "HWIO", "NHWC")


def conv2d(x, kernel, *, stride: int, padding: int, impl: str = "lax"):
    """``conv.conv2d`` with the two variants besides the library's formulations."""
    if impl not in VARIANTS:
        return conv.conv2d(x, kernel, stride=stride, padding=padding, impl=impl)
    pads = ((padding, padding), (padding, padding))
    if impl == "subpixel":
        return _space_to_depth_conv(x, kernel, stride, pads)
    return _patches(x, kernel, stride, pads)


def conv_transpose2d(x, kernel, *, stride: int, padding: int, output_padding: int = 0, impl="lax"):
    """``conv.conv_transpose2d`` with the two variants besides the library's formulations."""
    if impl not in VARIANTS:
        return conv.conv_transpose2d(
            x, kernel, stride=stride, padding=padding, output_padding=output_padding, impl=impl
        )
    lo = kernel.shape[0] - 1 - padding
    pads = ((lo, lo + output_padding),) * 2
    if impl == "subpixel":
        if stride == 1:
            return lax.conv_general_dilated(x, kernel, (1, 1), pads, dimension_numbers=_DIMS)
        return _depth_to_space_conv(x, kernel, stride, lo, output_padding)
    interior = stride - 1
    x = lax.pad(
        x, jnp.zeros((), x.dtype), [(0, 0, 0), (0, 0, interior), (0, 0, interior), (0, 0, 0)]
    )
    return _patches(x, kernel, 1, pads)


def _patches(x, kernel, stride, pads):
    kh, kw, cin, cout = kernel.shape
    # conv_general_dilated_patches orders features channel-major: (Cin, kh, kw).
    cols = lax.conv_general_dilated_patches(
        x, (kh, kw), (stride, stride), pads, dimension_numbers=_DIMS
    )
    weights = kernel.transpose(2, 0, 1, 3).reshape(cin * kh * kw, cout)
    return lax.dot_general(cols, weights, (((3,), (0,)), ((), ())))


def _direct(x, kernel, stride, pads):
    return lax.conv_general_dilated(x, kernel, (stride, stride), pads, dimension_numbers=_DIMS)


def _space_to_depth_conv(x, kernel, stride, pads):
    """Strided conv as space-to-depth (block s) then a stride-1 conv with ceil(k/s) taps."""
    s = stride
    if s == 1:
        return _direct(x, kernel, 1, pads)
    kh, kw, cin, cout = kernel.shape
    n, h, w, _ = x.shape
    ho = (h + sum(pads[0]) - kh) // s + 1
    wo = (w + sum(pads[1]) - kw) // s + 1
    ka, kb = -(-kh // s), -(-kw // s)
    # Output o reads padded rows s*o + t, t < k, so s*(o' + ka) rows suffice; extra rows meet
    # zero kernel taps, and a negative high pad only drops rows that no output reads.
    hpad = (pads[0][0], s * (ho + ka - 1) - h - pads[0][0])
    wpad = (pads[1][0], s * (wo + kb - 1) - w - pads[1][0])
    x = lax.pad(x, jnp.zeros((), x.dtype), [(0, 0, 0), (*hpad, 0), (*wpad, 0), (0, 0, 0)])
    hm, wm = x.shape[1] // s, x.shape[2] // s
    x = x.reshape(n, hm, s, wm, s, cin).transpose(0, 1, 3, 2, 4, 5).reshape(n, hm, wm, s * s * cin)
    # Tap t = s*a + b reads block row a, phase b: kernel (ka, kb, (b_h, b_w, Cin), Cout).
    kernel = jnp.pad(kernel, ((0, s * ka - kh), (0, s * kb - kw), (0, 0), (0, 0)))
    kernel = kernel.reshape(ka, s, kb, s, cin, cout).transpose(0, 2, 1, 3, 4, 5)
    kernel = kernel.reshape(ka, kb, s * s * cin, cout)
    return _direct(x, kernel, 1, ((0, 0), (0, 0)))


def _phase_taps(k: int, s: int, lo: int, length_in: int, output_padding: int):
    """Per-axis plan of a transposed conv split into s output phases.

    Output o = s*q + r of the dilated-input conv reads dilated row o + t - lo for taps t; it
    holds input row i = (o + t - lo) / s only when that divides exactly, so phase r uses taps
    t = t0 + s*j (t0 = (lo - r) mod s) at input rows q + d0_r + j. All phases are embedded in
    one window of offsets [d_min, d_min + kc).

    Returns:
      select: (s, kc, k) 0/1 matrix, select[r, a, t] = 1 when phase r applies tap t at a.
      pad: (lo, hi) padding of the undilated input for the stride-1 conv.
      q: outputs per phase before the final crop.
      length_out: the transposed conv's output length.
    """
    length_out = (length_in - 1) * s + 2 * lo - k + 2 + output_padding
    plans = []
    for r in range(s):
        t0 = (lo - r) % s
        taps = list(range(t0, k, s))
        if taps:
            plans.append((r, taps, (r + t0 - lo) // s))
    d_min = min(d0 for _, _, d0 in plans)
    kc = max(d0 + len(taps) for _, taps, d0 in plans) - d_min
    select = np.zeros((s, kc, k), np.float32)
    for r, taps, d0 in plans:
        for j, t in enumerate(taps):
            select[r, d0 + j - d_min, t] = 1.0
    q = -(-length_out // s)
    return select, (-d_min, q + kc - 1 - length_in + d_min), q, length_out


def _depth_to_space_conv(x, kernel, stride, lo, output_padding):
    """Strided transposed conv as a stride-1 conv to s*s*Cout channels, then depth-to-space."""
    s = stride
    kh, kw, cin, cout = kernel.shape
    n, h, w, _ = x.shape
    sel_h, pad_h, qh, out_h = _phase_taps(kh, s, lo, h, output_padding)
    sel_w, pad_w, qw, out_w = _phase_taps(kw, s, lo, w, output_padding)
    # A 0/1 selection, so HIGHEST only keeps the kernel values exact (no bf16 passes).
    sub = jnp.einsum(
        "rat,pbu,tuio->abirpo",
        sel_h.astype(kernel.dtype),
        sel_w.astype(kernel.dtype),
        kernel,
        precision=lax.Precision.HIGHEST,
    ).reshape(sel_h.shape[1], sel_w.shape[1], cin, s * s * cout)
    y = _direct(x, sub, 1, (pad_h, pad_w))
    y = (
        y.reshape(n, qh, qw, s, s, cout)
        .transpose(0, 1, 3, 2, 4, 5)
        .reshape(n, qh * s, qw * s, cout)
    )
    return y[:, :out_h, :out_w, :]
