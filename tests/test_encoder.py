import types

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from anogan_jax import cli
from anogan_jax.encoder import MODES, make_encoder_step, near_bound_share
from anogan_jax.models import Network
from anogan_jax.runs.encoder_run import load_encoder
from anogan_jax.runs.models import load_gan
from anogan_jax.state import init_encoder_state

A = np.asarray(jax.random.normal(jax.random.key(0), (16, 4)))


def _linear_models():
    """G(z) = A z as a 4x4 image; an identity 'discriminator' (features = pixels)."""
    gen = Network(
        lambda key: {"params": {}, "batch_stats": {}},
        lambda v, z, train, key=None: ((z @ A.T).reshape(-1, 4, 4, 1), {}),
    )
    disc = Network(
        lambda key: {"params": {}, "batch_stats": {}},
        lambda v, x, train, key=None: ((x.sum((1, 2, 3)), x.reshape(len(x), -1)), {}),
    )
    enc = Network(
        lambda key: {"params": {"B": jnp.zeros((16, 4))}, "batch_stats": {}},
        lambda v, x, train, key=None: (x.reshape(len(x), -1) @ v["params"]["B"], {}),
    )
    models = types.SimpleNamespace(generator=gen, discriminator=disc, latent_dim=4)
    return models, enc


@pytest.mark.parametrize("mode", ["ziz", "izi"])
def test_linear_generator_encoder_learns_the_inverse(mode):
    # For G(z) = A z the best linear encoder inverts G on its range: A^T B = I (closed form
    # B = pinv(A)^T is one solution; Adam may find another with A^T B = I). ziz learns it
    # from prior draws; izi from images G(z) alone.
    models, enc = _linear_models()
    tx = optax.adam(0.02)
    state = init_encoder_state(enc, tx, jax.random.key(1))
    step = make_encoder_step(mode, enc, models, tx)
    frozen = ({"params": {}, "batch_stats": {}},) * 2
    key = jax.random.key(2)
    for i in range(600):
        z = jax.random.normal(jax.random.fold_in(key, 10_000 + i), (32, 4))
        batch = models.generator.apply(None, z, train=False)[0][None]
        state, m = step(state, frozen, batch, key)
    product = A.T @ np.asarray(state.e_params["B"])
    np.testing.assert_allclose(product, np.eye(4), atol=2e-2)
    assert float(m["loss"]) < 1e-3


def test_step_does_not_retrace_and_rejects_unknown_mode():
    models, enc = _linear_models()
    tx = optax.adam(0.01)
    raw = make_encoder_step("izi_f", enc, models, tx, jit=False)
    step = jax.jit(chex.assert_max_traces(n=1)(raw))
    state = init_encoder_state(enc, tx, jax.random.key(1))
    frozen = ({"params": {}, "batch_stats": {}},) * 2
    for i in range(3):
        batch = jax.random.normal(jax.random.key(i), (1, 8, 4, 4, 1))
        state, m = step(state, frozen, batch, jax.random.key(0))
    assert set(m) == {"loss", "img_mse", "feat_mse", "finite"}
    np.testing.assert_allclose(m["loss"], m["img_mse"] + m["feat_mse"], rtol=1e-6)
    chex.clear_trace_counter()
    with pytest.raises(ValueError, match="unknown encoder mode"):
        make_encoder_step("zz", enc, models, tx)
    assert set(MODES) == {"izi", "ziz", "izi_f"}


def test_near_bound_share():
    assert near_bound_share(np.array([0.0, 0.995, -1.0, 0.5]), bounded=True) == 0.5
    assert near_bound_share(np.array([0.0, 5.0, -1.0, 0.5]), bounded=False) == 0.25


TRAIN = ["train", "--arch", "mlp", "--batch-size", "16", "--latent-dim", "8", "--quiet"]
ENC = ["train-encoder", "--batch-size", "16", "--checkpoint-every", "3", "--quiet"]


@pytest.mark.slow
def test_encoder_cli_frozen_gan_resume_and_scoring(tmp_path):
    run = tmp_path / "r"
    assert cli.main([*TRAIN, "--steps", "3", "--out", str(run)]) == 0
    gan_before = jax.tree.leaves(load_gan(run)[2])
    other = tmp_path / "r2"
    assert cli.main([*TRAIN, "--steps", "3", "--out", str(other)]) == 0
    assert cli.main([*ENC, "--run", str(run), "--steps", "6", "--lr", "1e-3"]) == 0
    # Same run, stopped at 3 and resumed to 6: bit-identical encoder.
    assert cli.main([*ENC, "--run", str(other), "--steps", "3", "--lr", "1e-3"]) == 0
    assert cli.main([*ENC, "--run", str(other), "--steps", "6", "--resume"]) == 0
    rc, _, _ = load_gan(run)
    a, b = load_encoder(run, "izi_f", rc)[1], load_encoder(other, "izi_f", rc)[1]
    assert int(a.step) == int(b.step) == 6
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)
    for x, y in zip(gan_before, jax.tree.leaves(load_gan(run)[2]), strict=True):
        np.testing.assert_array_equal(x, y)  # G and D untouched by encoder training
    assert (run / "encoder_izi_f" / "reconstructions.png").exists()
    out = tmp_path / "f"
    score = ["score", "--run", str(run), "--method", "fanogan", "--out", str(out), "--quiet"]
    assert cli.main(score) == 0
    assert (out / "extremes.png").exists()
    hybrid = ["score", "--run", str(run), "--init", "encoder", "--num-steps", "3", "--quiet"]
    assert cli.main([*hybrid, "--limit", "40", "--out", str(tmp_path / "h")]) == 0
