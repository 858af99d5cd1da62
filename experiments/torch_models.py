"""The anogan_jax architectures in PyTorch, layer for layer, for the benchmark baselines.

Same layers, shapes, parameter counts and FLOPs as ``anogan_jax.models`` (checked by
``check_param_counts``). The 28x28 archs (``make_gan``) keep PyTorch's own initialisers, so they
are not numerically equivalent. The 64x64 f-AnoGAN ResNet (``load_resnet64``) is built FROM the
JAX variables and computes the same function up to float32 rounding (tests/test_bench.py); only
the flattened 4x4 feature layer is ordered (C, H, W) instead of (H, W, C), the linear layers
next to it permuted to match. Requires PyTorch (``pip install -e '.[bench]'``, the CPU wheel
torch==2.13.0).

    .venv/bin/python experiments/torch_models.py     # runs the self-check
"""

from __future__ import annotations

import numpy as np
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
    arch: str,
    *,
    latent_dim: int | None = None,
    objective: str = "non_saturating",
    width: int | None = None,
) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) of an architecture, in training mode; ``latent_dim`` None is
    the arch's own (``io_shapes``), ``width`` resnet64's channel base (None: 64)."""
    latent_dim = latent_dim or io_shapes(arch)[0]
    if arch == "resnet64":
        _, (channels, _, _) = io_shapes(arch)
        return (
            ResNet64Generator(latent_dim, channels, width or 64),
            ResNet64Critic(channels, width or 64),
        )
    if arch not in _NETWORKS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    g_cls, d_cls = _NETWORKS[arch]
    return g_cls(latent_dim), d_cls(critic_norm_for(objective))


def io_shapes(arch: str) -> tuple[int, tuple[int, int, int]]:
    """(size of z, (C, H, W) of an image) that the benchmarks feed ``arch``."""
    return (128, (3, 64, 64)) if arch == "resnet64" else (100, (1, 28, 28))


# ----------------------------------------------------------------------------- resnet64

RESNET64_EPS = 1e-5  # BatchNorm and LayerNorm epsilon in anogan_jax.models


def _conv3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, 1, 1)


def _upsample(x):
    return F.interpolate(x, scale_factor=2, mode="nearest")


class ResBlockUp(nn.Module):
    """shortcut: conv 1x1, upsample; main: BN, ReLU, upsample, conv 3x3, BN, ReLU, conv 3x3."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.shortcut = nn.Conv2d(cin, cout, 1)
        self.norm_1, self.conv_1 = nn.BatchNorm2d(cin, RESNET64_EPS), _conv3(cin, cout)
        self.norm_2, self.conv_2 = nn.BatchNorm2d(cout, RESNET64_EPS), _conv3(cout, cout)

    def forward(self, x):
        y = self.conv_1(_upsample(F.relu(self.norm_1(x))))
        return _upsample(self.shortcut(x)) + self.conv_2(F.relu(self.norm_2(y)))


class ResBlockDown(nn.Module):
    """shortcut: 2x2 mean pool, conv 1x1; main: LN, ReLU, conv 3x3 (in->in), LN, ReLU,
    conv 3x3 (in->out), 2x2 mean pool. LayerNorm over (C, H, W) of each image."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.shortcut = nn.Conv2d(cin, cout, 1)
        self.norm_1, self.conv_1 = LayerNormCHW(cin, RESNET64_EPS), _conv3(cin, cin)
        self.norm_2, self.conv_2 = LayerNormCHW(cin, RESNET64_EPS), _conv3(cin, cout)

    def forward(self, x):
        y = self.conv_1(F.relu(self.norm_1(x)))
        y = self.conv_2(F.relu(self.norm_2(y)))
        return self.shortcut(F.avg_pool2d(x, 2)) + F.avg_pool2d(y, 2)


class ResNet64Generator(nn.Module):
    """Linear(latent, 4*4*8w) to 4x4x8w; up blocks 8w->8w->4w->2w->w; BN, ReLU, conv w->C;
    tanh. (N, latent) -> (N, C, 64, 64)."""

    def __init__(self, latent_dim: int = 128, channels: int = 3, width: int = 64):
        super().__init__()
        self.fc = nn.Linear(latent_dim, 16 * 8 * width)
        feats = (8 * width, 8 * width, 4 * width, 2 * width, width)
        self.blocks = nn.Sequential(*(ResBlockUp(feats[i], feats[i + 1]) for i in range(4)))
        self.norm, self.out = nn.BatchNorm2d(width, RESNET64_EPS), _conv3(width, channels)

    def forward(self, z):
        x = self.blocks(self.fc(z).view(z.shape[0], -1, 4, 4))
        return torch.tanh(self.out(F.relu(self.norm(x))))


class ResNet64Trunk(nn.Module):
    """conv C->w; down blocks w->2w->4w->8w->8w; flattened (C, H, W): (N, 16*8w)."""

    def __init__(self, channels: int = 3, width: int = 64):
        super().__init__()
        self.conv = _conv3(channels, width)
        feats = (width, 2 * width, 4 * width, 8 * width, 8 * width)
        self.blocks = nn.Sequential(*(ResBlockDown(feats[i], feats[i + 1]) for i in range(4)))

    def forward(self, x):
        return self.blocks(self.conv(x)).flatten(1)


class ResNet64Critic(nn.Module):
    """The trunk and a linear logit: (N, C, 64, 64) -> (logit (N,), features (N, 16*8w))."""

    def __init__(self, channels: int = 3, width: int = 64):
        super().__init__()
        self.trunk, self.logit = ResNet64Trunk(channels, width), nn.Linear(16 * 8 * width, 1)

    def forward(self, x):
        features = self.trunk(x)
        return self.logit(features)[:, 0], features


class ResNet64Encoder(nn.Module):
    """izi_f encoder: the critic's trunk and a linear head, (N, C, 64, 64) -> (N, latent)."""

    def __init__(self, latent_dim: int = 128, channels: int = 3, width: int = 64, bounded=False):
        super().__init__()
        self.trunk, self.head = (
            ResNet64Trunk(channels, width),
            nn.Linear(16 * 8 * width, latent_dim),
        )
        self.bounded = bounded

    def forward(self, x):
        z = self.head(self.trunk(x))
        return torch.tanh(z) if self.bounded else z


def _t(a, perm=None) -> torch.Tensor:
    a = np.asarray(a, np.float32)
    return torch.from_numpy(np.array(a.transpose(perm) if perm else a))  # a writable copy


def _hwc_to_chw(a, channels: int, axis: int):
    """Reorders ``axis`` of ``a``, a flattened 4x4xC map in (H, W, C) order, to (C, H, W)."""
    a = np.moveaxis(np.asarray(a), axis, 0)
    a = a.reshape(4, 4, channels, *a.shape[1:]).transpose(2, 0, 1, *range(3, a.ndim + 2))
    return np.moveaxis(a.reshape(16 * channels, *a.shape[3:]), 0, axis)


def _load_conv(conv: nn.Conv2d, p) -> None:
    conv.weight.copy_(_t(p["kernel"], (3, 2, 0, 1)))  # HWIO -> OIHW
    conv.bias.copy_(_t(p["bias"]))


def _load_norm(norm: nn.Module, p, stats=None) -> None:
    norm.weight.copy_(_t(p["scale"]))
    norm.bias.copy_(_t(p["bias"]))
    if stats is not None:
        norm.running_mean.copy_(_t(stats["mean"]))
        norm.running_var.copy_(_t(stats["var"]))


def _load_linear(linear: nn.Linear, p, *, chw_in: int = 0, chw_out: int = 0) -> None:
    """kernel (in, out) -> weight (out, in); ``chw_in`` / ``chw_out``: channels of a flattened
    4x4 map on that side, reordered from (H, W, C) to (C, H, W)."""
    kernel, bias = np.asarray(p["kernel"]), np.asarray(p["bias"])
    if chw_in:
        kernel = _hwc_to_chw(kernel, chw_in, 0)
    if chw_out:
        kernel, bias = _hwc_to_chw(kernel, chw_out, 1), _hwc_to_chw(bias, chw_out, 0)
    linear.weight.copy_(_t(kernel, (1, 0)))
    linear.bias.copy_(_t(bias))


def _load_trunk(trunk: ResNet64Trunk, p) -> None:
    _load_conv(trunk.conv, p["_Conv_0"])
    for i, block in enumerate(trunk.blocks):
        q = p[f"ResBlockDown_{i}"]
        for name in ("shortcut", "conv_1", "conv_2"):
            _load_conv(getattr(block, name), q[name])
        _load_norm(block.norm_1, q["norm_1"])
        _load_norm(block.norm_2, q["norm_2"])


def _load_generator(g: ResNet64Generator, variables: dict, width: int) -> None:
    p, s = variables["params"], variables["batch_stats"]
    _load_linear(g.fc, p["Dense_0"], chw_out=8 * width)
    for i, block in enumerate(g.blocks):
        q, r = p[f"ResBlockUp_{i}"], s[f"ResBlockUp_{i}"]
        for name in ("shortcut", "conv_1", "conv_2"):
            _load_conv(getattr(block, name), q[name])
        _load_norm(block.norm_1, q["norm_1"], r["norm_1"])
        _load_norm(block.norm_2, q["norm_2"], r["norm_2"])
    _load_norm(g.norm, p["BatchNorm_0"], s["BatchNorm_0"])
    _load_conv(g.out, p["_Conv_0"])


def load_resnet64(g_vars: dict, d_vars: dict, e_params: dict | None = None, *, bounded=False):
    """The PyTorch twins of JAX ``resnet64`` networks, carrying their variables, in eval mode
    (BatchNorm on the running statistics), gradients off.

    Args:
      g_vars, d_vars: ``{"params", "batch_stats"}`` of ``make_gan("resnet64", ...)``'s
        generator and critic; e_params: ``params`` of ``make_encoder("resnet64", ...)`` or None.
        Width, channels and latent size are read from their shapes.
    Returns:
      (generator, critic, encoder or None).
    """
    g_kernel = g_vars["params"]["_Conv_0"]["kernel"]  # (3, 3, width, channels)
    width, channels = int(g_kernel.shape[2]), int(g_kernel.shape[3])
    latent_dim = int(g_vars["params"]["Dense_0"]["kernel"].shape[0])
    g, d = ResNet64Generator(latent_dim, channels, width), ResNet64Critic(channels, width)
    e = ResNet64Encoder(latent_dim, channels, width, bounded) if e_params is not None else None
    with torch.no_grad():
        _load_generator(g, g_vars, width)
        _load_trunk(d.trunk, d_vars["params"]["trunk"])
        _load_linear(d.logit, d_vars["params"]["Dense_0"], chw_in=8 * width)
        if e is not None:
            _load_trunk(e.trunk, e_params["trunk"])
            _load_linear(e.head, e_params["Dense_0"], chw_in=8 * width)
    for net in (g, d, e):
        if net is not None:
            net.eval().requires_grad_(False)
    return g, d, e


def hwc_features(features: torch.Tensor) -> np.ndarray:
    """A twin's (N, 16*C) flattened 4x4xC features in the JAX (H, W, C) order, as numpy."""
    n = features.shape[0]
    return features.detach().numpy().reshape(n, -1, 4, 4).transpose(0, 2, 3, 1).reshape(n, -1)


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
    checked["resnet64"] = _check_resnet64()
    return checked


def _check_resnet64(width: int = 64, channels: int = 3, latent_dim: int = 128) -> dict:
    """The resnet64 twins' parameter counts against flax's, at the published sizes."""
    import jax

    from anogan_jax import models as flax_models

    kw = {"image_shape": (64, 64, channels), "latent_dim": latent_dim, "width": width}
    fm = flax_models.make_gan("resnet64", **kw)
    fe = flax_models.make_encoder("resnet64", **kw)
    nets = {
        "g": (fm.generator, ResNet64Generator(latent_dim, channels, width)),
        "d": (fm.discriminator, ResNet64Critic(channels, width)),
        "e": (fe, ResNet64Encoder(latent_dim, channels, width)),
    }
    counts = {}
    for name, (flax_net, net) in nets.items():
        want = flax_models.count_params(jax.eval_shape(flax_net.init, jax.random.key(0))["params"])
        assert count_params(net) == want, f"resnet64 {name}: torch {count_params(net)}, flax {want}"
        counts[name] = want
    return counts


if __name__ == "__main__":
    for name, counts in check_param_counts().items():
        enc = f"  E {counts['e']:>9,d}" if "e" in counts else ""
        print(f"{name:28s} G {counts['g']:>9,d}  D {counts['d']:>9,d}{enc}  parameters (= flax)")
