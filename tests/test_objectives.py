import jax
import jax.numpy as jnp
import numpy as np
import pytest

from anogan_jax import objectives as obj


def test_minimax_and_non_saturating_at_known_logits():
    real, fake = jnp.array([0.0, 2.0]), jnp.array([0.0, -1.0])
    sig = jax.nn.sigmoid
    expected_d = -np.mean(np.log(sig(real))) - np.mean(np.log(1 - sig(fake)))
    for name in ("minimax", "non_saturating"):
        np.testing.assert_allclose(obj.get_objective(name).d_loss(real, fake), expected_d, 1e-6)
    np.testing.assert_allclose(
        obj.get_objective("minimax").g_loss(fake), np.mean(np.log(1 - sig(fake))), rtol=1e-6
    )
    np.testing.assert_allclose(
        obj.get_objective("non_saturating").g_loss(fake), -np.mean(np.log(sig(fake))), rtol=1e-6
    )
    # At logit 0 every BCE term is log 2.
    np.testing.assert_allclose(
        obj.get_objective("minimax").d_loss(jnp.zeros(3), jnp.zeros(3)), 2 * np.log(2), rtol=1e-6
    )


def test_lsgan_hinge_wgan_closed_forms():
    real, fake = jnp.array([1.0, 3.0]), jnp.array([-1.0, 0.5])
    assert obj.get_objective("lsgan").d_loss(real, fake) == pytest.approx(0.5 * 2 + 0.5 * 0.625)
    assert obj.get_objective("lsgan").g_loss(fake) == pytest.approx(0.5 * (4 + 0.25) / 2)
    assert obj.get_objective("hinge").d_loss(real, fake) == pytest.approx(0 + (0 + 1.5) / 2)
    assert obj.get_objective("wgan_gp").d_loss(real, fake) == pytest.approx(-0.25 - 2.0)
    assert obj.get_objective("wgan_gp").g_loss(fake) == pytest.approx(0.25)


@pytest.mark.parametrize("name", obj.OBJECTIVES)
@pytest.mark.parametrize("logit", [0.0, 50.0, -50.0])
def test_losses_and_gradients_finite_at_extreme_logits(name, logit):
    o = obj.get_objective(name)
    x = jnp.full((4,), logit)
    gd = jax.grad(lambda r, f: o.d_loss(r, f), argnums=(0, 1))(x, x)
    gg = jax.grad(o.g_loss)(x)
    for v in (o.d_loss(x, x), o.g_loss(x), *gd, gg):
        assert np.all(np.isfinite(v)), (name, logit)


def test_saturation_shows_where_expected():
    # The minimax G gradient vanishes for a confident critic (fake logit -50); the
    # non-saturating one does not: the reason the latter exists.
    x = jnp.array([-50.0])
    g_mm = jax.grad(obj.get_objective("minimax").g_loss)(x)
    g_ns = jax.grad(obj.get_objective("non_saturating").g_loss)(x)
    assert abs(float(g_mm[0])) < 1e-20 and float(g_ns[0]) == pytest.approx(-1.0)


def test_linear_critic_penalty_is_closed_form():
    # critic(x) = <w, x> has input-gradient w everywhere: penalty = (||w|| - 1)^2 exactly.
    w = jax.random.normal(jax.random.key(0), (5, 5, 1))
    real = jax.random.normal(jax.random.key(1), (6, 5, 5, 1))
    fake = jax.random.normal(jax.random.key(2), (6, 5, 5, 1))
    gp = obj.gradient_penalty(lambda x: jnp.sum(w * x), real, fake, jax.random.key(3))
    expected = (np.linalg.norm(np.asarray(w)) - 1.0) ** 2
    np.testing.assert_allclose(gp, expected, rtol=1e-5)


def test_penalty_alpha_is_per_sample_and_broadcast():
    # A critic that is quadratic in x has gradient 2x, so the penalty depends on x_hat and
    # reveals alpha: recover it and check it is one value per sample in [0, 1].
    real = jnp.ones((8, 3, 3, 1))
    fake = jnp.zeros((8, 3, 3, 1))
    key = jax.random.key(4)
    alpha = jax.random.uniform(key, (8, 1, 1, 1))
    per = jax.vmap(lambda x: (obj.safe_norm(2 * x) - 1) ** 2)(alpha * real)
    gp = obj.gradient_penalty(lambda x: jnp.sum(x**2), real, fake, key)
    np.testing.assert_allclose(gp, jnp.mean(per), rtol=1e-6)


def test_safe_norm_zero_gradient_is_not_nan():
    g = jax.grad(lambda x: obj.safe_norm(x))(jnp.zeros(4))
    assert np.all(g == 0)
    gp = obj.gradient_penalty(
        lambda x: 0.0 * jnp.sum(x),
        jnp.ones((2, 2, 2, 1)),
        jnp.zeros((2, 2, 2, 1)),
        jax.random.key(0),
    )
    assert float(gp) == pytest.approx(1.0)


def test_unknown_objective_message():
    with pytest.raises(ValueError, match="unknown objective 'wgan'.*wgan_gp"):
        obj.get_objective("wgan")


def test_default_optimizers_per_objective():
    _, _, n = obj.default_optimizers("wgan_gp")
    _, _, m = obj.default_optimizers("non_saturating")
    assert (n, m) == (5, 1)
