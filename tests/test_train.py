import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from anogan_jax import models, objectives
from anogan_jax.loop import NonFiniteError, fit, host_metrics, nonfinite_message
from anogan_jax.state import init_gan_state
from anogan_jax.train import make_gan_step

B = 8


def _setup(objective="non_saturating", arch="mlp", update="alternating", n_critic=None, lr=None):
    gm = models.make_gan(arch, latent_dim=8, objective=objective)
    g_tx, d_tx, default_n = objectives.default_optimizers(objective, g_lr=lr, d_lr=lr)
    n = n_critic or min(default_n, 2)  # 2 critic updates keep the tests fast
    step = make_gan_step(
        objectives.get_objective(objective), gm, g_tx, d_tx, n_critic=n, update=update
    )
    state = init_gan_state(gm, g_tx, d_tx, jax.random.key(0))
    return gm, step, state, n


def _batches(n_critic, num=4):
    x = jax.random.uniform(jax.random.key(1), (num, n_critic, B, 28, 28, 1), minval=-1, maxval=1)
    return np.asarray(x)


def _run(step, state, batches, num):
    key = jax.random.key(7)
    for i in range(num):
        state, metrics = step(state, batches[i], key)
    return state, metrics


def _leaves_equal(a, b):
    return all(
        np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


@pytest.mark.parametrize("objective", objectives.OBJECTIVES)
def test_each_objective_trains_and_changes_both_players(objective):
    gm, step, state, n = _setup(objective)
    before = jax.tree.map(np.asarray, (state.g_params, state.d_params))
    state, metrics = _run(step, state, _batches(n), 3)
    assert int(state.step) == 3
    assert bool(metrics["finite"])
    assert not _leaves_equal(before[0], state.g_params)
    assert not _leaves_equal(before[1], state.d_params)
    if objective == "wgan_gp":
        assert float(metrics["gp"]) > 0.0


def test_same_seed_bit_identical_and_other_seed_differs():
    _, step, s1, n = _setup()
    _, _, s2, _ = _setup()
    b = _batches(n)
    s1, _ = _run(step, s1, b, 3)
    s2, _ = _run(step, s2, b, 3)
    assert _leaves_equal(s1, s2)
    s3, _ = step(s1, b[3], jax.random.key(8))
    s4, _ = step(s2, b[3], jax.random.key(7))
    assert not _leaves_equal(s3.g_params, s4.g_params)


def test_no_retrace_across_steps():
    gm = models.make_gan("mlp", latent_dim=8)
    g_tx, d_tx, _ = objectives.default_optimizers("non_saturating")
    obj = objectives.get_objective("non_saturating")
    raw = make_gan_step(obj, gm, g_tx, d_tx, n_critic=1, jit=False)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(state, batch, key):
        return raw(state, batch, key)

    state = init_gan_state(gm, g_tx, d_tx, jax.random.key(0))
    b = _batches(1)
    for i in range(4):
        state, _ = step(state, b[i], jax.random.key(1))
    chex.clear_trace_counter()


@pytest.mark.slow
def test_wgan_gp_with_five_critic_updates_on_conv_critic():
    gm, step, state, n = _setup("wgan_gp", arch="dcgan28_light", n_critic=5)
    state, m = _run(step, state, _batches(5, 1), 1)
    assert bool(m["finite"]) and float(m["gp"]) > 0


@pytest.mark.parametrize("objective", ["non_saturating", "hinge"])
def test_merged_update_equals_a_joint_reference_with_the_same_keys(objective):
    """``--update merged`` is one joint update: the critic's gradient is jax.grad of the critic
    loss at the ONE fake batch (nothing of the generator term), and the generator's is jax.grad
    of the generator loss through the critic BEFORE its update (nothing of the critic term), on
    the same z and keys. A reference written per player gives the same gradients, parameters
    and losses to float32 tolerance (SGD(lr 1) after a transformation that keeps each gradient
    in the optimiser state)."""
    import optax

    from anogan_jax.prior import sample_prior

    gm = models.make_gan("mlp", latent_dim=8, objective=objective)
    obj = objectives.get_objective(objective)
    keep = optax.GradientTransformation(
        lambda params: jax.tree.map(jnp.zeros_like, params), lambda g, state, params=None: (g, g)
    )
    tx = optax.chain(keep, optax.sgd(1.0))
    step = make_gan_step(obj, gm, tx, tx, n_critic=1, update="merged")
    state = init_gan_state(gm, tx, tx, jax.random.key(0))
    batch = _batches(1, 1)[0]
    key = jax.random.key(7)
    new, metrics = step(jax.tree.map(jnp.copy, state), batch, key)

    # The reference: each player's loss differentiated on its own, keys as the step draws them.
    k_z, k_loss, k_g = jax.random.split(jax.random.fold_in(key, 0), 3)
    z = sample_prior(k_z, (B, 8), "normal")

    def gen(gp):
        return gm.generator.apply({"params": gp, "batch_stats": state.g_batch_stats}, z, train=True)

    def d_apply(dp, x, k):
        variables = {"params": dp, "batch_stats": state.d_batch_stats}
        return gm.discriminator.apply(variables, x, train=True, key=k)

    fake, g_bs = gen(state.g_params)

    def d_loss_fn(dp):
        k_real, k_fake, _ = jax.random.split(k_loss, 3)
        real_logit = d_apply(dp, batch[0], k_real)[0][0]
        fake_logit = d_apply(dp, fake, k_fake)[0][0]
        return obj.d_loss(real_logit, fake_logit)

    def g_loss_fn(gp):
        return obj.g_loss(d_apply(state.d_params, gen(gp)[0], k_g)[0][0])

    d_loss, d_grads = jax.value_and_grad(d_loss_fn)(state.d_params)
    g_loss, g_grads = jax.value_and_grad(g_loss_fn)(state.g_params)
    np.testing.assert_allclose(metrics["d_loss"], d_loss, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(metrics["g_loss"], g_loss, rtol=1e-5, atol=1e-7)
    for got, want, params, before in (
        (new.g_opt_state[0], g_grads, new.g_params, state.g_params),
        (new.d_opt_state[0], d_grads, new.d_params, state.d_params),
    ):
        scale = max(float(np.max(np.abs(g))) for g in jax.tree.leaves(want))
        assert scale > 0
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            assert float(np.max(np.abs(a - b))) <= 1e-5 * scale
        stepped = jax.tree.map(jnp.subtract, before, want)
        for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(stepped), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * scale)
    for a, b in zip(jax.tree.leaves(g_bs), jax.tree.leaves(new.g_batch_stats), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
    assert int(new.step) == 1 and bool(metrics["finite"])
    with pytest.raises(ValueError, match="n_critic=1"):
        make_gan_step(obj, gm, tx, tx, n_critic=2, update="merged")


def test_fit_stops_at_first_nonfinite_step():
    _, step, state, n = _setup(lr=1e30)
    b = _batches(n, 8)
    with pytest.raises(NonFiniteError, match=r"at step \d+ .*Try: "):
        fit(state, step, lambda i: b[i % 8], jax.random.key(0), num_steps=8, progress=False)


def test_fit_names_the_known_first_nonfinite_step_between_syncs():
    """A NaN batch at index 5 makes step 6 the first non-finite one; with logs every 4 steps
    the check runs at step 8 and names step 6 with step 6's own metrics (not the last step's,
    nor none); no callback sees step 6 or later."""
    _, step, state, n = _setup()
    b = np.array(_batches(n, 8))
    b[5, 0, 0, 0, 0, 0] = np.nan
    key = jax.random.key(0)
    ref = jax.tree.map(jnp.array, state)  # ``step`` donates the state it is given
    for i in range(6):
        ref, ref_metrics = step(ref, b[i], key)
    want = host_metrics(ref_metrics)
    assert not np.isfinite(want["d_loss"]) and {"d_loss", "g_loss"} <= set(want)
    seen = []
    with pytest.raises(NonFiniteError) as err:
        fit(
            state,
            step,
            lambda i: b[i],
            key,
            num_steps=8,
            log_every=4,
            on_log=lambda s, m, r: seen.append(s),
            progress=False,
        )
    assert str(err.value) == nonfinite_message(6, want, "a lower learning rate")
    assert "d_loss=nan" in str(err.value) and "g_loss=" in str(err.value)
    assert seen == [4]


def test_fit_resume_is_bit_identical():
    _, step, state, n = _setup()
    b = _batches(n, 6)
    batch_fn = lambda i: b[i]  # noqa: E731
    key = jax.random.key(5)
    full = fit(state, step, batch_fn, key, num_steps=6, progress=False)
    _, step2, state2, _ = _setup()
    half = fit(state2, step2, batch_fn, key, num_steps=3, progress=False)
    half = jax.tree.map(jnp.array, jax.device_get(half))  # as if restored from disk
    resumed = fit(half, step2, batch_fn, key, num_steps=6, progress=False)
    assert _leaves_equal(full, resumed)


REUSE_CASES = [
    (objective, arch)
    for arch in ("mlp", "dcgan28_light")
    for objective in ("non_saturating", "minimax", "lsgan", "hinge")
]


@pytest.mark.parametrize(
    "objective, arch",
    [
        # The conv model's objectives (12-30 s each) run with the slow suite.
        pytest.param(o, a, marks=pytest.mark.slow) if a == "dcgan28_light" else (o, a)
        for o, a in REUSE_CASES
    ],
)
def test_reuse_update_matches_a_reference_that_recomputes_the_generator(objective, arch):
    """The reuse update's generator gradient (the saved VJP of the one forward, through the
    updated critic) equals a plain gradient that runs the generator forward again on the same
    z; critic update, BatchNorm statistics and losses are those of that one forward. With
    SGD(lr 1) after a transformation that keeps each gradient in the optimiser state."""
    import optax

    from anogan_jax.prior import sample_prior

    gm = models.make_gan(arch, latent_dim=8, objective=objective)
    obj = objectives.get_objective(objective)
    keep = optax.GradientTransformation(
        lambda params: jax.tree.map(jnp.zeros_like, params), lambda g, state, params=None: (g, g)
    )
    tx = optax.chain(keep, optax.sgd(1.0))
    step = make_gan_step(obj, gm, tx, tx, n_critic=1, update="reuse")
    state = init_gan_state(gm, tx, tx, jax.random.key(0))
    batch = _batches(1, 1)[0]
    key = jax.random.key(7)
    new, metrics = step(jax.tree.map(jnp.copy, state), batch, key)

    # The reference, written without the reuse.
    k_z, k_loss, k_g = jax.random.split(jax.random.fold_in(key, 0), 3)
    z = sample_prior(k_z, (B, 8), "normal")

    def gen(gp):
        return gm.generator.apply({"params": gp, "batch_stats": state.g_batch_stats}, z, train=True)

    def d_apply(dp, bs, x, k):
        return gm.discriminator.apply({"params": dp, "batch_stats": bs}, x, train=True, key=k)

    fake, g_bs = gen(state.g_params)

    def d_loss_fn(dp):
        k_real, k_fake, _ = jax.random.split(k_loss, 3)
        (real_logit, _), bs = d_apply(dp, state.d_batch_stats, batch[0], k_real)
        (fake_logit, _), bs = d_apply(dp, bs, fake, k_fake)
        return obj.d_loss(real_logit, fake_logit), bs

    (d_loss, d_bs), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(state.d_params)
    d_params = jax.tree.map(jnp.subtract, state.d_params, d_grads)

    def g_loss_fn(gp):
        (fake_logit, _), _ = d_apply(d_params, d_bs, gen(gp)[0], k_g)
        return obj.g_loss(fake_logit)

    g_loss, g_grads = jax.value_and_grad(g_loss_fn)(state.g_params)
    np.testing.assert_allclose(metrics["d_loss"], d_loss, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(metrics["g_loss"], g_loss, rtol=1e-5, atol=1e-7)
    for got, want in ((new.g_opt_state[0], g_grads), (new.d_opt_state[0], d_grads)):
        # float32 rounding of sums in another order, relative to the player's largest
        # gradient (a bias right before BatchNorm has an exact gradient of 0: pure noise)
        scale = max(float(np.max(np.abs(g))) for g in jax.tree.leaves(want))
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            assert float(np.max(np.abs(a - b))) <= 1e-4 * scale
    for a, b in zip(jax.tree.leaves(g_bs), jax.tree.leaves(new.g_batch_stats), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
    assert int(new.step) == 1 and bool(metrics["finite"])
    with pytest.raises(ValueError, match="n_critic=1"):
        make_gan_step(obj, gm, tx, tx, n_critic=2, update="reuse")
