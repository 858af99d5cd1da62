"""The form in which M models that differ only in class and seed train as one program (the
models axis, ``seeds.fit_seeds``), chosen per (backend, architecture) from measurement.

Forms (``FORMS``):

- "vmap": one ``jit(vmap(step))`` over the stacked states with the config's ``conv_impl``;
  per-model kernels make every convolution one grouped convolution (XLA's), every dense
  layer a batched matmul;
- "batched_matmul": the same vmapped program with ``conv_impl="im2col"``, so that each
  convolution becomes slices and one ``dot_general`` with a models batch dimension (a batched
  GEMM; cuBLAS's on a GPU);
- "loop": the single-model program called for each model in turn every step: the very
  kernels of M separate runs, so each model is bit for bit its run trained alone.

``MEASURED`` holds each measured choice with the results file that measured it; a (backend,
arch) it lacks takes ``default_form``'s stated default and is recorded as unmeasured. The
environment variable ``ANOGAN_JAX_SEED_MODE`` (one of ``FORMS``) overrides the table for every
backend and architecture. ``choose_form`` returns the form and where it came from, which
``provenance.form_record`` records with a study's cells.

Adding a measurement: ``experiments/accelerator_check.py`` writes, in its JSON's
``summary.table_forms``, the fastest form per architecture at M = 30 models (float32), as
``{arch: {"form": ..., "models": 30}}`` in this module's vocabulary; add
``(backend, arch): (form, "experiments/results/accelerator_<device>.json")`` to ``MEASURED``
for each, ``backend`` being the JSON's ``device.machine.jax_backend`` (``jax.default_backend()``
there, e.g. "gpu")."""

from __future__ import annotations

import dataclasses
import os
from typing import NamedTuple

import jax

from anogan_jax.runs.config import RunError

FORM_ENV = "ANOGAN_JAX_SEED_MODE"
FORMS = ("vmap", "batched_matmul", "loop")

# (backend, arch) -> (form, the results file whose measurement chose it).
MEASURED = {
    # The MLP's vmapped program (batched matmuls) ran at 1.06-1.17x the throughput of S
    # separate runs at S = 2-8.
    ("cpu", "mlp"): ("vmap", "experiments/results/bench_seeds.md"),
    # dcgan28_light's vmapped step (grouped convolutions) ran at 0.66-0.81x, the loop at
    # 0.95-1.03x over two runs (the second: bench_seeds_repeat.md).
    ("cpu", "dcgan28_light"): ("loop", "experiments/results/bench_seeds.md"),
    # dcgan28's vmapped step ran at 0.51-0.54x the throughput of S = 2-4 separate runs, the
    # loop at 0.98-1.0x.
    ("cpu", "dcgan28"): ("loop", "experiments/results/bench_seeds_dcgan28.md"),
}


class FormChoice(NamedTuple):
    """A form of ``FORMS`` and its source: "measured: <results file>", "default (unmeasured)"
    or "override: ANOGAN_JAX_SEED_MODE"."""

    form: str
    source: str


def default_form(backend: str, arch: str) -> str:
    """The form of a (backend, arch) with no measurement: on the CPU the loop for conv models
    (their grouped convolutions measured slower there, ``MEASURED``), "vmap"
    for the MLP and on every other backend."""
    return "loop" if backend == "cpu" and arch != "mlp" else "vmap"


def choose_form(arch: str, backend: str | None = None) -> FormChoice:
    """The form M models of ``arch`` train in on ``backend`` (default: jax's default backend).

    Raises RunError when ``ANOGAN_JAX_SEED_MODE`` is set to something not in ``FORMS``."""
    chosen = os.environ.get(FORM_ENV)
    if chosen:
        if chosen not in FORMS:
            raise RunError(
                f"{FORM_ENV}={chosen!r} is not one of {', '.join(FORMS)}; unset it for the "
                "measured choice (runs.forms.MEASURED)"
            )
        return FormChoice(chosen, f"override: {FORM_ENV}")
    backend = backend or jax.default_backend()
    if (backend, arch) in MEASURED:
        form, results = MEASURED[backend, arch]
        return FormChoice(form, f"measured: {results}")
    return FormChoice(default_form(backend, arch), "default (unmeasured)")


def fit_mode(form: str) -> str:
    """The ``seeds.fit_seeds`` mode of ``form``: "loop" or "vmap"."""
    return "loop" if form == "loop" else "vmap"


def form_config(config, form: str):
    """``config`` (a RunConfig) as the models of ``form`` are built from it: with
    ``conv_impl="im2col"`` for "batched_matmul", else itself. What a run folder records is
    the config itself: the convolution formulation computes the same function."""
    if form != "batched_matmul":
        return config
    return dataclasses.replace(config, conv_impl="im2col")
