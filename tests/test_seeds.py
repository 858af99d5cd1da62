from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from anogan_jax import cli
from anogan_jax.runs.config import RunConfig, RunError
from anogan_jax.runs.gan import train_gan
from anogan_jax.runs.models import load_gan
from anogan_jax.runs.seeds import (
    fit_seeds,
    parse_seeds,
    seed_mode,
    seeds_step,
    stack,
    unstack,
)

TINY = ["--batch-size", "16", "--latent-dim", "8", "--quiet", "--checkpoint-every", "2"]


def _sample(models, state):
    z = jax.random.normal(jax.random.key(0), (4, 8))
    g_vars = {"params": state.g_params, "batch_stats": state.g_batch_stats}
    return models.generator.apply(g_vars, z, train=False)[0]


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["mlp", "dcgan28_light"])
def test_seeds_trained_together_equal_each_seed_alone(tmp_path, arch):
    args = ["train", "--arch", arch, "--steps", "3", *TINY]
    assert cli.main([*args, "--seeds", "0,3", "--out", str(tmp_path / "multi")]) == 0
    for seed in (0, 3):
        assert cli.main([*args, "--seed", str(seed), "--out", str(tmp_path / f"s{seed}")]) == 0
        alone = load_gan(tmp_path / f"s{seed}")[2]
        many = load_gan(tmp_path / "multi" / f"seed_{seed}")[2]
        assert int(alone.step) == int(many.step) == 3
        if seed_mode(arch) == "loop":
            # Looped seeds run the single-seed program itself: the whole state, optimiser
            # moments included, is bit-identical.
            pairs = zip(jax.tree.leaves(alone), jax.tree.leaves(many), strict=True)
            for a, b in pairs:
                np.testing.assert_array_equal(a, b)
            continue
        # Tolerance: vmap turns each matmul / conv into a batched one, which XLA may sum in
        # another order (float32 rounding). Where a gradient is at the level of rounding noise
        # (a bias right before BatchNorm has gradient exactly 0 in exact arithmetic) Adam
        # (b1 = 0.5) turns the noise into steps of at most about lr = 2e-4 in either direction,
        # so two runs can drift apart by 2 x 3 x lr = 1.2e-3 on a parameter in 3 steps. The
        # optimiser moments are gradient-sized and inherit that drift, so they are not compared;
        # BatchNorm's running statistics (activations of the drifted networks, ~0.1 in size)
        # agree to 5e-4 (measured up to 1.2e-4).
        for name in ("g_params", "d_params"):
            pairs = zip(*(jax.tree.leaves(getattr(s, name)) for s in (alone, many)), strict=True)
            for a, b in pairs:
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=1.2e-3, err_msg=name)
        for name in ("g_batch_stats", "d_batch_stats"):
            pairs = zip(*(jax.tree.leaves(getattr(s, name)) for s in (alone, many)), strict=True)
            for a, b in pairs:
                np.testing.assert_allclose(a, b, rtol=1e-3, atol=5e-4, err_msg=name)
        # What the networks compute: the drifted parameters move pixels of G(z) by up to
        # ~2e-3 on a [-1, 1] scale (measured on dcgan28_light: max 1.8e-3, mean 2.3e-4).
        models = load_gan(tmp_path / f"s{seed}")[1]
        diff = np.abs(_sample(models, alone) - _sample(models, many))
        assert diff.max() < 3e-3 and diff.mean() < 5e-4, (diff.max(), diff.mean())
    a0 = jax.tree.leaves(load_gan(tmp_path / "multi" / "seed_0")[2].g_params)
    a3 = jax.tree.leaves(load_gan(tmp_path / "multi" / "seed_3")[2].g_params)
    assert not all(np.array_equal(x, y) for x, y in zip(a0, a3, strict=True))


def test_resume_multi_seed_is_bit_identical(tmp_path):
    args = ["train", "--arch", "mlp", *TINY, "--seeds", "1,2"]
    assert cli.main([*args, "--steps", "4", "--out", str(tmp_path / "full")]) == 0
    assert cli.main([*args, "--steps", "2", "--out", str(tmp_path / "part")]) == 0
    assert cli.main([*args, "--steps", "4", "--out", str(tmp_path / "part"), "--resume"]) == 0
    for s in (1, 2):
        full = jax.tree.leaves(load_gan(tmp_path / "full" / f"seed_{s}")[2])
        part = jax.tree.leaves(load_gan(tmp_path / "part" / f"seed_{s}")[2])
        for a, b in zip(full, part, strict=True):
            np.testing.assert_array_equal(a, b)


def test_parse_seeds_and_stack_roundtrip():
    assert parse_seeds("0,1,2") == [0, 1, 2] and parse_seeds("2-4") == [2, 3, 4]
    for bad in ("a,b", "1,1", ""):
        with pytest.raises(RunError, match="--seeds"):
            parse_seeds(bad)
    trees = [{"w": np.full(3, i)} for i in range(4)]
    back = unstack(stack(trees), 4)
    for t, b in zip(trees, back, strict=True):
        np.testing.assert_array_equal(t["w"], b["w"])


def _scores(folder):
    """score column name -> values, from a score folder's scores.csv."""
    rows = [line.split(",") for line in (folder / "scores.csv").read_text().splitlines()]
    header, body = rows[0], rows[1:]
    return {h: np.array([float(r[i]) for r in body]) for i, h in enumerate(header) if i >= 4}


@pytest.mark.slow
def test_vmapped_encoders_and_scoring_equal_each_seed_alone(tmp_path):
    import shutil

    from anogan_jax.runs.encoder_run import load_encoder

    gan = ["train", "--arch", "mlp", "--steps", "3", *TINY, "--seeds", "0,3"]
    assert cli.main([*gan, "--out", str(tmp_path / "multi")]) == 0
    for s in (0, 3):  # the same GANs, to train each encoder alone
        shutil.copytree(tmp_path / "multi" / f"seed_{s}", tmp_path / f"alone_{s}")
    enc = ["train-encoder", "--steps", "3", "--batch-size", "16", "--lr", "1e-3", "--quiet"]
    assert cli.main([*enc, "--run", str(tmp_path / "multi"), "--seeds", "0,3"]) == 0
    for s in (0, 3):
        assert cli.main([*enc, "--run", str(tmp_path / f"alone_{s}")]) == 0
        config = load_gan(tmp_path / f"alone_{s}")[0]
        alone = load_encoder(tmp_path / f"alone_{s}", "izi_f", config)[1]
        many = load_encoder(tmp_path / "multi" / f"seed_{s}", "izi_f", config)[1]
        assert int(many.step) == 3
        # RMSProp divides by the gradient's running RMS, so float noise in a near-zero
        # gradient can become a step of up to lr = 1e-3: 3 steps bound the drift by 3e-3.
        for a, b in zip(jax.tree.leaves(alone), jax.tree.leaves(many), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=3e-3)
        # Score the vmapped encoders alone too: copy each seed after its encoder exists.
        shutil.copytree(tmp_path / "multi" / f"seed_{s}", tmp_path / f"scored_{s}")
    methods = {
        "anogan": ["--method", "anogan", "--num-steps", "4"],
        "fanogan": ["--method", "fanogan", "--kappa", "calibrated"],
        "hybrid": ["--method", "anogan", "--init", "encoder", "--num-steps", "4"],
    }
    common = ["score", "--batch-size", "32", "--limit", "50", "--val-images", "8", "--quiet"]
    for name, extra in methods.items():
        out = tmp_path / "scores" / name
        argv = [*common, *extra, "--run", str(tmp_path / "multi"), "--out", str(out)]
        assert cli.main([*argv, "--seeds", "0,3"]) == 0
        for s in (0, 3):
            alone_out = tmp_path / "scores_alone" / f"{name}_{s}"
            argv = [*common, *extra, "--run", str(tmp_path / f"scored_{s}")]
            assert cli.main([*argv, "--out", str(alone_out)]) == 0
            a, b = _scores(alone_out), _scores(out / f"seed_{s}")
            assert a.keys() == b.keys() and len(a["A"]) == 50 + 8
            # A few Adam steps on z (lr 0.05) from the same start: the vmapped program sums
            # in another order, so scores agree to float32 rounding amplified by the steps.
            for k in a:
                np.testing.assert_allclose(a[k], b[k], rtol=1e-4, atol=1e-5, err_msg=k)
    # The seeds' GANs differ, so their scores do too.
    s0, s3 = (_scores(tmp_path / "scores" / "anogan" / f"seed_{s}")["A"] for s in (0, 3))
    assert not np.allclose(s0, s3)


@pytest.mark.slow
def test_multi_seed_scoring_resumes_and_refuses_other_settings(tmp_path, capsys):
    import shutil

    gan = ["train", "--arch", "mlp", "--steps", "2", *TINY, "--seeds", "1,2"]
    assert cli.main([*gan, "--out", str(tmp_path / "m")]) == 0
    argv = ["score", "--run", str(tmp_path / "m"), "--num-steps", "2", "--batch-size", "16"]
    argv += ["--limit", "40", "--val-images", "8", "--quiet"]
    assert cli.main([*argv, "--seeds", "1,2", "--out", str(tmp_path / "full")]) == 0
    # A run stopped after its first batch: one part kept, later parts and reports gone.
    shutil.copytree(tmp_path / "full", tmp_path / "part")
    parts = sorted((tmp_path / "part" / "parts").glob("*.npz"))
    assert len(parts) == 3  # 40 test + 8 val images in batches of 16
    for p in parts[1:]:
        p.unlink()
    for s in (1, 2):
        shutil.rmtree(tmp_path / "part" / f"seed_{s}")
    resume = [*argv, "--out", str(tmp_path / "part"), "--resume"]
    assert cli.main([*resume, "--seeds", "1,2"]) == 0
    for s in (1, 2):
        full = (tmp_path / "full" / f"seed_{s}" / "scores.csv").read_bytes()
        assert full == (tmp_path / "part" / f"seed_{s}" / "scores.csv").read_bytes()
    capsys.readouterr()
    assert cli.main([*resume, "--seeds", "1,2,3"]) == 2
    assert "seed_3 does not exist" in capsys.readouterr().err  # checked before any setting
    shutil.copytree(tmp_path / "m" / "seed_2", tmp_path / "m" / "seed_3")
    assert cli.main([*resume, "--seeds", "1,2,3"]) == 2
    assert "'seeds': ([1, 2], [1, 2, 3])" in capsys.readouterr().err
    assert cli.main([*resume, "--seeds", "1,2", "--devices", "2"]) == 2
    assert "--seeds runs on one device" in capsys.readouterr().err


def test_seeds_must_share_every_setting_but_the_seed():
    from anogan_jax.runs.config import RunConfig, check_same_settings

    a, b = RunConfig(seed=0), RunConfig(seed=1)
    check_same_settings([a, b], ["r/seed_0", "r/seed_1"], "hint")  # only the seed differs
    with pytest.raises(
        RunError,
        match=r"r/seed_1 has other settings than r/seed_0 \(steps 7, not 2000\), and only "
        r"seed may differ; hint",
    ):
        check_same_settings([a, RunConfig(seed=1, steps=7)], ["r/seed_0", "r/seed_1"], "hint")


class _Toy(NamedTuple):
    step: jax.Array
    w: jax.Array


def _toy_step(state, batch, key):
    """A step with a matmul, a key and a batch, so the seeds' paths really differ."""
    noise = jax.random.normal(key, state.w.shape) * 1e-3
    grad = batch.T @ (batch @ state.w) / batch.shape[0]
    w = state.w - 0.1 * grad + noise
    return _Toy(state.step + 1, w), {"loss": jnp.sum(w**2), "finite": jnp.all(jnp.isfinite(w))}


@pytest.mark.parametrize("mode", ["vmap", "loop"])
def test_fit_seeds_forms_agree_and_loop_is_each_seed_alone(mode):
    n, steps = 3, 5
    states = [_Toy(jnp.asarray(0), jnp.full((4, 2), float(s + 1))) for s in range(n)]
    batch_fns = [lambda i, s=s: np.full((8, 4), 0.1 * (i + s), np.float32) for s in range(n)]
    keys = [jax.random.key(10 + s) for s in range(n)]
    logged, synced = [[] for _ in range(n)], [[] for _ in range(n)]
    finals = fit_seeds(
        _toy_step, states, batch_fns, keys, mode=mode,
        on_log_each=[lambda st, m, r, s=s: logged[s].append((st, m["loss"])) for s in range(n)],
        on_sync_each=[lambda st, x, s=s: synced[s].append((st, float(x.w[0, 0])))
                      for s in range(n)],
        sync_at=lambda st: st == 2, num_steps=steps, log_every=5, progress=False,
    )  # fmt: skip
    assert len(finals) == n
    for s in range(n):
        alone, one = states[s], jax.jit(_toy_step)
        for i in range(steps):
            alone, metrics = one(alone, batch_fns[s](i), keys[s])
            if i == 1:
                at_sync = float(alone.w[0, 0])
        assert int(finals[s].step) == steps
        if mode == "loop":
            np.testing.assert_array_equal(finals[s].w, alone.w)
        else:
            np.testing.assert_allclose(finals[s].w, alone.w, rtol=1e-6)
        assert [st for st, _ in logged[s]] == [5]
        np.testing.assert_allclose(logged[s][0][1], float(metrics["loss"]), rtol=1e-6)
        assert [st for st, _ in synced[s]] == [2, 5]
        np.testing.assert_allclose(synced[s][0][1], at_sync, rtol=1e-6)
    assert not np.array_equal(finals[0].w, finals[1].w)


def test_seeds_step_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="unknown seed mode 'pmap'"):
        seeds_step(_toy_step, "pmap", 2, None)


def test_seed_mode_by_backend_and_its_override(monkeypatch):
    """Conv models loop on CPU, the MLP vmaps; ANOGAN_JAX_SEED_MODE overrides either, is
    recorded with a cell's provenance, and a wrong value is refused with the choices."""
    from anogan_jax.runs import provenance

    monkeypatch.delenv("ANOGAN_JAX_SEED_MODE", raising=False)
    cpu = jax.default_backend() == "cpu"
    assert (seed_mode("mlp"), seed_mode("dcgan28_light")) == ("vmap", "loop" if cpu else "vmap")
    assert "ANOGAN_JAX_SEED_MODE" not in provenance.settings()
    monkeypatch.setenv("ANOGAN_JAX_SEED_MODE", "vmap")
    assert seed_mode("dcgan28_light") == "vmap"
    assert "ANOGAN_JAX_SEED_MODE=vmap" in provenance.settings()
    monkeypatch.setenv("ANOGAN_JAX_SEED_MODE", "loop")
    assert seed_mode("mlp") == "loop"
    monkeypatch.setenv("ANOGAN_JAX_SEED_MODE", "pmap")
    with pytest.raises(RunError, match="'pmap' is not one of"):
        seed_mode("mlp")


@pytest.mark.slow
def test_one_class_anomalous_seeds_score_together_on_their_own_splits(tmp_path):
    """Each seed of one-class-anomalous has its own test set; with --limit 30 the per-class
    rounded shares of digits' class 0 add up to 30 for seed 0 and 29 for seed 1, which stopped
    a multi-seed score ("different numbers of images"). Every seed now scores exactly 30."""
    gan = ["train", "--arch", "mlp", "--steps", "2", *TINY, "--seeds", "0,1"]
    assert cli.main([*gan, "--protocol", "one_class_anomalous", "--out", str(tmp_path / "m")]) == 0
    argv = ["score", "--run", str(tmp_path / "m"), "--num-steps", "2", "--batch-size", "16"]
    argv += ["--limit", "30", "--val-images", "8", "--quiet", "--seeds", "0,1"]
    assert cli.main([*argv, "--out", str(tmp_path / "s")]) == 0
    tests = []
    for s in (0, 1):
        rows = (tmp_path / "s" / f"seed_{s}" / "scores.csv").read_text().splitlines()[1:]
        tests.append({r.split(",")[0] for r in rows if r.split(",")[1] == "test"})
    assert [len(t) for t in tests] == [30, 30] and tests[0] != tests[1]


def test_seeds_trained_together_refuse_devices_and_fid_before_writing(tmp_path):
    """``train_gan`` given seeds runs them on one device, without FID: asked for either, it
    refuses naming both, and writes nothing."""
    config = RunConfig(arch="mlp", batch_size=16, latent_dim=8, steps=1)
    for extra in ({"devices": 2}, {"fid_every": 5}):
        with pytest.raises(RunError, match="drop devices and fid_every"):
            train_gan(config, tmp_path / "out", seeds=[0, 1], progress=False, **extra)
    assert not (tmp_path / "out").exists()
