"""The benchmark scripts run end to end in --quick mode and write their JSON and markdown
(no timing is asserted: speed targets live in the scripts' results, not in tests)."""

import json

import pytest

from experiments import bench_latent_search, bench_train


@pytest.mark.slow
def test_bench_train_quick_writes_results(tmp_path):
    argv = ["--quick", "--allow-busy", "--no-torch", "--archs", "mlp"]
    bench_train.main([*argv, "--objectives", "non_saturating", "--out", str(tmp_path / "t")])
    payload = json.loads((tmp_path / "t.json").read_text())
    assert payload["benchmark"] == "bench_train" and payload["quick"] is True
    assert len(payload["load"]["after"]) == 3 and payload["matmul_peak"]["jax_gflops"] > 0
    (row,) = payload["rows"]
    assert row["arch"] == "mlp" and row["objective"] == "non_saturating"
    assert "| mlp | non_saturating |" in (tmp_path / "t.md").read_text()


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
