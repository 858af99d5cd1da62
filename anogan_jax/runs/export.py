"""``export``: a trained run's scorers as serialized ``jax.export`` artefacts that run without
this package (or flax): only ``jax`` and ``numpy`` are needed to load and call them.

Layout of an export folder::

    fanogan.jaxexport   f-AnoGAN one pass: (params, images) -> {"score", "map", "z"}
    fanogan.npz         its params, the leaves in order (arr_0, arr_1, ...)
    hybrid.jaxexport    the AnoGAN search started from E(x), same signature
    hybrid.npz
    data.json           the identity of the run's data the thresholds were set on (``identity``)
    scorer.json         per function: threshold and how it was chosen, the method settings;
                        the preprocessing (image shape, the exact rules that turn a file's
                        bytes into predict's pixels, pixel scaling); the verdict rule; the
                        XLA:CPU compile options under which the scores equal ``predict``'s bit
                        for bit.
                        Written last: an export stopped before the end has none

The batch dimension is symbolic: any number of images (N, H, W, C), float32 in [-1, 1]. An
image with a NaN or infinite pixel gets the score NaN, which the verdict rule calls invalid.
Inside, the batch is padded to a multiple of ``micro_batch`` and computed in blocks of that
many images, the program ``score`` and ``predict`` run, so every image's score is the same
whatever N. The weights are an argument, not constants baked into the program, so that XLA
compiles the same arithmetic as in ``predict``.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import export as jax_export

from anogan_jax import image_decode
from anogan_jax.files import atomic_write_bytes, write_json
from anogan_jax.ops import xla_cpu
from anogan_jax.runs.folders import check_output, folder_lock, start_folder
from anogan_jax.runs.identity import IDENTITY, data_identity
from anogan_jax.runs.methods import check_method_inputs, in_blocks
from anogan_jax.runs.models import check_run_folder
from anogan_jax.runs.predict import Scorer, check_fpr, load_run, method_config
from anogan_jax.state import g_variables

FUNCTIONS = ("fanogan", "hybrid")
VERDICT_RULE = (
    "anomalous when score > threshold, normal when score <= threshold, invalid when the "
    "score is not finite (an image with a NaN or infinite pixel gets the score NaN)"
)
OWNED = ("scorer.json", IDENTITY, *(f"{f}.{x}" for f in FUNCTIONS for x in ("jaxexport", "npz")))
PLATFORMS = ("cpu", "cuda")


def exported_fn(scorer: Scorer):
    """``fn(leaves, images) -> {"score", "map", "z"}`` of a Scorer: ``leaves`` the flattened
    method params and generator variables; images (N, H, W, C) with any N."""
    block, models = scorer.config.micro_batch, scorer.models
    params = (scorer.method.params, g_variables(scorer.state))
    leaves, treedef = jax.tree_util.tree_flatten(params)
    blocked = in_blocks(scorer.method.fn, block)

    def fn(leaves, images):
        method_params, g_vars = jax.tree_util.tree_unflatten(treedef, leaves)
        n = images.shape[0]
        finite = jnp.isfinite(images).reshape(n, -1).all(axis=1)
        images = jnp.where(finite[:, None, None, None], images, 0.0)  # scored, then NaN
        padded = jnp.pad(images, ((0, -(-n // block) * block - n), (0, 0), (0, 0), (0, 0)))
        indices = jnp.arange(padded.shape[0], dtype=jnp.int32)
        out = blocked(method_params, padded, indices)
        z = out["z"][:n]
        recon = models.generator.apply(g_vars, z, train=False)[0]
        score = jnp.where(finite, out["A"][:n], jnp.nan)
        return {"score": score, "map": jnp.abs(images - recon).mean(axis=-1), "z": z}

    return fn, [np.asarray(x) for x in leaves]


def _serialize(fn, leaves, image_shape) -> tuple[bytes, list[str]]:
    """The serialized artefact, for CPU and CUDA when both lower, else for this backend."""
    (batch,) = jax_export.symbolic_shape("n")
    args = (
        [jax.ShapeDtypeStruct(x.shape, x.dtype) for x in leaves],
        jax.ShapeDtypeStruct((batch, *image_shape), jnp.float32),
    )
    try:
        exported = jax_export.export(jax.jit(fn), platforms=PLATFORMS)(*args)
    except Exception:  # an op without a lowering for every platform: this backend only
        exported = jax_export.export(jax.jit(fn))(*args)
    return exported.serialize(), list(exported.platforms)


def export_run(
    run,
    out,
    *,
    fpr: float = 0.05,
    settings: dict | None = None,
    overwrite=False,
    data_dir=None,
    progress=True,
) -> dict:
    """Writes the run's f-AnoGAN and hybrid scorers into ``out`` (see the module docstring).
    ``settings``: ScoreConfig fields (search steps, kappa, micro_batch, ...). Returns the
    scorer.json record."""
    out = Path(out)
    check_fpr(fpr)
    configs = {f: method_config(f, **(settings or {})) for f in FUNCTIONS}
    check_run_folder(run)  # before the lock creates ``out``
    for config in configs.values():
        check_method_inputs(run, config)
    with folder_lock(out):
        check_output(
            out,
            resume=False,
            overwrite=overwrite,
            marker="scorer.json",
            protect=[run],
            owned=OWNED,
            resumable=False,
        )
        loaded = load_run(run, data_dir, "export")  # the GAN and data, once for both functions
        scorers = {f: Scorer(run, config, loaded=loaded) for f, config in configs.items()}
        identity = data_identity(loaded[0].dataset, loaded[3])
        start_folder(out, OWNED, overwrite=overwrite, records={IDENTITY: identity})
        rc = scorers["fanogan"].run_config
        record = {
            "run": str(Path(run).resolve()),
            "gan_step": int(scorers["fanogan"].state.step),
            "preprocessing": preprocessing(rc),
            "verdict": VERDICT_RULE,
            "xla_cpu_compile_options": xla_cpu.compiler_options() or {},
            "outputs": {
                "score": "(N,) anomaly score A",
                "map": "(N, H, W) |x - G(z*)| averaged over channels",
                "z": "(N, latent_dim) the latent that explains each image",
            },
            "functions": {},
        }
        for name, scorer in scorers.items():
            with tempfile.TemporaryDirectory() as parts:  # the folder holds only what ships
                threshold, rule = scorer.threshold(fpr, Path(parts), progress=progress)
            fn, leaves = exported_fn(scorer)
            blob, platforms = _serialize(fn, leaves, rc.image_shape)
            atomic_write_bytes(out / f"{name}.jaxexport", blob)
            buf = io.BytesIO()
            np.savez(buf, *leaves)
            atomic_write_bytes(out / f"{name}.npz", buf.getvalue())
            record["functions"][name] = {
                "file": f"{name}.jaxexport",
                "params": f"{name}.npz",
                "threshold": threshold,
                "threshold_rule": rule,
                "platforms": platforms,
                "score_config": {
                    k: getattr(scorer.config, k)
                    for k in ("method", "init", "num_steps", "lr", "lam", "kappa", "micro_batch")
                },
            }
        write_json(out / "scorer.json", record)
        return record


def preprocessing(run_config) -> dict:
    """How a file's bytes become the images the exported functions take, exactly as
    ``predict`` reads them (``image_decode.DECODE_RULES``)."""
    h, w, c = run_config.image_shape
    return {
        "image_shape": [h, w, c],
        "channels": {1: "1: grey", 3: "3: R, G, B"}[c],
        "decode": dict(image_decode.DECODE_RULES),
        "resize": image_decode.RESIZE_RULE,
        "scale": "float32 pixels = uint8 / 127.5 - 1, in [-1, 1]",
        "layout": "NHWC",
    }
