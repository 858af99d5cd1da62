"""What a finished scoring run writes: scores.csv, metrics.json (with pixel-level metrics of the
residual maps where there are ground-truth masks), its plots (ROC, PR, histograms, the
extreme images with G(z*) and their residual maps) and TensorBoard events of the histograms."""

from __future__ import annotations

import functools

import numpy as np

from anogan_jax import metrics as metrics_lib
from anogan_jax import pixel_metrics as pixel_lib
from anogan_jax.files import atomic_write_text, write_json
from anogan_jax.ops import xla_cpu
from anogan_jax.runs import plotting
from anogan_jax.runs.events import score_events
from anogan_jax.state import g_variables


def _score_columns(results: dict) -> list[str]:
    skip = {"index", "z", "compute_seconds", "computed_images"}
    return [k for k, v in results.items() if k not in skip and np.ndim(v) == 1]


def residual_maps(models, state, images: np.ndarray, z: np.ndarray, batch_size: int = 256):
    """Per-pixel residual maps |x - G(z*)| averaged over channels: (N, H, W) float32, and
    G(z*) (N, H, W, C), from the images and their latents (the generator in inference mode)."""
    generate = _generator(models)
    g_vars = g_variables(state)
    recons = [
        np.asarray(generate(g_vars, z[i : i + batch_size])) for i in range(0, len(z), batch_size)
    ]
    recon = np.concatenate(recons) if recons else np.zeros_like(images)
    return np.abs(images - recon).mean(axis=-1), recon


@functools.lru_cache(maxsize=4)
def _generator(models):
    return xla_cpu.jit(lambda g_vars, z: models.generator.apply(g_vars, z, train=False)[0])


def pixel_report(maps: np.ndarray, masks: np.ndarray) -> dict:
    """Pixel-level AUROC and AUPRO (FPR up to 0.3) of residual maps against ground-truth
    masks, or the reason they are undefined."""
    if not masks.any() or masks.all():
        return {"auroc": None, "aupro": None, "why": "the masks hold pixels of one kind only"}
    return {
        "auroc": pixel_lib.pixel_auroc(maps, masks),
        "aupro": pixel_lib.aupro(maps, masks, max_fpr=0.3),
        "aupro_max_fpr": 0.3,
        "num_images": int(len(maps)),
    }


def write_report(
    out,
    results,
    images,
    labels,
    classes,
    split,
    models,
    state,
    *,
    wall_seconds,
    masks=None,
    names=None,
):
    """scores.csv, metrics.json and the plots of a finished scoring run; with ``masks`` (the
    test rows' ground truth, (T, H, W)) also pixel-level metrics of the residual maps; with
    ``names`` (the file of each row, "" where unknown: a folder dataset's test images) a
    ``file`` column in scores.csv."""
    columns = _score_columns(results)
    finite_by = {c: np.isfinite(results[c]) for c in columns}
    finite = np.all(list(finite_by.values()), axis=0)
    _write_scores_csv(out / "scores.csv", results, columns, labels, classes, split, names)
    is_test, is_val = split == "test", split == "val"
    report = {"scores": {}, "num_test": int(is_test.sum()), "num_val": int((is_val & finite).sum())}
    bad = results["index"][~finite].tolist()
    report["nonfinite_indices"] = bad
    if bad:
        counts = {c: int((~f).sum()) for c, f in finite_by.items() if not f.all()}
        print(
            f"warning: {len(bad)} images gave a non-finite score (per score: {counts}); each "
            f"score is evaluated on its finite images only. First indices: {bad[:20]}"
        )
    curves_roc, curves_pr = {}, {}
    for c in columns:
        test, val = is_test & finite_by[c], is_val & finite_by[c]
        s, y = results[c][test], labels[test]
        if len(np.unique(y)) < 2:
            # Nothing to rank: every test image (or every one of a class) is non-finite.
            report["scores"][c] = {"auroc": None, "auprc": None, "num_finite": int(test.sum())}
            continue
        report["scores"][c] = metrics_lib.summarize(
            y, s, normal_val_scores=results[c][val] if val.any() else None
        )
        report["scores"][c]["num_finite"] = int(test.sum())
        fpr, tpr, _ = metrics_lib.roc_curve(y, s)
        prec, rec, _ = metrics_lib.pr_curve(y, s)
        curves_roc[c] = (fpr, tpr, report["scores"][c]["auroc"])
        curves_pr[c] = (rec, prec, report["scores"][c]["auprc"])
    seconds = results["compute_seconds"]
    computed = results.get("computed_images", len(labels))
    if masks is not None:
        maps, _ = residual_maps(models, state, images[is_test], results["z"][is_test])
        report["pixel"] = pixel_report(maps, masks)
    report["wall_seconds"] = wall_seconds
    # Images computed in this call over their time (batches loaded from parts/ excluded).
    report["images_per_second"] = float(computed / seconds) if seconds > 0 else None
    write_json(out / "metrics.json", report)
    plotting.roc_pr_curves(out / "roc.png", curves_roc, kind="roc")
    plotting.roc_pr_curves(out / "pr.png", curves_pr, kind="pr")
    test = is_test & finite  # the images with every score finite
    if test.any():
        scores = {c: results[c][test] for c in columns}
        plotting.score_histograms(out / "histograms.png", scores, labels[test])
        score_events(out, scores, labels[test], int(state.step), report)
        _extremes(out / "extremes.png", results, images, labels, test, models, state)
    return report


def _write_scores_csv(path, results, columns, labels, classes, split, names) -> None:
    head = "index,split,label,class" + (",file" if names is not None else "")
    lines = [head + "," + ",".join(columns)]
    for i in range(len(labels)):
        row = f"{results['index'][i]},{split[i]},{labels[i]},{classes[i]}"
        if names is not None:
            row += ',"' + str(names[i]).replace('"', '""') + '"'
        lines.append(row + "," + ",".join(f"{results[c][i]:.9g}" for c in columns))
    atomic_write_text(path, "\n".join(lines) + "\n")


def _extremes(path, results, images, labels, test, models, state, k: int = 5):
    """The k highest- and k lowest-scoring test images with G(z*) and the residual map."""
    score = results["A"]
    order = np.flatnonzero(test)[np.argsort(score[test])]
    chosen = np.concatenate([order[::-1][:k], order[:k]])
    z = results["z"][chosen]
    gx = np.asarray(models.generator.apply(g_variables(state), z, train=False)[0])
    rows = []
    for j, i in enumerate(chosen):
        tag = "high" if j < k else "low"
        caption = f"{tag} A={score[i]:.3g}\nlabel {labels[i]}"
        rows.append((caption, images[i], gx[j], np.abs(images[i] - gx[j])))
    plotting.extremes_grid(path, rows)
