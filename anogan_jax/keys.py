"""The one rule for random keys: a seed's root key (``jax.random.key(seed)``, or for a
secondary stream ``fold_in(root, stream)``) split once into named keys at the top of a run;
steps and samples then ``fold_in`` their index (inside the step functions)."""

from __future__ import annotations

import jax


def named_keys(seed: int, names: tuple[str, ...], *, stream: int | None = None) -> dict:
    """{name: key}, split once from the root key of ``seed`` (folded with ``stream`` when
    given, so that a stream's keys never coincide with the run's own)."""
    root = jax.random.key(seed)
    if stream is not None:
        root = jax.random.fold_in(root, stream)
    return dict(zip(names, jax.random.split(root, len(names)), strict=True))


def stream_key(seed: int, stream: int) -> jax.Array:
    """One key of its own for ``stream`` (a use of the seed outside the named keys)."""
    return jax.random.fold_in(jax.random.key(seed), stream)
