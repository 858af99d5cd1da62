"""Running a scoring method over batches of images, resumably: each finished batch's outputs
saved atomically as a part (``<parts>/<first row:08d>.npz``), a saved part loaded rather than
redone, for one run (``run_batches``) or for M models at once, each with its own parts
(``run_batches_each``)."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np
from tqdm.auto import tqdm

from anogan_jax.files import atomic_write_bytes
from anogan_jax.latent_search import pad_batch
from anogan_jax.runs.config import RunError


def run_batches(
    batch_fn: Callable[[np.ndarray, np.ndarray], dict],
    images: np.ndarray,
    indices: np.ndarray,
    *,
    batch_size: int,
    parts_dir: Path,
    block: int = 1,
    progress: bool = True,
    desc: str = "score",
    ids: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Applies ``batch_fn(images, ids)`` to fixed-size batches (every batch padded to a
    multiple of ``block`` rows, the last one too, and masked), saving each batch's outputs
    atomically to ``parts_dir``; batches already saved are loaded, not redone. ``ids``: what
    the method folds into its key per image (``methods.start_ids``; default ``indices``);
    ``indices`` number the images in the saved parts.

    Returns:
      dict of arrays concatenated over all images (padded rows dropped), plus
      ``compute_seconds`` (wall time of the batches computed in this call) and
      ``computed_images`` (how many images those batches held).
    """

    def one(imgs, idx):
        return {
            k: np.asarray(v)[:, None]
            for k, v in jax.device_get(batch_fn(imgs[:, 0], idx[:, 0])).items()
        }

    ids = indices if ids is None else ids
    return run_batches_each(
        one, [images], [indices], [ids], batch_size=batch_size, parts_dirs=[parts_dir],
        block=block, progress=progress, desc=desc,
    )[0]  # fmt: skip


def run_batches_each(
    batch_fn: Callable[[np.ndarray, np.ndarray], dict],
    images: list[np.ndarray],
    indices: list[np.ndarray],
    ids: list[np.ndarray],
    *,
    batch_size: int,
    parts_dirs: list[Path],
    block: int = 1,
    progress: bool = True,
    desc: str = "score",
) -> list[dict[str, np.ndarray]]:
    """``run_batches`` of M models in one pass over their items, each model saving its batches
    to its own ``parts_dirs[i]``: batch ``b`` of every model holds the rows ``b * batch_size``
    on of its own ``images[i]``, ``indices[i]`` and ``ids[i]`` (M arrays of one length), and
    ``batch_fn`` takes them stacked on a model axis 1, (B, M, ...), and returns arrays of
    (B, M, ...) (``methods.models_method``). A batch saved for every model is loaded; one
    missing for any is computed for all M and saved where missing.

    Returns:
      per model, what ``run_batches`` returns; ``compute_seconds`` is an equal share of the
      time spent computing batches in this call, ``computed_images`` the rows saved for it.
    """
    n = {len(x) for x in (*images, *indices, *ids)}
    if len(n) != 1:
        raise ValueError(f"the models' items differ in length {sorted(n)}; run them apart")
    n, m = n.pop(), len(images)
    for d in parts_dirs:
        Path(d).mkdir(parents=True, exist_ok=True)
    outputs = [[] for _ in range(m)]
    seconds, computed = 0.0, [0] * m
    bar = tqdm(total=n * m, desc=desc, unit="img", disable=not progress)
    for start in range(0, n, batch_size):
        sl = slice(start, start + batch_size)
        parts = [Path(d) / f"{start:08d}.npz" for d in parts_dirs]
        saved = [
            _load_part(p, idx[sl]) if p.exists() else None
            for p, idx in zip(parts, indices, strict=True)
        ]
        if any(s is None for s in saved):
            stacked = [np.stack([x[sl] for x in xs], axis=1) for xs in (images, ids)]
            imgs, idx, mask = pad_batch(*stacked, -(-batch_size // block) * block)
            t0 = time.perf_counter()
            out = jax.device_get(batch_fn(imgs, idx))
            seconds += time.perf_counter() - t0
            for i in (i for i, s in enumerate(saved) if s is None):
                saved[i] = {k: np.asarray(v)[mask][:, i] for k, v in out.items()}
                saved[i]["index"] = indices[i][sl]
                _save_part(parts[i], saved[i])
                computed[i] += int(mask.sum())
            bar.set_postfix(img_per_s=f"{sum(computed) / max(seconds, 1e-9):.2f}", refresh=False)
        for mine, part in zip(outputs, saved, strict=True):
            mine.append(part)
        bar.update(len(saved[0]["index"]) * m)
    bar.close()
    merged = [{k: np.concatenate([o[k] for o in mine]) for k in mine[0]} for mine in outputs]
    for i, mine in enumerate(merged):
        mine["compute_seconds"] = seconds / m
        mine["computed_images"] = computed[i]
    return merged


def _load_part(part: Path, indices: np.ndarray) -> dict:
    """A saved batch, refused when it numbers other images than ``indices``."""
    with np.load(part) as f:
        out = dict(f)
    if not np.array_equal(out["index"], indices):
        raise RunError(
            f"the saved batch {part} holds other images than this resume scores (the "
            "data, its split or the subsample changed since it was written); score "
            "into another --out, or --overwrite this one"
        )
    return out


def _save_part(part: Path, out: dict) -> None:
    buf = io.BytesIO()
    np.savez(buf, **out)
    atomic_write_bytes(part, buf.getvalue())
