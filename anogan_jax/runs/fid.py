"""Label-free FID / KID probe of a generator during training: the run's NORMAL validation
images against samples from fixed latents (no test image or label is touched)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from anogan_jax import gan_metrics
from anogan_jax.keys import named_keys
from anogan_jax.ops import xla_cpu
from anogan_jax.prior import sample_prior
from anogan_jax.runs.classifier import load_classifier, make_feature_fn
from anogan_jax.runs.config import RunError
from anogan_jax.state import g_variables

MIN_VAL_IMAGES = 4  # two per Parzen half; FID needs two per set
_STREAMS = ("z", "kid", "parzen_split")


def eval_keys(seed: int) -> dict:
    """Named evaluation keys: stream 9 of the seed, apart from the run's own keys."""
    return named_keys(seed, _STREAMS, stream=9)


def make_sample_fn(models, prior: str, num_samples: int, key: jax.Array, *, batch_size=500):
    """Returns ``fn(g_variables) -> (num_samples, 28, 28, 1)`` images from a fixed set of z.

    z of batch i is ``sample_prior(fold_in(key, i), (batch_size, latent_dim))`` (the first
    ``num_samples`` rows overall), drawn once, so repeated calls (e.g. every N training steps)
    measure the generator on the same latents. The generator runs in inference mode.
    """
    num_batches = -(-num_samples // batch_size)
    shape = (batch_size, models.latent_dim)
    zs = [sample_prior(jax.random.fold_in(key, i), shape, prior) for i in range(num_batches)]
    generate = xla_cpu.jit(lambda g_vars, z: models.generator.apply(g_vars, z, train=False)[0])

    def sample_fn(g_vars):
        return jnp.concatenate([generate(g_vars, z) for z in zs])[:num_samples]

    return sample_fn


class FIDMonitor:
    """FID and KID of generated samples against the run's normal validation images.

    Uses normal-only validation data, no test labels. The validation features, the latents
    and the compiled generator / classifier programs are made once; each call generates the
    same ``num_samples`` latents' images, so successive values differ only by the generator.
    """

    def __init__(self, features_fn, sample_fn, val_features, key, *, kid_subsets: int = 10):
        self.features_fn, self.sample_fn = features_fn, sample_fn
        self.val_features, self.key, self.kid_subsets = val_features, key, kid_subsets

    def score_features(self, features) -> dict:
        """(N, F) features -> {"fid", "kid"} (host floats) against the validation features."""
        kid, _ = gan_metrics.kid(
            features,
            self.val_features,
            key=self.key,
            num_subsets=self.kid_subsets,
            subset_size=1000,
        )
        return {"fid": float(gan_metrics.fid(features, self.val_features)), "kid": float(kid)}

    def score_images(self, images) -> dict:
        return self.score_features(self.features_fn(images)[0])

    def __call__(self, state) -> dict:
        """GANState -> {"fid": float, "kid": float} of the generator's samples."""
        return self.score_images(self.sample_fn(g_variables(state)))


def check_val(val: np.ndarray) -> None:
    if len(val) < MIN_VAL_IMAGES:
        raise RunError(
            f"the run's normal validation split holds {len(val)} images; the GAN metrics need "
            f"at least {MIN_VAL_IMAGES}. Train with a larger --val-fraction"
        )


def make_fid_monitor(
    run_config, models, data, *, classifier_root=None, num_samples: int = 1000, seed: int = 0
) -> FIDMonitor:
    """A cheap FID / KID probe to call every N training steps (normal-only validation data,
    no test labels).

    Args:
      run_config: the RunConfig (dataset, prior).
      models: its GANModels.
      data: its OneClassData; only ``data.val`` is used.
      classifier_root: where the dataset's classifier lives (see ``classifier_dir``).
      num_samples: generated images per call.
      seed: seeds the fixed latents and the KID subsets.
    Returns:
      ``monitor(state) -> {"fid": float, "kid": float}`` for a GANState.
    Raises:
      ClassifierError: the dataset's classifier has not been trained.
    """
    check_val(data.val)
    features_fn = make_feature_fn(load_classifier(run_config.dataset, classifier_root))
    keys = eval_keys(seed)
    sample_fn = make_sample_fn(models, run_config.prior, num_samples, keys["z"])
    val_features, _ = features_fn(data.val)
    return FIDMonitor(features_fn, sample_fn, val_features, keys["kid"])
