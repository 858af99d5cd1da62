"""The benchmark scripts run end to end in --quick mode and write their JSON and markdown
(no timing is asserted: speed targets live in the scripts' results, not in tests); the PyTorch
twin of resnet64 computes what the JAX networks compute."""

import json

import numpy as np
import pytest

from experiments import bench_latent_search, bench_train


@pytest.mark.slow
def test_bench_train_quick_writes_results(tmp_path):
    argv = ["--quick", "--allow-busy", "--no-torch", "--archs", "mlp"]
    argv += ["--objectives", "non_saturating,wgan_gp", "--updates", "alternating,reuse"]
    bench_train.main([*argv, "--out", str(tmp_path / "t")])
    payload = json.loads((tmp_path / "t.json").read_text())
    assert payload["benchmark"] == "bench_train" and payload["quick"] is True
    assert len(payload["load"]["after"]) == 3 and payload["matmul_peak"]["jax_gflops"] > 0
    rows = [(r["arch"], r["objective"], r["update"]) for r in payload["rows"]]
    # reuse shares one generator pass, so it has no wgan_gp (n_critic 5) row
    assert rows == [("mlp", "non_saturating", "alternating"), ("mlp", "non_saturating", "reuse"),
                    ("mlp", "wgan_gp", "alternating")]  # fmt: skip
    assert all(r["jax"]["steps_per_s"] > 0 for r in payload["rows"])
    assert "| mlp | non_saturating | reuse |" in (tmp_path / "t.md").read_text()


@pytest.mark.slow
def test_bench_seeds_quick_writes_results(tmp_path):
    from experiments import bench_seeds

    argv = ["--quick", "--allow-busy", "--archs", "mlp", "--seeds", "1,2"]
    bench_seeds.main([*argv, "--out", str(tmp_path / "s")])
    payload = json.loads((tmp_path / "s.json").read_text())
    assert [(r["arch"], r["S"]) for r in payload["rows"]] == [("mlp", 1), ("mlp", 2)]
    for r in payload["rows"]:
        assert r["vmapped_seed_steps_per_s"] > 0 and r["mapped_seed_steps_per_s"] > 0
        assert r["vmapped_memory_mb"] > 0
    assert "| mlp | 2 |" in (tmp_path / "s.md").read_text()


@pytest.mark.slow
def test_bench_latent_search_quick_writes_results(tmp_path):
    argv = ["--quick", "--allow-busy", "--no-torch", "--archs", "dcgan28_light"]
    bench_latent_search.main([*argv, "--batches", "1,4", "--out", str(tmp_path / "s")])
    payload = json.loads((tmp_path / "s.json").read_text())
    assert payload["benchmark"] == "bench_latent_search" and payload["torch"] is False
    assert set(payload["archs"]) == {"dcgan28_light"}
    programs = [(r["program"], r["batch"]) for r in payload["rows"]]
    assert programs == [("batched", 1), ("batched", 4), ("loop", 1),
                        ("fanogan_score", 4), ("encoder_init_search", 4)]  # fmt: skip
    assert payload["rows"][1]["jax_img_s"] > 0 and payload["rows"][3]["jax_img_s"] > 0
    assert "| dcgan28_light | batched | 4 |" in (tmp_path / "s.md").read_text()


@pytest.mark.slow
def test_bench_latent_search_64_quick_writes_results(tmp_path):
    pytest.importorskip("torch")
    argv = ["--quick", "--allow-busy", "--archs", "resnet64", "--out", str(tmp_path / "s")]
    bench_latent_search.main(argv)
    payload = json.loads((tmp_path / "s.json").read_text())
    assert payload["settings"]["resnet64"]["width"] == 8 and payload["torch"] is True
    rows = payload["rows"]
    assert [(r["arch"], r["program"], r["batch"]) for r in rows] == [
        ("resnet64", "batched", 2),
        ("resnet64", "fanogan_score", 2),
    ]
    for r in rows:
        assert r["jax_img_s"] > 0 and r["torch_img_s"] > 0
        assert r["ratio_min"] <= r["jax_over_torch"] <= r["ratio_max"]
    md = (tmp_path / "s.md").read_text()
    assert "| resnet64 | fanogan_score | 2 |" in md and "--archs resnet64" in md


def _random_variables(network, rng):
    """Variables of ``network`` in the shapes its ``init`` gives, drawn with numpy (compiling
    resnet64's init takes longer than this whole test): no scale 1 / bias 0 / mean 0 / var 1
    left for a wrong mapping to hide behind."""
    import jax

    def draw(path, leaf):
        name, shape = path[-1].key, leaf.shape
        if name == "kernel":
            return rng.normal(size=shape) / np.sqrt(np.prod(shape[:-1]))
        if name == "var":
            return rng.uniform(0.5, 1.5, shape)
        return (name == "scale") + 0.1 * rng.normal(size=shape)

    shapes = jax.eval_shape(network.init, jax.random.key(0))
    return jax.tree_util.tree_map_with_path(lambda p, x: draw(p, x).astype(np.float32), shapes)


def _assert_close(got, want, tol=1e-4):
    """max |got - want| <= tol * max |want| (a relative error that near-zero entries leave
    meaningful)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    err, scale = np.max(np.abs(got - want)), np.max(np.abs(want))
    assert err <= tol * scale, f"max error {err:.3g} > {tol} * {scale:.3g}"


@pytest.mark.slow
def test_resnet64_torch_twin_matches_jax():
    """The PyTorch resnet64 (width 8, 64x64x3, z 128) loaded from JAX variables computes the
    same generator, critic (logit, features), encoder, f-AnoGAN scores and 3-step latent
    search as JAX, to float32 rounding."""
    torch = pytest.importorskip("torch")
    import jax

    from anogan_jax.encoder import make_fanogan_scorer
    from anogan_jax.latent_search import make_search
    from anogan_jax.models import make_encoder, make_gan
    from experiments import torch_models

    kw = {"image_shape": (64, 64, 3), "latent_dim": 128, "width": 8}
    models, encoder = make_gan("resnet64", **kw), make_encoder("resnet64", **kw)
    rng = np.random.default_rng(0)
    g_vars, d_vars = (
        _random_variables(models.generator, rng),
        _random_variables(models.discriminator, rng),
    )
    e_params = _random_variables(encoder, rng)["params"]
    g, d, e = torch_models.load_resnet64(g_vars, d_vars, e_params)
    x = rng.uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    z0 = rng.normal(size=(2, 128)).astype(np.float32)
    tx, tz0 = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), torch.from_numpy(z0)

    with torch.no_grad():
        t_gz, (t_logit, t_features), t_ez = g(tz0), d(tx), e(tx)
    gz = jax.jit(lambda v, z: models.generator.apply(v, z, train=False)[0])(g_vars, z0)
    _assert_close(t_gz.numpy().transpose(0, 2, 3, 1), gz)
    (logit, features), _ = jax.jit(lambda v, x: models.discriminator.apply(v, x, train=False))(
        d_vars, x
    )
    _assert_close(t_logit, logit)
    _assert_close(torch_models.hwc_features(t_features), features)
    assert features.shape == (2, 4 * 4 * 64)

    want = make_fanogan_scorer(encoder, models)(e_params, (g_vars, d_vars), x)
    got = bench_latent_search.torch_fanogan_score(torch, e, g, d, tx)
    _assert_close(t_ez, encoder.apply({"params": e_params, "batch_stats": {}}, x, train=False)[0])
    for name in ("img_mse", "feat_mse", "z_mse", "z"):
        _assert_close(got[name], want[name])

    search = make_search(
        models, num_steps=3, lr=bench_latent_search.LR, lam=bench_latent_search.LAM
    )
    result = search(g_vars, d_vars, x, z0)
    z, loss = bench_latent_search.torch_search(torch, g, d, tx, tz0, 3)
    _assert_close(z, result.z)
    _assert_close(loss, result.loss)
    assert np.max(np.abs(result.z - z0)) > 0.05  # the 3 steps moved z


@pytest.mark.slow
def test_compare_updates_quick_trains_both_updates_and_resumes(tmp_path):
    from anogan_jax import cli
    from experiments import compare_updates

    clf = ["--classifier-dir", str(tmp_path / "clf")]
    assert cli.main(["train-classifier", "--dataset", "digits", "--steps", "30", *clf,
                     "--quiet"]) == 0  # fmt: skip
    argv = ["--quick", "--dataset", "digits", "--archs", "mlp", "--classes", "3", *clf,
            "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "c")]  # fmt: skip
    assert compare_updates.main(argv) == 0
    payload = json.loads((tmp_path / "c.json").read_text())
    assert [(r["arch"], r["update"]) for r in payload["rows"]] == [
        ("mlp", "alternating"), ("mlp", "reuse")]  # fmt: skip
    for name in ("mlp/class_3/alternating", "mlp/class_3/reuse"):
        (run,) = payload["runs"][name]
        assert run["steps"] == [20, 40] and all(np.isfinite(run["fid"])) and run["fid"][0] > 0
    a, r = (payload["runs"][f"mlp/class_3/{u}"][0]["fid"] for u in ("alternating", "reuse"))
    assert a != r  # the two updates train different generators
    assert (tmp_path / "c.png").stat().st_size > 0 and "| mlp | 3 | reuse |" in (
        tmp_path / "c.md").read_text()  # fmt: skip
    # A rerun finds every run finished and retrains nothing.
    before = (tmp_path / "runs/mlp/class_3/reuse/seed_0/fid.jsonl").read_bytes()
    assert compare_updates.main(argv) == 0
    assert (tmp_path / "runs/mlp/class_3/reuse/seed_0/fid.jsonl").read_bytes() == before


def test_a_benchmark_records_the_settings_that_change_its_timings(monkeypatch):
    """A benchmark's machine record names the same settings as a study cell's provenance
    (the CPU convolution engine, how seeds run together, XLA_FLAGS) and shows them in its
    Markdown header; with none set, the header says nothing of them."""
    from experiments import bench_common

    for k in ("XLA_FLAGS", "ANOGAN_JAX_CPU_CONV", "ANOGAN_JAX_SEED_MODE", "OMP_NUM_THREADS"):
        monkeypatch.delenv(k, raising=False)
    plain = bench_common.machine_info()
    assert plain["env"] == {} and plain["settings"] == ""
    assert "settings" not in bench_common.describe_machine(plain)

    monkeypatch.setenv("ANOGAN_JAX_SEED_MODE", "loop")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    info = bench_common.machine_info()
    assert info["env"] == {"ANOGAN_JAX_SEED_MODE": "loop", "OMP_NUM_THREADS": "1"}
    assert info["settings"] == "ANOGAN_JAX_SEED_MODE=loop"
    assert bench_common.describe_machine(info).endswith("; settings: ANOGAN_JAX_SEED_MODE=loop")
