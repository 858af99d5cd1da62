import jax
import numpy as np
import pytest

from anogan_jax import cli
from anogan_jax.runner import RunError, load_gan
from anogan_jax.seeds import parse_seeds, stack, unstack

TINY = ["--batch-size", "16", "--latent-dim", "8", "--quiet", "--checkpoint-every", "2"]


def _sample(models, state):
    z = jax.random.normal(jax.random.key(0), (4, 8))
    g_vars = {"params": state.g_params, "batch_stats": state.g_batch_stats}
    return models.generator.apply(g_vars, z, train=False)[0]


@pytest.mark.parametrize("arch", ["mlp", "dcgan28_light"])
def test_vmapped_seeds_equal_each_seed_alone(tmp_path, arch):
    args = ["train", "--arch", arch, "--steps", "3", *TINY]
    assert cli.main([*args, "--seeds", "0,3", "--out", str(tmp_path / "multi")]) == 0
    for seed in (0, 3):
        assert cli.main([*args, "--seed", str(seed), "--out", str(tmp_path / f"s{seed}")]) == 0
        alone = jax.tree.leaves(load_gan(tmp_path / f"s{seed}")[2])
        many = jax.tree.leaves(load_gan(tmp_path / "multi" / f"seed_{seed}")[2])
        # Tolerance: vmap turns each matmul / conv into a batched one, which XLA may sum in
        # another order (float32 rounding). Where a gradient is pure rounding noise (a bias
        # right before BatchNorm has gradient exactly 0 in exact arithmetic) Adam turns the
        # noise into steps of about lr = 2e-4 in either direction: two runs can drift apart by
        # 2 x 3 x lr = 1.2e-3 on such parameters in 3 steps.
        for a, b in zip(alone, many, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1.2e-3)
        # What the networks compute agrees to 1e-3 on a [-1, 1] image scale.
        config, models, s_alone = load_gan(tmp_path / f"s{seed}")
        s_many = load_gan(tmp_path / "multi" / f"seed_{seed}")[2]
        np.testing.assert_allclose(_sample(models, s_alone), _sample(models, s_many), atol=1e-3)
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
