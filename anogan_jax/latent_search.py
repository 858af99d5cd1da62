"""AnoGAN inference: find, per image, the latent z whose G(z) best explains it.

The objective and the optimiser loop are written for ONE image (``search_one``); ``make_search``
vmaps it over a batch and jits the whole search into one program. G and D are frozen: they run
in inference mode (BatchNorm running statistics) and gradients are taken with respect to z only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from anogan_jax.ops import xla_cpu
from anogan_jax.prior import project, sample_prior

DISC_TERMS = ("feature", "logit")
RESIDUALS = ("l1", "l2")


class SearchResult(NamedTuple):
    """Per image (a leading batch axis when vmapped): the final z, the final total objective,
    its residual and discrimination terms, and optionally the objective at every step."""

    z: jax.Array
    loss: jax.Array
    residual: jax.Array
    disc: jax.Array
    trace: jax.Array | None = None


def latent_objective(z, x, x_features, generate_fn, discriminate_fn, *, lam, residual, disc):
    """(1 - lam) * sum|x - G(z)| + lam * sum|f(x) - f(G(z))| for one image (AnoGAN's loss).

    Args:
      z: (latent_dim,); x: (H, W, C); x_features: f(x), (F,).
      generate_fn: z -> G(z), one image. discriminate_fn: image -> (logit, features).
      residual: "l1" (the paper) or "l2" (squared error). disc: "feature" (feature matching)
        or "logit" (the original paper's alternative: cross-entropy of D(G(z)) against "real").
    Returns:
      (total, (residual term, discrimination term)).
    """
    gx = generate_fn(z)
    diff = x - gx
    res = jnp.sum(jnp.abs(diff)) if residual == "l1" else jnp.sum(diff * diff)
    if lam == 0.0:
        d_term = jnp.zeros((), res.dtype)
    else:
        logit, features = discriminate_fn(gx)
        if disc == "feature":
            d_term = jnp.sum(jnp.abs(x_features - features))
        else:
            d_term = jax.nn.softplus(-logit)
    return (1.0 - lam) * res + lam * d_term, (res, d_term)


def search_one(
    x,
    z0,
    generate_fn: Callable,
    discriminate_fn: Callable,
    *,
    tx: optax.GradientTransformation,
    num_steps: int,
    lam: float = 0.1,
    residual: str = "l1",
    disc: str = "feature",
    project_fn: Callable | None = None,
    return_trace: bool = False,
) -> SearchResult:
    """Optimises z for ONE image with ``tx`` for ``num_steps`` steps (a ``lax.scan``)."""
    x_features = discriminate_fn(x)[1] if lam else None

    def objective(z):
        return latent_objective(
            z, x, x_features, generate_fn, discriminate_fn, lam=lam, residual=residual, disc=disc
        )

    def body(carry, _):
        z, opt_state = carry
        (loss, _), grad = jax.value_and_grad(objective, has_aux=True)(z)
        updates, opt_state = tx.update(grad, opt_state, z)
        z = optax.apply_updates(z, updates)
        if project_fn is not None:
            z = project_fn(z)
        return (z, opt_state), loss

    (z, _), trace = lax.scan(body, (z0, tx.init(z0)), None, length=num_steps)
    loss, (res, d_term) = objective(z)
    return SearchResult(z, loss, res, d_term, trace if return_trace else None)


def make_search_tx(lr: float = 0.05, *, schedule: str = "constant", num_steps: int = 500):
    """Adam on z with a constant or cosine-decayed learning rate."""
    if schedule == "constant":
        return optax.adam(lr)
    if schedule == "cosine":
        return optax.adam(optax.cosine_decay_schedule(lr, num_steps))
    raise ValueError(f"unknown schedule {schedule!r}; choose constant or cosine")


def make_search(
    models,
    *,
    num_steps: int = 500,
    lr: float = 0.05,
    schedule: str = "constant",
    lam: float = 0.1,
    residual: str = "l1",
    disc: str = "feature",
    prior: str = "normal",
    clip_to_prior: bool = False,
    return_trace: bool = False,
    jit: bool = True,
) -> Callable:
    """Builds the batch search (jitted unless ``jit`` is False, for callers that compose and
    jit it themselves) ``search(g_vars, d_vars, images, z0) -> SearchResult``.

    Args (of the returned function):
      g_vars, d_vars: frozen generator / discriminator variables.
      images: (N, H, W, C); z0: (N, latent_dim) starting points (see ``initial_z``).
    Returns:
      SearchResult with a leading axis N. Retraces only when N changes.
    """
    if disc not in DISC_TERMS:
        raise ValueError(f"unknown discrimination term {disc!r}; choose one of {DISC_TERMS}")
    if residual not in RESIDUALS:
        raise ValueError(f"unknown residual {residual!r}; choose one of {RESIDUALS}")
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    tx = make_search_tx(lr, schedule=schedule, num_steps=num_steps)
    project_fn = (lambda z: project(z, prior)) if clip_to_prior else None

    def search(g_vars, d_vars, images, z0):
        def generate_fn(z):
            return models.generator.apply(g_vars, z[None], train=False)[0][0]

        def discriminate_fn(x):
            (logit, features), _ = models.discriminator.apply(d_vars, x[None], train=False)
            return logit[0], features[0]

        def one(x, z):
            return search_one(
                x,
                z,
                generate_fn,
                discriminate_fn,
                tx=tx,
                num_steps=num_steps,
                lam=lam,
                residual=residual,
                disc=disc,
                project_fn=project_fn,
                return_trace=return_trace,
            )

        return jax.vmap(one)(images, z0)

    return xla_cpu.jit(search) if jit else search


def initial_z(key: jax.Array, indices, latent_dim: int, prior: str = "normal") -> jax.Array:
    """z0 for each image from ``fold_in(key, global_index)``: an image's start (hence its
    result) does not depend on its batch or the batch size. indices: (N,) ints."""
    indices = jnp.asarray(indices, jnp.uint32)
    return jax.vmap(lambda i: sample_prior(jax.random.fold_in(key, i), (latent_dim,), prior))(
        indices
    )


def pad_batch(images: np.ndarray, indices: np.ndarray, batch_size: int):
    """Pads a partial batch to ``batch_size`` (zeros; index 0) so the program never recompiles.
    The batch axis is 0; further axes (e.g. a seed axis) are kept.

    Returns:
      (images, indices, mask) where mask is True on real rows.
    """
    n = len(images)
    if n > batch_size:
        raise ValueError(f"batch of {n} images exceeds the static batch size {batch_size}")
    mask = np.arange(batch_size) < n
    if n == batch_size:
        return images, indices, mask
    pad = batch_size - n
    images = np.concatenate([images, np.zeros((pad, *images.shape[1:]), images.dtype)])
    indices = np.concatenate([indices, np.zeros((pad, *indices.shape[1:]), indices.dtype)])
    return images, indices, mask
