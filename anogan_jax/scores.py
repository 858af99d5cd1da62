"""Per-image anomaly scores and residual maps, as pure functions of search / encoder results."""

from __future__ import annotations

import jax.numpy as jnp

from anogan_jax.latent_search import SearchResult


def anogan_scores(result: SearchResult, lam: float = 0.1) -> dict:
    """AnoGAN scores (Schlegl et al. 2017) from a search result, per image.

    R: residual score sum|x - G(z*)|; D: discrimination score (the search's discrimination
    term at z*); A = (1 - lam) R + lam D, the anomaly score.
    Returns:
      dict of (N,) arrays with keys "R", "D", "A".
    """
    return {
        "R": result.residual,
        "D": result.disc,
        "A": (1.0 - lam) * result.residual + lam * result.disc,
    }


def residual_map(x, gx):
    """|x - G(z*)| per pixel: where the image departs from what the GAN can generate."""
    return jnp.abs(x - gx)


def fanogan_scores(x, gx, x_features, gx_features, kappa: float = 1.0) -> dict:
    """f-AnoGAN scores (Schlegl et al. 2019) for ONE image: image MSE, feature MSE and
    A = image MSE + kappa * feature MSE."""
    img = jnp.mean((x - gx) ** 2)
    feat = jnp.mean((x_features - gx_features) ** 2)
    return {"img_mse": img, "feat_mse": feat, "A": img + kappa * feat}
