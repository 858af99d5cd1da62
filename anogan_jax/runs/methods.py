"""The scoring methods, one registry: each is data (``MethodFn``: a params pytree and a pure
function of it), so it can be jitted for one run, vmapped over the stacked params of
several models (seeds, or classes and seeds) or looped over them.

- ``anogan``: the vmapped latent search from a prior draw (``fold_in(key, id)``, the id of
  ``start_ids``);
- ``anogan`` with ``init="encoder"``: the same search started from E(x) (the hybrid);
- ``fanogan``: one pass through the trained encoder (izi / ziz / izi_f).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from anogan_jax import datasets
from anogan_jax.devices import gather_batch, put_batch, put_replicated
from anogan_jax.encoder import make_fanogan_scorer
from anogan_jax.images import content_ids
from anogan_jax.keys import stream_key
from anogan_jax.latent_search import initial_z, make_search
from anogan_jax.ops import xla_cpu
from anogan_jax.runs.config import ScoreConfig
from anogan_jax.runs.encoder_run import check_encoder, load_encoder
from anogan_jax.runs.seeds import stack
from anogan_jax.scores import anogan_scores
from anogan_jax.state import d_variables, g_variables


def start_ids(dataset: str | None, images: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """(N,) what the search from a prior draw folds into its key for each image. For a folder
    dataset and for new images (``dataset`` None) the image's content (``content_ids``), so that
    its score is a function of the image, the model and the seed alone, and ``score`` and
    ``predict`` agree; for the built-in and .npz datasets its index in the dataset
    (``score_items``), under which the committed study results were computed."""
    if dataset is None or dataset.startswith(datasets.FOLDER_PREFIX):
        return content_ids(images)
    return np.asarray(indices, np.int64)


class MethodFn(NamedTuple):
    """A scoring method as data: ``fn(params, images, indices) -> dict`` of per-image arrays,
    pure in ``params`` (one run's pytree), so that it can be jitted for one run or vmapped over
    the stacked params of several seeds. ``fn`` must close over nothing run-specific."""

    params: Any
    fn: Callable


def anogan_method(models, state, config: ScoreConfig, prior: str, encode=None, e_params=None):
    """The AnoGAN method: vmapped latent search from z0, then scores. z0 is a prior draw from
    ``fold_in(key, id)`` (``fn``'s third argument, ``start_ids``) or, with
    ``encode(e_params, images)``, the encoder's E(x)."""
    search = make_search(
        models,
        num_steps=config.num_steps,
        lr=config.lr,
        schedule=config.schedule,
        lam=config.lam,
        disc=config.disc,
        prior=prior,
        clip_to_prior=config.clip_to_prior,
        jit=False,
    )
    key = stream_key(config.seed, 1)

    def fn(params, images, indices):
        g_vars, d_vars, enc = params
        if encode is None:
            z0 = initial_z(key, indices, models.latent_dim, prior)
        else:
            z0 = encode(enc, images)
        result = search(g_vars, d_vars, images, z0)
        return {**anogan_scores(result, config.lam), "z": result.z}

    return MethodFn((g_variables(state), d_variables(state), e_params), fn)


def fanogan_method(run, score_config, run_config, models, gan_state, data):
    """The f-AnoGAN one-pass method of a run's trained encoder.

    Columns: img_mse, feat_mse, z_mse, A = img_mse + kappa * feat_mse (kappa from the score
    config, 1 by default), and A_cal = img_mse / m_img + feat_mse / m_feat, with m the means over
    (up to 1,024) normal TRAINING images: a kappa calibrated without test labels. A term whose
    mean is 0 (a discriminator whose features collapsed to a constant) is left out of A_cal.
    """
    encoder, e_state = load_encoder(run, score_config.encoder, run_config, gan_state)
    scorer = make_fanogan_scorer(encoder, models, jit=False)
    frozen = (g_variables(gan_state), d_variables(gan_state))
    ref = jax.device_get(xla_cpu.jit(scorer)(e_state.e_params, frozen, data.train[:1024]))
    means = np.float32([np.mean(ref["img_mse"]), np.mean(ref["feat_mse"])])
    kappa = 1.0 if score_config.kappa == "calibrated" else float(score_config.kappa)

    def fn(params, images, indices):
        e_params, frozen, (m_img, m_feat) = params
        r = scorer(e_params, frozen, images)
        return {
            **r,
            "A": r["img_mse"] + kappa * r["feat_mse"],
            "A_cal": _calibrated(r["img_mse"], m_img) + _calibrated(r["feat_mse"], m_feat),
        }

    return MethodFn((e_state.e_params, frozen, means), fn)


def _calibrated(term, mean):
    """term / mean, or 0 where the mean is 0: a non-negative term with mean 0 on the normal
    training images is 0 on all of them and carries nothing to rank by."""
    positive = mean > 0
    return jnp.where(positive, term / jnp.where(positive, mean, 1.0), 0.0)


def encoder_init_method(run, score_config, run_config, models, gan_state):
    """AnoGAN search started from E(x) instead of a prior draw (the hybrid)."""
    encoder, e_state = load_encoder(run, score_config.encoder, run_config, gan_state)

    def encode(e_params, images):
        return encoder.apply({"params": e_params, "batch_stats": {}}, images, train=False)[0]

    return anogan_method(
        models, gan_state, score_config, run_config.prior, encode=encode, e_params=e_state.e_params
    )


def check_method_inputs(run, config: ScoreConfig) -> None:
    """What ``method_for`` will need of the run besides the GAN, checked before anything is
    loaded: the trained encoder of f-AnoGAN and of a search from E(x)."""
    if config.uses_encoder:
        check_encoder(run, config.encoder)


def method_for(run, config: ScoreConfig, run_config, models, state, data) -> MethodFn:
    """The MethodFn of ``config`` for one trained run."""
    if config.method == "fanogan":
        return fanogan_method(run, config, run_config, models, state, data)
    if config.init == "encoder":
        return encoder_init_method(run, config, run_config, models, state)
    return anogan_method(models, state, config, run_config.prior)


def in_blocks(fn: Callable, block: int) -> Callable:
    """``fn(params, images, indices)`` applied to consecutive blocks of ``block`` rows of the
    batch axis (0) in turn (``lax.map``): every image is computed by the same compiled block,
    so its result is bit-identical whatever the batch size (a multiple of ``block``) and
    wherever it sits in the batch. Without blocks, rows that fall in a kernel's remainder
    block are summed in another order (measured: up to 3.4e-4 relative on the search)."""

    def blocked(params, images, indices):
        def one(chunk):
            return fn(params, *chunk)

        chunks = jax.tree.map(lambda a: a.reshape(-1, block, *a.shape[1:]), (images, indices))
        out = lax.map(one, chunks)
        return jax.tree.map(lambda a: a.reshape(-1, *a.shape[2:]), out)

    return blocked


def jit_method(method: MethodFn, mesh=None, block: int | None = None):
    """``batch_fn(images, indices)`` of one run, in blocks of ``block`` rows when given; with
    a ``mesh`` every batch is split across its devices and the params replicated (no blocks:
    each device computes its rows as one block)."""
    if mesh is None and block:
        fn = xla_cpu.jit(in_blocks(method.fn, block))
    else:
        fn = xla_cpu.jit(method.fn)
    if mesh is None:
        return lambda images, indices: fn(method.params, images, indices)
    params = put_replicated(method.params, mesh)

    def put(x):
        return put_batch(np.asarray(x), mesh)

    return lambda images, indices: gather_batch(fn(params, put(images), put(indices)))


def vmap_method(methods: list[MethodFn], block: int | None = None):
    """``batch_fn(images, indices)`` of M models (seeds, or classes and seeds) in one program:
    images (B, M, H, W, C) and indices (B, M) in, arrays with a model axis 1 out; in blocks of
    ``block`` rows of B."""
    params = stack([m.params for m in methods])
    fn = jax.vmap(methods[0].fn, in_axes=(0, 1, 1), out_axes=1)
    fn = xla_cpu.jit(in_blocks(fn, block) if block else fn)
    return lambda images, indices: fn(params, images, indices)


def loop_method(methods: list[MethodFn], block: int | None = None):
    """``batch_fn(images, indices)`` of M models as ``vmap_method`` takes and returns them, but
    each model through the one-run program of ``jit_method`` in turn (one compile: ``fn``
    closes over nothing run-specific), so each model's numbers are bit for bit its own run's
    scored alone."""
    fn = xla_cpu.jit(in_blocks(methods[0].fn, block) if block else methods[0].fn)

    def batch_fn(images, indices):
        outs = [fn(m.params, images[:, i], indices[:, i]) for i, m in enumerate(methods)]
        return jax.tree.map(lambda *xs: np.stack(xs, axis=1), *jax.device_get(outs))

    return batch_fn


def models_method(methods: list[MethodFn], mode: str, block: int | None = None):
    """``loop_method`` where ``mode`` (``seeds.seed_mode``) is "loop", else ``vmap_method``."""
    return (loop_method if mode == "loop" else vmap_method)(methods, block)
