"""Run by test_devices.py in a subprocess with 8 forced host devices (XLA_FLAGS must be set
before jax is imported). Prints one JSON object of measured differences and shardings."""

import json
import sys

import jax
import numpy as np

from anogan_jax import devices, models, objectives
from anogan_jax.latent_search import initial_z, make_search
from anogan_jax.state import init_gan_state
from anogan_jax.train import make_gan_step


def train(objective, mesh, num_steps=3, batch=16):
    gm = models.make_gan("mlp", latent_dim=8, objective=objective)
    g_tx, d_tx, n = objectives.default_optimizers(objective)
    n = min(n, 2)
    step = make_gan_step(objectives.get_objective(objective), gm, g_tx, d_tx, n_critic=n, mesh=mesh)
    state = init_gan_state(gm, g_tx, d_tx, jax.random.key(0))
    data = np.asarray(
        jax.random.uniform(jax.random.key(1), (num_steps, n, batch, 28, 28, 1), minval=-1)
    )
    shards = None
    if mesh is not None:
        state = devices.put_replicated(state, mesh)
    for i in range(num_steps):
        b = data[i] if mesh is None else devices.put_batch(data[i], mesh, 1)
        if mesh is not None:
            shards = [list(s.data.shape) for s in b.addressable_shards]
        state, _ = step(state, b, jax.random.key(2))
    return jax.tree.leaves(jax.device_get(state)), shards


def max_diff(a, b):
    return max(
        float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in zip(a, b, strict=True)
    )


def main():
    out = {"device_count": jax.device_count()}
    mesh = devices.make_mesh("all")
    for objective in ("non_saturating", "wgan_gp"):
        one, _ = train(objective, None)
        many, shards = train(objective, mesh)
        out[f"train_{objective}_max_abs_diff"] = max_diff(one, many)
        out["train_batch_shards"] = shards
    gm = models.make_gan("mlp", latent_dim=8)
    g_vars = gm.generator.init(jax.random.key(3))
    d_vars = gm.discriminator.init(jax.random.key(4))
    images = np.asarray(jax.random.uniform(jax.random.key(5), (16, 28, 28, 1), minval=-1))
    z0 = np.asarray(initial_z(jax.random.key(6), np.arange(16), 8))
    search = make_search(gm, num_steps=20)
    ref = search(g_vars, d_vars, images, z0)
    sharded_images = devices.put_batch(images, mesh)
    res = search(
        *devices.put_replicated((g_vars, d_vars), mesh), sharded_images, devices.put_batch(z0, mesh)
    )
    out["search_max_rel_diff"] = float(np.max(np.abs(res.loss - ref.loss) / np.abs(ref.loss)))
    out["search_input_devices"] = len(sharded_images.sharding.device_set)
    out["search_output_devices"] = len(res.loss.sharding.device_set)
    try:
        devices.check_divisible(12, mesh)
        out["indivisible_error"] = None
    except devices.DeviceError as err:
        out["indivisible_error"] = str(err)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
