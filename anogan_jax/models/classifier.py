"""The feature classifier of the GAN metrics (FID / KID features, Inception Score)."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from anogan_jax.models.layers import _Conv, _dense

CLASSIFIER_FEATURES = 128


class Classifier(nn.Module):
    """A small convolutional classifier of (H, W, C) images: the feature network of the GAN
    metrics (FID / KID features, Inception Score probabilities).

    conv C->32, conv 32->64 s2, conv 64->128 s2 (3x3, ReLU, no norm, so features do not depend
    on the batch); a ReLU dense layer of ``CLASSIFIER_FEATURES`` = the features; a linear
    ``num_classes``-way logit head.
    """

    num_classes: int = 10
    impl: str = "auto"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool):
        for feats, stride in ((32, 1), (64, 2), (128, 2)):
            x = nn.relu(_Conv(feats, stride, 1, impl=self.impl, dtype=self.dtype)(x))
        x = x.reshape(x.shape[0], -1)
        features = nn.relu(_dense(CLASSIFIER_FEATURES, self.dtype)(x)).astype(jnp.float32)
        logits = _dense(self.num_classes, self.dtype)(features).astype(jnp.float32)
        return logits, features
