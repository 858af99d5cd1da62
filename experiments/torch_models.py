"""The anogan_jax architectures in PyTorch, layer for layer, for the benchmark baselines.

Same layers, shapes, parameter counts and FLOPs as ``anogan_jax.models`` (checked by
``check_param_counts``); not numerically equivalent (PyTorch's own initialisers, NCHW instead
of NHWC, so the flattened feature layer is ordered differently). Requires PyTorch
(``pip install -e '.[bench]'``, the CPU wheel torch==2.13.0).

    .venv/bin/python experiments/torch_models.py     # runs the self-check
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ARCHS = ("dcgan28", "dcgan28_light", "mlp")


class LayerNormCHW(nn.Module):
    """LayerNorm over (C, H, W) of each image with a per-channel scale and bias: what flax's
    ``nn.LayerNorm(reduction_axes=(-3, -2, -1))`` (default ``feature_axes=-1``) computes."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x):
        x = F.layer_norm(x, x.shape[1:], eps=self.eps)
        return x * self.weight[:, None, None] + self.bias[:, None, None]


def _norm(kind: str, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if kind == "batch" else LayerNormCHW(channels)


def _convt(cin: int, cout: int, stride: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, 3, stride, 1, output_padding=stride - 1)


class DCGAN28Generator(nn.Module):
    """Linear(latent, 7*7*512)+BN+ReLU; ConvT 512->256 s2 +BN+LReLU; ConvT 256->128 +BN+LReLU;
    ConvT 128->64 +BN+LReLU; ConvT 64->1 s2; tanh (LeakyReLU slope 0.01)."""

    def __init__(self, latent_dim: int = 100):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(latent_dim, 7 * 7 * 512), nn.BatchNorm1d(7 * 7 * 512))
        layers = []
        for cin, cout, stride in ((512, 256, 2), (256, 128, 1), (128, 64, 1)):
            layers += [_convt(cin, cout, stride), nn.BatchNorm2d(cout), nn.LeakyReLU(0.01)]
        self.convs = nn.Sequential(*layers, _convt(64, 1, 2), nn.Tanh())

    def forward(self, z):
        return self.convs(F.relu(self.fc(z)).view(-1, 512, 7, 7))


class DCGAN28Discriminator(nn.Module):
    """conv 1->8, 8->16 s2, 16->32 s2, 32->64, each + norm + LReLU(0.01); features = the
    flattened 64x7x7 map; Linear(3136, 1). Returns (logit (N,), features (N, 3136))."""

    def __init__(self, norm: str = "batch"):
        super().__init__()
        layers = []
        for cin, cout, stride in ((1, 8, 1), (8, 16, 2), (16, 32, 2), (32, 64, 1)):
            layers += [nn.Conv2d(cin, cout, 3, stride, 1), _norm(norm, cout), nn.LeakyReLU(0.01)]
        self.trunk = nn.Sequential(*layers)
        self.logit = nn.Linear(64 * 7 * 7, 1)

    def forward(self, x):
        features = self.trunk(x).flatten(1)
        return self.logit(features)[:, 0], features


class DCGAN28LightGenerator(nn.Module):
    """Linear(latent, 7*7*256)+BN+ReLU; ConvT 256->64 s2 +BN+ReLU; ConvT 64->1 s2; tanh."""

    def __init__(self, latent_dim: int = 100):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(latent_dim, 7 * 7 * 256), nn.BatchNorm1d(7 * 7 * 256))
        self.convs = nn.Sequential(
            _convt(256, 64, 2), nn.BatchNorm2d(64), nn.ReLU(), _convt(64, 1, 2), nn.Tanh()
        )

    def forward(self, z):
        return self.convs(F.relu(self.fc(z)).view(-1, 256, 7, 7))


class DCGAN28LightDiscriminator(nn.Module):
    """conv 1->32 s2 +LReLU(0.2); conv 32->64 s2 +norm+LReLU(0.2); features 64x7x7; logit."""

    def __init__(self, norm: str = "batch"):
        super().__init__()
        self.trunk = nn.Sequential(
            nn.Conv2d(1, 32, 3, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(32, 64, 3, 2, 1),
            _norm(norm, 64),
            nn.LeakyReLU(0.2),
        )
        self.logit = nn.Linear(64 * 7 * 7, 1)

    def forward(self, x):
        features = self.trunk(x).flatten(1)
        return self.logit(features)[:, 0], features


class MLPGenerator(nn.Module):
    """100->256->256->784, ReLU then BN; tanh output reshaped to (N, 1, 28, 28)."""

    def __init__(self, latent_dim: int = 100):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 256),
            nn.ReLU(),
            nn.BatchNorm1d(256),
            nn.Linear(256, 256),
            nn.ReLU(),
            nn.BatchNorm1d(256),
            nn.Linear(256, 784),
            nn.Tanh(),
        )

    def forward(self, z):
        return self.net(z).view(-1, 1, 28, 28)


class MLPDiscriminator(nn.Module):
    """784->128->128 (ReLU, dropout 0.2) -> logit; features = the last hidden layer.

    The WGAN-GP critic is the same network (flax's mlp critic has no norm layer either)."""

    def __init__(self, norm: str = "batch"):
        super().__init__()
        del norm
        self.trunk = nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 128),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Linear(128, 128),
            nn.ReLU(),
            nn.Dropout(0.2),
        )
        self.logit = nn.Linear(128, 1)

    def forward(self, x):
        features = self.trunk(x)
        return self.logit(features)[:, 0], features


_NETWORKS = {
    "dcgan28": (DCGAN28Generator, DCGAN28Discriminator),
    "dcgan28_light": (DCGAN28LightGenerator, DCGAN28LightDiscriminator),
    "mlp": (MLPGenerator, MLPDiscriminator),
}


def critic_norm_for(objective: str) -> str:
    """As ``anogan_jax.models.critic_norm_for``: a per-sample (LayerNorm) critic for WGAN-GP."""
    return "layer" if objective == "wgan_gp" else "batch"


def make_gan(
    arch: str, *, latent_dim: int = 100, objective: str = "non_saturating"
) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) of an architecture, in training mode."""
    if arch not in _NETWORKS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    g_cls, d_cls = _NETWORKS[arch]
    return g_cls(latent_dim), d_cls(critic_norm_for(objective))


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def check_param_counts(latent_dim: int = 100) -> dict:
    """Asserts every torch network has the flax network's parameter count and output shapes.

    Returns:
      {"arch/objective": {"g": count, "d": count}} for the checked pairs.
    """
    import jax

    from anogan_jax import models as flax_models

    checked = {}
    for arch in ARCHS:
        for objective in ("non_saturating", "wgan_gp"):
            fm = flax_models.make_gan(arch, latent_dim=latent_dim, objective=objective)
            g, d = make_gan(arch, latent_dim=latent_dim, objective=objective)
            key = jax.random.key(0)
            want_g = flax_models.count_params(jax.eval_shape(fm.generator.init, key)["params"])
            want_d = flax_models.count_params(jax.eval_shape(fm.discriminator.init, key)["params"])
            got_g, got_d = count_params(g), count_params(d)
            assert (got_g, got_d) == (want_g, want_d), (
                f"{arch}/{objective}: torch G {got_g}, D {got_d} parameters; "
                f"flax G {want_g}, D {want_d}"
            )
            with torch.no_grad():
                images = g.eval()(torch.zeros(2, latent_dim))
                logit, features = d.eval()(images)
            assert images.shape == (2, 1, 28, 28), images.shape
            assert logit.shape == (2,) and features.ndim == 2, (logit.shape, features.shape)
            checked[f"{arch}/{objective}"] = {"g": got_g, "d": got_d}
    return checked


if __name__ == "__main__":
    for name, counts in check_param_counts().items():
        print(f"{name:28s} G {counts['g']:>9,d}  D {counts['d']:>7,d}  parameters (= flax)")
