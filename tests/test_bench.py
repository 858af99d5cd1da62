"""The benchmark scripts run end to end in --quick mode and write their JSON and markdown
(no timing is asserted: speed targets live in the scripts' results, not in tests)."""

import json

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
