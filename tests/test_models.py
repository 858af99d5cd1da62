import jax
import jax.numpy as jnp
import numpy as np
import pytest

from anogan_jax import models
from anogan_jax.ops import xla_cpu

# Each arch at a shape it is built for; the channel-wide archs tiny (width 8) for CPU speed.
SHAPES = {"dcgan": (32, 32, 1), "resnet64": (64, 64, 1)}
WIDTHS = {"dcgan": 8, "resnet64": 8}


def _shape(arch):
    return SHAPES.get(arch, models.IMAGE_SHAPE)


def _init(net, seed=0):
    return net.init(jax.random.key(seed))


def test_dcgan28_parameter_counts_match_the_seed_pytorch_model():
    # Counted from seeds 001's PyTorch G and D (weights + biases + BatchNorm affine).
    g = 100 * 25088 + 25088 + 2 * 25088  # Linear + BN1d
    g += 512 * 256 * 9 + 256 + 2 * 256 + 256 * 128 * 9 + 128 + 2 * 128
    g += 128 * 64 * 9 + 64 + 2 * 64 + 64 * 1 * 9 + 1
    d = (9 * 8 + 8 + 16) + (8 * 16 * 9 + 16 + 32) + (16 * 32 * 9 + 32 + 64)
    d += (32 * 64 * 9 + 64 + 128) + (3136 + 1)
    gm = models.make_gan("dcgan28")
    # Shapes only (jax.eval_shape): initialising 4 M parameters eagerly took 13 s.
    g_vars, d_vars = (
        jax.eval_shape(lambda n=n: _init(n)) for n in (gm.generator, gm.discriminator)
    )
    assert models.count_params(g_vars["params"]) == g == 4_134_273
    assert models.count_params(d_vars["params"]) == d == 27_761


# The 64 x 64 archs compile for half a minute each (their forward passes are checked by default
# in test_models_shapes.py::test_tiny_versions_run), and dcgan28 for 10-15 s (dcgan28_light, its
# narrower twin, runs by default): these run with -m slow.
ARCH_PARAMS = [
    pytest.param(a, marks=pytest.mark.slow) if a in ("dcgan", "resnet64", "dcgan28") else a
    for a in models.ARCHS
]


@pytest.mark.parametrize("arch", ARCH_PARAMS)
@pytest.mark.parametrize("objective", ["non_saturating", "wgan_gp"])
def test_shapes_ranges_and_features(arch, objective):
    shape, width = _shape(arch), WIDTHS.get(arch)
    gm = models.make_gan(arch, image_shape=shape, latent_dim=16, objective=objective, width=width)
    gv, dv = _init(gm.generator), _init(gm.discriminator, 1)
    z = jax.random.normal(jax.random.key(2), (3, 16))
    x, _ = gm.generator.apply(gv, z, train=False)
    assert x.shape == (3, *shape)
    assert float(jnp.max(jnp.abs(x))) <= 1.0
    (logit, feats), _ = gm.discriminator.apply(dv, x, train=False)
    assert logit.shape == (3,) and feats.ndim == 2 and feats.shape[0] == 3
    # The WGAN-GP critic has no batch statistics (per-sample critic); resnet64's is always one.
    per_sample = objective == "wgan_gp" or arch in ("mlp", "resnet64")
    assert (dv["batch_stats"] == {}) == per_sample


def test_batchnorm_train_vs_inference():
    gm = models.make_gan("dcgan28_light", latent_dim=8)
    gv = _init(gm.generator)
    z = jax.random.normal(jax.random.key(0), (4, 8))
    x_inf, bs_inf = gm.generator.apply(gv, z, train=False)
    x_tr, bs_tr = gm.generator.apply(gv, z, train=True)
    # Inference mode leaves the running statistics untouched; training mode moves them.
    assert jax.tree_util.tree_all(
        jax.tree_util.tree_map(jnp.array_equal, bs_inf, gv["batch_stats"])
    )
    assert not np.allclose(bs_tr["BatchNorm_0"]["mean"], gv["batch_stats"]["BatchNorm_0"]["mean"])
    assert not np.allclose(x_inf, x_tr)
    # In inference mode one image's output does not depend on the rest of the batch.
    x_one, _ = gm.generator.apply(gv, z[:1], train=False)
    np.testing.assert_allclose(x_one, x_inf[:1], atol=1e-6)


@pytest.mark.parametrize("arch", ARCH_PARAMS)
@pytest.mark.parametrize("bounded", [False, True])
def test_encoder_shapes_and_bounds(arch, bounded):
    shape = _shape(arch)
    enc = models.make_encoder(
        arch, image_shape=shape, latent_dim=12, bounded=bounded, width=WIDTHS.get(arch)
    )
    ev = _init(enc)
    z, _ = enc.apply(ev, 10 * jax.random.normal(jax.random.key(1), (5, *shape)), train=False)
    assert z.shape == (5, 12)
    if bounded:
        assert float(jnp.max(jnp.abs(z))) <= 1.0
    else:
        assert float(jnp.max(jnp.abs(z))) > 1.0  # the unbounded head reaches the N(0, I) bulk


def test_unknown_arch_message():
    with pytest.raises(ValueError, match="unknown architecture 'dcgan64'"):
        models.make_gan("dcgan64")


def _matmul_dtypes(fn, *args):
    """The operand dtypes of every convolution and dot_general in ``fn``'s program (sub-jaxprs
    of scan, cond, pjit, custom_vjp included)."""
    found = []

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            if eqn.primitive.name in ("conv_general_dilated", "dot_general"):
                found.append(tuple(str(v.aval.dtype) for v in eqn.invars))
            for param in eqn.params.values():
                for sub in param if isinstance(param, tuple | list) else (param,):
                    sub = getattr(sub, "jaxpr", sub)
                    if hasattr(sub, "eqns"):
                        walk(sub)

    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    return found


def test_bfloat16_compute_runs_every_matmul_in_bfloat16_and_keeps_float32_params():
    """compute_dtype=bfloat16 is really used: every convolution and matmul of both players
    takes bfloat16 operands (float32 ones without it), the outputs are float32, and they differ
    from the float32 model's by more than 0 and less than bfloat16's rounding allows."""
    gm = models.make_gan("dcgan28_light", latent_dim=8, compute_dtype=jnp.bfloat16)
    ref = models.make_gan("dcgan28_light", latent_dim=8)
    gv, dv = _init(gm.generator), _init(gm.discriminator)
    assert all(x.dtype == jnp.float32 for x in jax.tree_util.tree_leaves((gv, dv)))
    z = jax.random.normal(jax.random.key(1), (2, 8))
    images = jax.random.uniform(jax.random.key(2), (2, 28, 28, 1), minval=-1, maxval=1)

    def gen(m):
        return lambda v, z: m.generator.apply(v, z, train=False)[0]

    def critic(m):
        return lambda v, x: m.discriminator.apply(v, x, train=False)[0][0]

    for fn, v, x in ((gen, gv, z), (critic, dv, images)):
        low, full = _matmul_dtypes(fn(gm), v, x), _matmul_dtypes(fn(ref), v, x)
        assert len(low) == len(full) >= 3
        assert set(low) == {("bfloat16", "bfloat16")}
        assert set(full) == {("float32", "float32")}
        out, out32 = fn(gm)(v, x), fn(ref)(v, x)
        assert out.dtype == jnp.float32
        # Measured: 2.1e-3 (generator, tanh outputs) and 1.4e-3 (critic logits).
        assert 1e-5 < float(jnp.max(jnp.abs(out - out32))) < 6e-3


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["dcgan28", "dcgan28_light"])
def test_critic_training_program_keeps_convs_off_xla_loop_emitter(arch):
    """The critic's WGAN-GP gradient, inside lax.scan as in the training step, has no
    window-dilated or batch/feature-swapped kernel-gradient convolution: XLA:CPU ran those in
    its naive loop emitter at 60-550 ms a call (experiments/results/train_profile.md)."""
    if jax.default_backend() != "cpu":
        pytest.skip("'auto' picks XLA's own convolution off CPU")
    from anogan_jax.objectives import gradient_penalty

    d = models.make_gan(arch, latent_dim=8, objective="wgan_gp").discriminator
    params = _init(d)["params"]
    real = jax.random.uniform(jax.random.key(1), (1, 2, 28, 28, 1))

    def critic_grad(params, real):
        def loss(p):
            logit = lambda x: d.apply({"params": p, "batch_stats": {}}, x[None], train=True)
            gp = gradient_penalty(lambda x: logit(x)[0][0][0], real, real[::-1], jax.random.key(0))
            return gp + jnp.mean(d.apply({"params": p, "batch_stats": {}}, real, train=True)[0][0])

        return jax.tree_util.tree_map(lambda p, g: p - g, params, jax.grad(loss)(params)), None

    hlo = xla_cpu.jit(lambda p, r: jax.lax.scan(critic_grad, p, r)[0]).lower(params, real)
    convs = [line for line in hlo.compile().as_text().splitlines() if " convolution(" in line]
    slow = [c.strip()[:200] for c in convs if "rhs_dilate" in c or "->01bf" in c]
    assert not slow, slow


def test_generator_training_program_convs_are_canonical():
    """dcgan28's generator gradient at batch 64 as ``xla_cpu.jit`` compiles it: XLA's own
    convolutions (not YNNPACK), every one in the canonical NHWC x HWIO -> NHWC layout that its
    Eigen convolution runs, none over a zero-dilated input."""
    if jax.default_backend() != "cpu" or xla_cpu.compiler_options() is None:
        pytest.skip("XLA:CPU with the YNNPACK option only")
    g = models.make_gan("dcgan28").generator
    variables = _init(g)

    def grads(params, z):
        def loss(p):
            y, _ = g.apply({"params": p, "batch_stats": variables["batch_stats"]}, z, train=True)
            return jnp.sum(y**2)

        return jax.grad(loss)(params)

    hlo = xla_cpu.jit(grads).lower(variables["params"], jnp.ones((64, 100))).compile().as_text()
    convs = [line.strip()[:220] for line in hlo.splitlines() if " convolution(" in line]
    # 2 forward (the stride-1 layers; the strided ones are a dot and phase sums), 4 input
    # gradients, 2 kernel gradients (stride-1 layers; the strided layers' are dots).
    assert len(convs) == 8, convs
    assert not any("lhs_dilate" in c for c in convs), convs
    assert all("dim_labels=b01f_01io->b01f" in c for c in convs), convs
    assert "ynn_fusion" not in "".join(convs)
