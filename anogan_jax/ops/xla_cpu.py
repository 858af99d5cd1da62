"""The project's ``jit``: ``jax.jit`` plus the XLA:CPU compile options our programs run best with.

XLA:CPU (jax 0.10) hands every convolution to YNNPACK by default. On the dcgan28 layers that is
slower than XLA's own (Eigen) convolution: YNNPACK ran the generator's 14x14 128->64 layer on
only one core (forward, input gradient) and its 256->128 layer at 0.7-0.8x PyTorch, where
Eigen's convolution runs at 0.9-1.0x; the whole dcgan28 non-saturating step went from 0.72-0.79x
to 0.84-0.87x PyTorch (``experiments/results/cpu_speed.md``). ``CPU_OPTIONS`` keeps YNNPACK for
what it does well (dots, reductions; the default list minus ``INDIVIDUAL_CONVOLUTION``) and sends
convolutions back to XLA. The options are per program (``jax.jit(compiler_options=...)``), so
nothing process-wide is changed and GPU/TPU programs compile exactly as before.

``ANOGAN_JAX_CPU_CONV=ynnpack`` keeps XLA's default (for benchmarks comparing the two). A jaxlib
that does not know the option (older than the YNNPACK integration) gets no options.
"""

from __future__ import annotations

import functools
import os
import warnings

import jax
import jax.numpy as jnp

from anogan_jax.errors import UserError

try:  # jax's private trace state, for one check in _tracing; optional
    from jax._src import core as jax_core
except ImportError:  # pragma: no cover - a jax that moved it
    jax_core = None

# The default YNNPACK fusion list of jax 0.10 is INDIVIDUAL_DOT, INDIVIDUAL_CONVOLUTION, REDUCE
# (checked: XLA_FLAGS=...=-individual_convolution compiles to the same program as this).
CPU_OPTIONS = {
    "xla_cpu_experimental_ynn_fusion_type": (
        "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE"
    )
}
ENV = "ANOGAN_JAX_CPU_CONV"


class EnvironmentSettingError(UserError, ValueError):
    """An environment variable of the package set to a value it does not know."""


CONV_ENGINES = ("xla", "ynnpack")


def conv_engine() -> str:
    """Which library runs convolutions on CPU: "xla" (default) or "ynnpack" (XLA's default)."""
    engine = os.environ.get(ENV, "xla")
    if engine not in CONV_ENGINES:
        raise EnvironmentSettingError(
            f"the environment variable {ENV}={engine!r} is not one of "
            f"{', '.join(CONV_ENGINES)}; unset it for the default (xla)"
        )
    return engine


@functools.cache
def _accepted(items: tuple) -> bool:
    try:
        jax.jit(jnp.negative, compiler_options=dict(items)).lower(1.0).compile()
    except Exception as err:  # jaxlib without the option: INVALID_ARGUMENT at compile time
        warnings.warn(
            f"this jaxlib rejects the CPU compile options {dict(items)} ({err}); "
            "compiling with XLA's defaults (slower convolutions, same results)",
            stacklevel=3,
        )
        return False
    return True


def compiler_options() -> dict | None:
    """The options ``jit`` passes on the default backend (None: XLA's defaults)."""
    if jax.default_backend() != "cpu" or conv_engine() == "ynnpack":
        return None
    return CPU_OPTIONS if _accepted(tuple(CPU_OPTIONS.items())) else None


def _tracing(args, kwargs) -> bool:
    """Whether a call is being traced into an outer program (jit, scan, eval_shape, ...)."""
    if any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves((args, kwargs))):
        return True
    # A call with only concrete arguments can still be inside an outer trace (closed-over
    # constants); jax's own check, where this jax has it.
    clean = getattr(jax_core, "trace_state_clean", None)
    return clean is not None and not clean()


class _Jit:
    """``jax.jit(fun, **kwargs)`` built at first use, when the backend is known (creating it
    at import would start the backend before ``jax.distributed.initialize`` could run).

    jax takes compiler options on top-level programs only; called inside another trace, this
    is a plain ``jax.jit``, inlined into the outer program (whose own options then apply).
    """

    def __init__(self, fun, kwargs):
        functools.update_wrapper(self, fun)
        self._fun, self._kwargs, self._jitted, self._nested = fun, kwargs, None, None

    def _get(self):
        if self._jitted is None:
            options = compiler_options()
            self._jitted = jax.jit(self._fun, compiler_options=options, **self._kwargs)
        return self._jitted

    def __call__(self, *args, **kwargs):
        if _tracing(args, kwargs):
            if self._nested is None:
                self._nested = jax.jit(self._fun, **self._kwargs)
            return self._nested(*args, **kwargs)
        return self._get()(*args, **kwargs)

    def __getattr__(self, name):  # lower, trace, eval_shape, clear_cache, ...
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._get(), name)


def jit(fun=None, **kwargs):
    """``jax.jit`` with ``compiler_options()``; as ``@jit`` or ``@jit(static_argnames=...)``."""
    if fun is None:
        return functools.partial(jit, **kwargs)
    return _Jit(fun, kwargs)
