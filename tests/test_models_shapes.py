"""Every architecture at every image shape it supports: exact parameter counts (by formula
where the network is published), output and feature shapes, shape checks with their messages,
tiny (width 8) versions that run, and the 28x28x1 networks unchanged."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from anogan_jax import models

KEY = jax.random.key(0)

# (arch, image shape): parameter counts of (generator, critic, encoder) at the arch's default
# latent size and width. The critic's count is the same with BatchNorm and LayerNorm.
PARAMS = {
    ("dcgan28", (28, 28, 1)): (4_134_273, 27_761, 341_461),
    ("dcgan28", (28, 28, 3)): (4_135_427, 27_905, 341_605),
    ("dcgan28_light", (28, 28, 1)): (1_440_257, 22_081, 335_781),
    ("dcgan28_light", (28, 28, 3)): (1_441_411, 22_657, 336_357),
    ("mlp", (28, 28, 1)): (294_160, 117_121, 292_452),
    ("mlp", (28, 28, 3)): (697_136, 317_825, 693_860),
    ("mlp", (32, 32, 1)): (355_840, 147_841, 353_892),
    ("mlp", (32, 32, 3)): (882_176, 409_985, 878_180),
    ("mlp", (64, 64, 1)): (1_145_344, 541_057, 1_140_324),
    ("mlp", (64, 64, 3)): (3_250_688, 1_589_633, 3_237_476),
    ("dcgan", (32, 32, 1)): (784_001, 374_529, 780_132),
    ("dcgan", (32, 32, 3)): (785_155, 375_681, 781_284),
    ("dcgan", (64, 64, 1)): (2_378_625, 1_559_809, 2_370_916),
    ("dcgan", (64, 64, 3)): (2_379_779, 1_560_961, 2_372_068),
    ("resnet64", (64, 64, 1)): (8_540_289, 7_491_649, 8_532_160),
    ("resnet64", (64, 64, 3)): (8_541_443, 7_492_801, 8_533_312),
}


def _count(net) -> int:
    return models.count_params(jax.eval_shape(net.init, KEY)["params"])


def _conv(cin, cout, k=3):
    return k * k * cin * cout + cout


@pytest.mark.parametrize(("arch", "shape"), list(PARAMS))
def test_parameter_counts(arch, shape):
    latent = models.default_latent_dim(arch)
    g, d, e = PARAMS[(arch, shape)]
    for objective in ("non_saturating", "wgan_gp"):
        gm = models.make_gan(arch, image_shape=shape, latent_dim=latent, objective=objective)
        assert (_count(gm.generator), _count(gm.discriminator)) == (g, d)
        assert gm.image_shape == shape and gm.latent_dim == latent
    assert _count(models.make_encoder(arch, image_shape=shape, latent_dim=latent)) == e


def test_28x28x1_counts_are_the_old_ones():
    # The counts before the archs took their shape from the data (checkpoints must restore).
    old = {
        "dcgan28": (4_134_273, 27_761, 341_461),
        "dcgan28_light": (1_440_257, 22_081, 335_781),
        "mlp": (294_160, 117_121, 292_452),
    }
    for arch, counts in old.items():
        gm = models.make_gan(arch)
        assert (_count(gm.generator), _count(gm.discriminator)) == counts[:2]
        assert _count(models.make_encoder(arch)) == counts[2]
        assert PARAMS[(arch, (28, 28, 1))] == counts


@pytest.mark.parametrize("channels", [1, 3])
def test_resnet64_counts_match_the_published_network(channels):
    # Gulrajani et al.'s 64x64 ResNet (dim 64, z 128), as f-AnoGAN trains it: conv weights and
    # biases, BatchNorm / LayerNorm per-channel scale and offset, linear layers.
    def up(cin, cout):  # shortcut 1x1; BN, conv in->out; BN, conv out->out
        return _conv(cin, cout, 1) + 2 * cin + _conv(cin, cout) + 2 * cout + _conv(cout, cout)

    def down(cin, cout):  # shortcut 1x1; LN, conv in->in; LN, conv in->out
        return _conv(cin, cout, 1) + 2 * cin + _conv(cin, cin) + 2 * cin + _conv(cin, cout)

    g = 128 * 8192 + 8192 + up(512, 512) + up(512, 256) + up(256, 128) + up(128, 64)
    g += 2 * 64 + _conv(64, channels)
    trunk = _conv(channels, 64) + down(64, 128) + down(128, 256) + down(256, 512)
    trunk += down(512, 512)
    shape = (64, 64, channels)
    gm = models.make_gan("resnet64", image_shape=shape, latent_dim=128, objective="wgan_gp")
    assert _count(gm.generator) == g
    assert _count(gm.discriminator) == trunk + 8192 + 1
    encoder = models.make_encoder("resnet64", image_shape=shape, latent_dim=128)
    assert _count(encoder) == trunk + 8192 * 128 + 128
    assert PARAMS[("resnet64", shape)] == (g, trunk + 8193, trunk + 8192 * 128 + 128)


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_counts_match_the_published_layout(size, channels):
    # DCGAN at width 64: 4x4x(64*2^n), n = log2(size) - 3 halvings to size/2, then to C.
    n = {32: 2, 64: 3}[size]
    widths = [64 * 2**i for i in range(n, -1, -1)]  # 64x64: 512, 256, 128, 64
    g = 100 * 16 * widths[0] + 16 * widths[0] + 2 * widths[0]
    g += sum(_conv(a, b) + 2 * b for a, b in zip(widths, widths[1:], strict=False))
    g += _conv(64, channels)
    trunk = _conv(channels, 64)
    trunk += sum(_conv(b, a) + 2 * a for a, b in zip(widths, widths[1:], strict=False))
    gm = models.make_gan("dcgan", image_shape=(size, size, channels))
    assert _count(gm.generator) == g
    assert _count(gm.discriminator) == trunk + 16 * widths[0] + 1
    encoder = models.make_encoder("dcgan", image_shape=(size, size, channels))
    assert _count(encoder) == trunk + 16 * widths[0] * 100 + 100


@pytest.mark.parametrize(
    ("arch", "shape", "features"),
    [
        ("resnet64", (64, 64, 3), 8192),
        ("dcgan", (64, 64, 3), 8192),
        ("dcgan", (32, 32, 1), 4096),
        ("dcgan28", (28, 28, 3), 3136),
        ("mlp", (64, 64, 3), 128),
    ],
)
def test_published_width_shapes(arch, shape, features):
    gm = models.make_gan(arch, image_shape=shape, latent_dim=models.default_latent_dim(arch))
    gv = jax.eval_shape(gm.generator.init, KEY)
    dv = jax.eval_shape(gm.discriminator.init, KEY)
    z = jnp.zeros((2, gm.latent_dim))
    x, _ = jax.eval_shape(lambda v, z: gm.generator.apply(v, z, train=False), gv, z)
    (logit, feats), _ = jax.eval_shape(
        lambda v, x: gm.discriminator.apply(v, x, train=False), dv, x
    )
    assert (x.shape, logit.shape, feats.shape) == ((2, *shape), (2,), (2, features))
    assert x.dtype == logit.dtype == feats.dtype == jnp.float32


def _jit_apply(net, variables, x, train=False):
    return jax.jit(lambda v, x: net.apply(v, x, train=train))(variables, x)


# The 64 x 64 programs take 20-35 s each to compile on 2 cores: with -m slow (and the trained
# pipelines of tests/test_own_images.py run every architecture end to end there too).
@pytest.mark.slow
@pytest.mark.parametrize(
    ("arch", "shape", "objective"),
    [("dcgan", (64, 64, 3), "wgan_gp"), ("resnet64", (64, 64, 3), "non_saturating")],
)
def test_tiny_versions_run(arch, shape, objective):
    gm = models.make_gan(arch, image_shape=shape, latent_dim=8, objective=objective, width=8)
    gv, dv = gm.generator.init(KEY), gm.discriminator.init(jax.random.key(1))
    z = 3 * jax.random.normal(jax.random.key(2), (2, 8))
    (x, _), (_, bs) = _jit_apply(gm.generator, gv, z), _jit_apply(gm.generator, gv, z, True)
    assert x.shape == (2, *shape) and float(jnp.max(jnp.abs(x))) <= 1.0
    assert not jax.tree_util.tree_all(
        jax.tree_util.tree_map(jnp.array_equal, bs, gv["batch_stats"])
    )
    (logit, feats), _ = _jit_apply(gm.discriminator, dv, x)
    # 4x4 maps at the top: 4*4*8*2^n (dcgan, n = log2(size) - 3) or 4*4*8*8 (resnet64).
    n = 3 if arch == "resnet64" else shape[0].bit_length() - 4
    assert logit.shape == (2,) and feats.shape == (2, 16 * 8 * 2**n)
    assert np.all(np.isfinite(logit)) and float(jnp.std(x)) > 0
    # resnet64's critic is a WGAN-GP critic: LayerNorm, no batch statistics, whatever the loss.
    assert (dv["batch_stats"] == {}) == (arch == "resnet64" or objective == "wgan_gp")
    enc = models.make_encoder(arch, image_shape=shape, latent_dim=8, bounded=True, width=8)
    e, _ = _jit_apply(enc, enc.init(KEY), x)
    assert e.shape == (2, 8) and float(jnp.max(jnp.abs(e))) <= 1.0


@pytest.mark.slow
def test_resnet64_critic_is_per_sample():
    """LayerNorm per image: one image's logit and features do not depend on its batch, as the
    WGAN-GP penalty needs, in training mode too."""
    d = models.make_gan("resnet64", image_shape=(64, 64, 3), objective="lsgan", width=8)
    dv = d.discriminator.init(KEY)
    x = jax.random.uniform(jax.random.key(1), (3, 64, 64, 3), minval=-1, maxval=1)
    apply = jax.jit(lambda x: d.discriminator.apply(dv, x, train=True)[0])
    (logit, feats), (logit_one, feats_one) = apply(x), apply(x[1:2])
    np.testing.assert_allclose(logit_one, logit[1:2], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(feats_one, feats[1:2], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("arch", "shape"),
    [
        pytest.param("dcgan28", (28, 28, 3), marks=pytest.mark.slow),
        ("dcgan28_light", (28, 28, 3)),
        ("mlp", (32, 48, 3)),
    ],
)
def test_fixed_archs_take_channels_and_sizes_from_the_data(arch, shape):
    gm = models.make_gan(arch, image_shape=shape, latent_dim=8)
    gv, dv = gm.generator.init(KEY), gm.discriminator.init(KEY)
    x, _ = _jit_apply(gm.generator, gv, jax.random.normal(KEY, (2, 8)))
    assert x.shape == (2, *shape) and float(jnp.max(jnp.abs(x))) <= 1.0
    (logit, _), _ = _jit_apply(gm.discriminator, dv, x)
    enc = models.make_encoder(arch, image_shape=shape, latent_dim=8)
    e, _ = _jit_apply(enc, enc.init(KEY), x)
    assert logit.shape == (2,) and e.shape == (2, 8)


def test_classifier_takes_any_shape():
    net = models.make_classifier(num_classes=4, image_shape=(64, 64, 3))
    (logits, feats), _ = _jit_apply(net, net.init(KEY), jnp.ones((2, 64, 64, 3)))
    assert logits.shape == (2, 4) and feats.shape == (2, models.CLASSIFIER_FEATURES)


@pytest.mark.parametrize(
    ("arch", "shape", "message"),
    [
        (
            "dcgan28",
            (64, 64, 3),
            "arch 'dcgan28' is built for 28x28 images; these are 64x64x3: use --arch dcgan "
            r"\(16x16, 32x32, 64x64 or 128x128\) or resnet64 \(64x64\) or mlp \(any HxW\)",
        ),
        (
            "resnet64",
            (32, 32, 3),
            "arch 'resnet64' is built for 64x64 images; these are 32x32x3: use --arch dcgan "
            r"\(16x16, 32x32, 64x64 or 128x128\) or mlp",
        ),
        (
            "dcgan",
            (48, 48, 1),
            r"arch 'dcgan' is built for 16x16, 32x32, 64x64 or 128x128 images; these are "
            r"48x48x1: use --arch mlp \(any HxW\)$",
        ),
        ("dcgan", (64, 32, 1), "these are 64x32x1: use --arch mlp"),
        (
            "dcgan28_light",
            (32, 32, 1),
            "built for 28x28 images; these are 32x32x1: use --arch dcgan",
        ),
        ("mlp", (28, 28, 2), "arch 'mlp' takes images with 1 or 3 channels; these are 28x28x2"),
        ("resnet64", (64, 64, 2), "arch 'resnet64' takes images with 1 or 3 channels"),
        ("dcgan28", (28, 28), r"image_shape must be \(H, W, C\), got \(28, 28\)"),
        ("dcgan64", (64, 64, 3), "unknown architecture 'dcgan64'; choose one of dcgan28_light, "),
    ],
)
def test_check_arch_errors(arch, shape, message):
    with pytest.raises(ValueError, match=message):
        models.check_arch(arch, shape)
    with pytest.raises(ValueError, match=message):
        models.make_gan(arch, image_shape=shape)
    with pytest.raises(ValueError, match=message):
        models.make_encoder(arch, image_shape=shape)


def test_check_arch_accepts_the_supported_shapes():
    for arch, shape in PARAMS:
        assert models.check_arch(arch, shape) is None
    for size in (16, 128):
        models.check_arch("dcgan", (size, size, 3))
    assert models.supported_sizes("resnet64") == "64x64"
    assert models.supported_sizes("mlp") == "any HxW"
    assert [models.default_latent_dim(a) for a in models.ARCHS] == [100, 100, 100, 128, 100]


def test_width_is_for_dcgan_and_resnet64_only():
    with pytest.raises(ValueError, match="width sets the channels of dcgan and resnet64"):
        models.make_gan("dcgan28", width=8)
    with pytest.raises(ValueError, match="width sets the channels"):
        models.make_encoder("mlp", width=8)
    with pytest.raises(ValueError, match="width must be >= 1"):
        models.make_gan("dcgan", image_shape=(32, 32, 1), width=0)
    wide = models.make_gan("dcgan", image_shape=(32, 32, 1), width=64)
    assert _count(wide.generator) == PARAMS[("dcgan", (32, 32, 1))][0]


def _ref_conv(x, p, stride, transpose=False):
    """3x3, padding 1, PyTorch's sizes; a transposed conv's kernel is that of the direct conv
    over the stride-dilated input (see ops/conv.py), output_padding stride - 1."""
    dims = ("NHWC", "HWIO", "NHWC")
    if transpose:
        pads = ((1, stride), (1, stride))
        y = lax.conv_general_dilated(x, p["kernel"], (1, 1), pads, (stride, stride), None, dims)
    else:
        y = lax.conv_general_dilated(
            x, p["kernel"], (stride, stride), ((1, 1), (1, 1)), None, None, dims
        )
    return y + p["bias"]


def _ref_batch_norm(x, p, stats):
    return (x - stats["mean"]) / jnp.sqrt(stats["var"] + 1e-5) * p["scale"] + p["bias"]


def _ref_layer_norm(x, p):
    mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
    var = jnp.var(x, axis=(1, 2, 3), keepdims=True)
    return (x - mean) / jnp.sqrt(var + 1e-5) * p["scale"] + p["bias"]


def _perturbed(variables, seed):
    """Random parameters and running statistics (variances kept positive)."""
    leaves, tree = jax.tree_util.tree_flatten(variables)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    noisy = [
        a + 0.3 * jnp.abs(jax.random.normal(k, a.shape)) for a, k in zip(leaves, keys, strict=True)
    ]
    return jax.tree_util.tree_unflatten(tree, noisy)


@pytest.mark.slow  # 25 s of compiles; the 28x28x1 parameter counts are pinned by default
def test_dcgan28_is_the_seed_network_layer_for_layer():
    """dcgan28 (28x28x1) against a plain-lax transcription of the seed PyTorch model read from
    the parameter tree by the old names: same names, shapes and inference outputs."""
    gm = models.make_gan("dcgan28", latent_dim=100)
    gv = _perturbed(gm.generator.init(KEY), 1)
    p, s = gv["params"], gv["batch_stats"]
    z = jax.random.normal(jax.random.key(2), (2, 100))
    x = z @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"]
    x = jax.nn.relu(_ref_batch_norm(x, p["BatchNorm_0"], s["BatchNorm_0"])).reshape(2, 7, 7, 512)
    for i, stride in enumerate((2, 1, 1)):
        x = _ref_conv(x, p[f"_Conv_{i}"], stride, transpose=True)
        bn = f"BatchNorm_{i + 1}"
        x = jax.nn.leaky_relu(_ref_batch_norm(x, p[bn], s[bn]), 0.01)
    want = jnp.tanh(_ref_conv(x, p["_Conv_3"], 2, transpose=True))
    got, _ = _jit_apply(gm.generator, gv, z)
    assert got.shape == want.shape == (2, 28, 28, 1)
    np.testing.assert_allclose(got, want, atol=2e-4)
    for norm, objective in (("batch", "non_saturating"), ("layer", "wgan_gp")):
        d = models.make_gan("dcgan28", objective=objective).discriminator
        dv = _perturbed(d.init(KEY), 3)
        (logit, feats), _ = _jit_apply(d, dv, want)
        h, p = want, dv["params"]
        for i, stride in enumerate((1, 2, 2, 1)):
            h = _ref_conv(h, p[f"_Conv_{i}"], stride)
            if norm == "batch":
                h = _ref_batch_norm(h, p[f"BatchNorm_{i}"], dv["batch_stats"][f"BatchNorm_{i}"])
            else:
                h = _ref_layer_norm(h, p[f"LayerNorm_{i}"])
            h = jax.nn.leaky_relu(h, 0.01)
        h = h.reshape(2, -1)
        np.testing.assert_allclose(feats, h, rtol=1e-4, atol=1e-4)
        want_logit = (h @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"])[:, 0]
        np.testing.assert_allclose(logit, want_logit, rtol=1e-4, atol=1e-3)


def test_old_encoders_keep_their_parameter_names():
    """The 28x28 encoders' trunk is the whole LayerNorm critic under "trunk" (its logit head
    unused) and the latent head is "Dense_0": checkpoints written before still restore."""
    for arch in ("dcgan28", "dcgan28_light"):
        params = jax.eval_shape(models.make_encoder(arch).init, KEY)["params"]
        d = models.make_gan(arch, objective="wgan_gp").discriminator
        critic = jax.eval_shape(d.init, KEY)["params"]
        assert sorted(params) == ["Dense_0", "trunk"]
        assert jax.tree_util.tree_structure(params["trunk"]) == jax.tree_util.tree_structure(critic)
        assert params["Dense_0"]["kernel"].shape == (3136, 100)
    mlp = jax.eval_shape(models.make_gan("mlp").generator.init, KEY)["params"]
    assert mlp["Dense_2"]["kernel"].shape == (256, 784)
