"""Run by test_devices.py in a subprocess with 8 forced host devices (XLA_FLAGS must be set
before jax is imported). Prints one JSON object of measured differences and shardings.

``multidevice_worker.py distributed PORT PROCESS_ID OUT.npz`` (test_models_mesh.py) is one of
two processes of a localhost jax.distributed job training 4 GANs vmapped over the mesh of all
their devices (``models_fit``); it saves every model's final leaves and prints the mesh.

``multidevice_worker.py study ROOT`` (test_models_mesh.py) runs a tiny digits study as the
per-class program on one device and as the models program on 6 and on 8 devices instead,
writing the results under ROOT, and prints the devices its programs' arrays were placed on."""

import json
import os
import sys
from pathlib import Path

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


def models_fit(mesh, num_models=4, num_steps=3, batch=16):
    """4 tiny MLP GANs (own init, data and keys) trained as one vmapped program by
    ``seeds.fit_seeds`` on ``mesh`` (None: one device). Returns each model's leaves."""
    from anogan_jax.runs import seeds

    gm = models.make_gan("mlp", latent_dim=8)
    g_tx, d_tx, _ = objectives.default_optimizers("non_saturating")
    objective = objectives.get_objective("non_saturating")
    raw = make_gan_step(objective, gm, g_tx, d_tx, n_critic=1, jit=False)
    states = [init_gan_state(gm, g_tx, d_tx, jax.random.key(10 + i)) for i in range(num_models)]
    shape = (num_models, num_steps, 1, batch, 28, 28, 1)
    data = np.asarray(jax.random.uniform(jax.random.key(1), shape, minval=-1))
    final = seeds.fit_seeds(
        raw,
        states,
        [lambda step, i=i: data[i, step] for i in range(num_models)],
        [jax.random.key(100 + i) for i in range(num_models)],
        mode="vmap",
        mesh=mesh,
        on_log_each=[lambda *a: None] * num_models,
        on_sync_each=[lambda *a: None] * num_models,
        sync_at=lambda step: False,
        num_steps=num_steps,
        log_every=num_steps,
        progress=False,
    )
    return [[np.asarray(x) for x in jax.tree.leaves(jax.device_get(s))] for s in final]


def distributed(port: str, pid: int, out: str) -> dict:
    devices.initialize_distributed(f"localhost:{port}", 2, pid)
    mesh = devices.models_mesh(4, "all", batch_size=16)
    leaves = models_fit(mesh)
    np.savez(out, *[x for model in leaves for x in model])
    return {
        "global_devices": jax.device_count(),
        "local_devices": jax.local_device_count(),
        "mesh": dict(mesh.shape),
    }


def models_study(root: Path) -> dict:
    """The tiny digits study of test_models_axis (3 classes x 2 seeds, MLP) run as: the
    per-class program (1 device), the models program looped over 6 devices (one per model),
    looped over 8 (2 model slices x 4 data devices) and vmapped over 8. Returns where the
    stacked batches and per-model states were placed."""
    from test_models_axis import _study

    from anogan_jax.runs import seeds
    from anogan_jax.studies.run import run_study

    placed, now = {}, {}
    put = seeds.put_global

    def spy(tree, sharding):
        """Records, per run and partition spec, the devices and shard shapes of the first
        array placed so."""
        out = put(tree, sharding)
        leaf = jax.tree.leaves(out)[0]
        shapes = sorted({tuple(x.data.shape) for x in leaf.addressable_shards})
        seen = {"devices": len(sharding.device_set), "shards": [list(x) for x in shapes]}
        placed.setdefault(now["run"], {}).setdefault(str(tuple(sharding.spec)), seen)
        return out

    seeds.put_global = spy
    study = _study("mlp")
    runs = [("class", "loop", 1), ("models", "loop", 6), ("models", "loop", "all")]
    runs += [("models", "vmap", "all")]
    for program, mode, count in runs:
        os.environ[seeds.SEED_MODE_ENV] = mode
        name = now["run"] = f"{program}_{mode}_{count}"
        run_study(
            study,
            root / name / "results",
            root / name / "runs",
            progress=False,
            program=program,
            devices=count,
        )
    return {"device_count": jax.device_count(), "placed": placed}


if __name__ == "__main__":
    if sys.argv[1:2] == ["study"]:
        json.dump(models_study(Path(sys.argv[2])), sys.stdout)
    elif sys.argv[1:2] == ["distributed"]:
        # On lines of its own: gloo writes its connection notes to the same stdout.
        print(f"\n{json.dumps(distributed(sys.argv[2], int(sys.argv[3]), sys.argv[4]))}\n")
    else:
        main()
