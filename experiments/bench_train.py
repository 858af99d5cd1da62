"""GAN training throughput: our jitted step vs the same networks trained in PyTorch.

Run from the repository root on a quiet machine (PyTorch rows need ``pip install -e '.[bench]'``):

    .venv/bin/python -m experiments.bench_train                       # full table
    .venv/bin/python -m experiments.bench_train --quick --allow-busy  # smoke test

One JAX step is ``anogan_jax.train.make_gan_step`` with the CLI's default optimisers
(``anogan_jax.runs.models.build_optimizers``): n_critic critic updates then one generator update
in one program (n_critic = 5 for wgan_gp, else 1), batch 64, float32. The PyTorch step does the
same updates with the same layers (``experiments/torch_models.py``): per critic update a fresh
z, G's forward without gradients, D on the real and on the fake batch, for WGAN-GP the penalty
via ``torch.autograd.grad(create_graph=True)``, one Adam step; then a generator update on a
fresh z with D's parameters frozen (``requires_grad_(False)``). Both report steps/s and critic
steps/s (= n_critic x steps/s). JAX and PyTorch samples are interleaved in one process; compile
time is reported apart.
"""

from __future__ import annotations

import argparse
import time

import jax

from anogan_jax.models import ARCHS, make_gan
from anogan_jax.objectives import OBJECTIVES, get_objective
from anogan_jax.runs.config import RunConfig
from anogan_jax.runs.models import build_optimizers
from anogan_jax.state import init_gan_state
from anogan_jax.train import make_gan_step
from experiments import bench_common as bc

NAME = "bench_train"
# objectives.default_optimizers, spelled out for torch.optim.Adam: (lr, betas, n_critic).
TORCH_ADAM = {"wgan_gp": (1e-4, (0.0, 0.9), 5)}
TORCH_ADAM_DEFAULT = (2e-4, (0.5, 0.999), 1)


def jax_program(
    arch: str,
    objective: str,
    batch_size: int,
    conv_impl: str,
    seed: int,
    keep_compiled=False,
    update: str = "alternating",
):
    """(run, info): ``run()`` does one compiled step and blocks; info has compile_s, n_critic
    (and the compiled executable as ``compiled`` with ``keep_compiled``)."""
    config = RunConfig(arch=arch, objective=objective, batch_size=batch_size, conv_impl=conv_impl)
    g_tx, d_tx, n_critic = build_optimizers(config)
    models = make_gan(arch, objective=objective, conv_impl=conv_impl)
    k_init, k_data, k_train = jax.random.split(jax.random.key(seed), 3)
    state = init_gan_state(models, g_tx, d_tx, k_init)
    step = make_gan_step(
        get_objective(objective), models, g_tx, d_tx, n_critic=n_critic, update=update
    )
    shape = (n_critic, batch_size, *models.image_shape)
    batch = jax.random.uniform(k_data, shape, minval=-1.0, maxval=1.0)
    compiled, compile_s = bc.compile_timed(step, state, batch, k_train)
    holder = {"state": state}

    def run():
        holder["state"], _ = compiled(holder["state"], batch, k_train)  # state is donated
        jax.block_until_ready(holder["state"])

    info = {"compile_s": round(compile_s, 2), "n_critic": n_critic}
    return run, {**info, "compiled": compiled} if keep_compiled else info


def torch_losses(torch, name: str):
    """(d_loss(real_logit, fake_logit), g_loss(fake_logit)) as in anogan_jax.objectives."""
    relu, sp = torch.nn.functional.relu, torch.nn.functional.softplus

    def bce(r, f):
        return sp(-r).mean() + sp(f).mean()

    table = {
        "minimax": (bce, lambda f: -sp(f).mean()),
        "non_saturating": (bce, lambda f: sp(-f).mean()),
        "wgan_gp": (lambda r, f: f.mean() - r.mean(), lambda f: -f.mean()),
        "lsgan": (
            lambda r, f: 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f**2).mean(),
            lambda f: 0.5 * ((f - 1) ** 2).mean(),
        ),
        "hinge": (lambda r, f: relu(1 - r).mean() + relu(1 + f).mean(), lambda f: -f.mean()),
    }
    return table[name]


def torch_gradient_penalty(torch, d, real, fake):
    """mean_i (||grad_x D(x_hat_i)|| - 1)^2; one alpha per image."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
    x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(d(x_hat)[0].sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()


def torch_program(
    torch,
    arch: str,
    objective: str,
    batch_size: int,
    seed: int,
    n_critic: int | None = None,
    update: str = "alternating",
    device: str = "cpu",
    width: int | None = None,
):
    """(run, info): ``run()`` does n_critic critic updates (default: the objective's) then one
    generator update on a fresh z; with ``update="reuse"`` the PyTorch DCGAN example's step:
    one generator forward, D on ``fake.detach()``, then G through ``D(fake)`` after D's step.
    ``device``: where the networks and data live ("cuda" on a GPU); ``width``: resnet64's."""
    from experiments import torch_models

    torch.manual_seed(seed)
    g, d = torch_models.make_gan(arch, objective=objective, width=width)
    g, d = g.to(device), d.to(device)
    latent, image = torch_models.io_shapes(arch)
    lr, betas, default_n_critic = TORCH_ADAM.get(objective, TORCH_ADAM_DEFAULT)
    n_critic = n_critic or default_n_critic
    g_opt = torch.optim.Adam(g.parameters(), lr, betas=betas)
    d_opt = torch.optim.Adam(d.parameters(), lr, betas=betas)
    d_loss_fn, g_loss_fn = torch_losses(torch, objective)
    reals = torch.rand(n_critic, batch_size, *image, device=device) * 2 - 1
    gp_weight = 10.0 if objective == "wgan_gp" else 0.0

    def critic_update(real):
        with torch.no_grad():
            fake = g(torch.randn(batch_size, latent, device=device))
        loss = d_loss_fn(d(real)[0], d(fake)[0])
        if gp_weight:
            loss = loss + gp_weight * torch_gradient_penalty(torch, d, real, fake)
        d_opt.zero_grad(set_to_none=True)
        loss.backward()
        d_opt.step()

    def generator_update():
        d.requires_grad_(False)
        loss = g_loss_fn(d(g(torch.randn(batch_size, latent, device=device)))[0])
        g_opt.zero_grad(set_to_none=True)
        loss.backward()
        g_opt.step()
        d.requires_grad_(True)

    def run():
        for real in reals:
            critic_update(real)
        generator_update()

    def run_reuse():
        fake = g(torch.randn(batch_size, latent, device=device))
        loss = d_loss_fn(d(reals[0])[0], d(fake.detach())[0])
        d_opt.zero_grad(set_to_none=True)
        loss.backward()
        d_opt.step()
        g_loss = g_loss_fn(d(fake)[0])
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()

    return (run_reuse if update == "reuse" else run), {"n_critic": n_critic}


def rates(timing: dict, n_critic: int) -> dict:
    sec = timing["median_s"]
    return {
        "steps_per_s": 1.0 / sec,
        "critic_steps_per_s": n_critic / sec,
        "step_s": {k: timing[k] for k in ("median_s", "min_s", "max_s", "samples_s")},
        "inner": timing["inner"],
        "first_call_s": timing["first_call_s"],
    }


def bench_row(arch: str, objective: str, args, torch, update: str = "alternating") -> dict:
    fns, info = {}, {}
    fns["jax"], info["jax"] = jax_program(
        arch, objective, args.batch_size, args.conv_impl, args.seed, update=update
    )
    if torch is not None and objective in args.torch_objectives:
        fns["torch"], info["torch"] = torch_program(
            torch, arch, objective, args.batch_size, args.seed, update=update
        )
    times = bc.time_interleaved(fns, args.repeats, args.min_seconds, stat=None)
    n_critic = info["jax"]["n_critic"]
    row = {"arch": arch, "objective": objective, "update": update, "batch_size": args.batch_size}
    row.update(n_critic=n_critic, repeats=args.repeats)
    row["jax"] = {"compile_s": info["jax"]["compile_s"], **rates(times["jax"], n_critic)}
    row["torch"] = rates(times["torch"], n_critic) if "torch" in times else None
    row["jax_over_torch"] = (
        row["jax"]["steps_per_s"] / row["torch"]["steps_per_s"] if row["torch"] else None
    )
    return row


COLUMNS = ["arch", "objective", "update", "n_critic", "jax.compile_s", "jax.steps_per_s",
           "jax.critic_steps_per_s", "torch.steps_per_s", "torch.critic_steps_per_s",
           "jax_over_torch"]  # fmt: skip


def markdown(payload: dict) -> str:
    settings = (
        f"Batch {payload['batch_size']}, float32, conv_impl={payload['conv_impl']}, median of "
        f"{payload['repeats']} samples (each >= {payload['min_seconds']} s), JAX and PyTorch "
        "samples interleaved in one process. One step = n_critic critic updates + 1 generator "
        "update; critic steps/s = n_critic x steps/s; compile s apart."
    )
    table = bc.markdown_table(payload["rows"], COLUMNS)
    return bc.report("GAN training throughput", payload, settings, table)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", default=",".join(ARCHS))
    parser.add_argument(
        "--objectives", default=None, help="default: all (--quick: non_saturating,wgan_gp)"
    )
    parser.add_argument(
        "--torch-objectives", default=",".join(OBJECTIVES), help="objectives with torch rows"
    )
    parser.add_argument(
        "--updates",
        default="alternating",
        help="update algorithms, e.g. alternating,reuse (reuse: objectives with n_critic 1)",
    )
    parser.add_argument("--batch-size", type=int, default=None, help="default 64 (--quick: 16)")
    parser.add_argument("--min-seconds", type=float, default=2.0, help="least time per sample")
    parser.add_argument("--seed", type=int, default=0)
    bc.add_common_args(parser, NAME)
    args = parser.parse_args(argv)
    args.archs = bc.csv_list(args.archs, ARCHS, "architecture")
    if args.objectives is None:
        args.objectives = "non_saturating,wgan_gp" if args.quick else ",".join(OBJECTIVES)
    args.objectives = bc.csv_list(args.objectives, OBJECTIVES, "objective")
    args.torch_objectives = bc.csv_list(args.torch_objectives, OBJECTIVES, "objective")
    args.updates = bc.csv_list(args.updates, ("alternating", "reuse"), "update")
    if args.quick:
        args.repeats, args.min_seconds = min(args.repeats, 2), 0.0
    args.batch_size = args.batch_size or (16 if args.quick else 64)
    return args


def main(argv=None):
    args = parse_args(argv)
    load, torch, info, peak = bc.start(args)
    start, rows = time.perf_counter(), []
    for arch in args.archs:
        for objective in args.objectives:
            for update in args.updates:
                if update == "reuse" and objective == "wgan_gp":
                    continue  # reuse shares one generator pass: n_critic 1 only
                rows.append(bench_row(arch, objective, args, torch, update))
                print(bc.row_line(rows[-1], COLUMNS), flush=True)
    payload = {
        **bc.payload_head(NAME, args, load, torch, info, peak),
        "batch_size": args.batch_size,
        "conv_impl": args.conv_impl,
        "repeats": args.repeats,
        "min_seconds": args.min_seconds,
        "wall_s": round(time.perf_counter() - start, 1),
        "rows": rows,
    }
    paths = bc.write_results(bc.out_stem(args.out, NAME, args.quick), payload, markdown(payload))
    print(f"wrote {paths[0]} and {paths[1]}")


if __name__ == "__main__":
    main()
