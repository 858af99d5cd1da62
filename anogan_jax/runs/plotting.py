"""All matplotlib use lives here. Every function writes one PNG atomically and returns nothing."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from anogan_jax.files import atomic_write_bytes  # noqa: E402


def _save(fig, path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def _shown(image: np.ndarray) -> np.ndarray:
    """(H, W, C) in [-1, 1] -> what imshow takes: (H, W) grey or (H, W, 3) RGB in [0, 1]."""
    image = np.clip((np.asarray(image, np.float32) + 1.0) / 2.0, 0.0, 1.0)
    return image[..., 0] if image.shape[-1] == 1 else image


def tile(images: np.ndarray, ncols: int) -> np.ndarray:
    """(N, H, W, C) in [-1, 1] -> one (rows*H, ncols*W) grey or (.., .., 3) RGB array in
    [0, 1], 1-pixel white gaps."""
    n, h, w = images.shape[:3]
    rows = -(-n // ncols)
    out = np.ones((rows * (h + 1) - 1, ncols * (w + 1) - 1, *images.shape[3:]), np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        out[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = img
    return _shown(out)


def image_grid(path, images: np.ndarray, *, ncols: int = 8, title: str = "") -> None:
    grid = tile(np.asarray(images), ncols)
    fig, ax = plt.subplots(figsize=(ncols * 0.6 + 0.4, grid.shape[0] / grid.shape[1] * ncols * 0.6))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    _save(fig, path)


def loss_curves(path, records: list[dict], keys: list[str], *, title: str = "") -> None:
    """records: dicts with a ``step`` and the given keys (from metrics.jsonl)."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    steps = [r["step"] for r in records]
    for k in keys:
        ax.plot(steps, [r.get(k, np.nan) for r in records], label=k, lw=1)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper right")  # "best" scans every point: slow
    ax.grid(alpha=0.3)
    _save(fig, path)


def roc_pr_curves(path, curves: dict[str, tuple], *, kind: str) -> None:
    """curves: name -> (x, y, area). kind: "roc" (fpr, tpr) or "pr" (recall, precision)."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for name, (x, y, area) in curves.items():
        ax.plot(x, y, lw=1.2, label=f"{name} ({area:.3f})")
    if kind == "roc":
        ax.plot([0, 1], [0, 1], "k:", lw=0.8)
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.set_title("ROC (AUROC)")
    else:
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title("precision-recall (AUPRC)")
    ax.legend(fontsize=8, loc="lower right" if kind == "roc" else "lower left")
    ax.grid(alpha=0.3)
    _save(fig, path)


def score_histograms(path, scores: dict[str, np.ndarray], labels: np.ndarray) -> None:
    """One panel per score: histograms of normal (label 0) and anomalous (label 1) images."""
    fig, axes = plt.subplots(1, len(scores), figsize=(4 * len(scores), 3), squeeze=False)
    for ax, (name, s) in zip(axes[0], scores.items(), strict=True):
        bins = np.histogram_bin_edges(s, bins=40)
        ax.hist(s[labels == 0], bins=bins, alpha=0.6, label="normal", density=True)
        ax.hist(s[labels == 1], bins=bins, alpha=0.6, label="anomaly", density=True)
        ax.set_title(name)
        ax.legend(fontsize=8, loc="upper right")
    _save(fig, path)


def extremes_grid(path, rows: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]) -> None:
    """rows: (caption, x, G(z*), residual map); x and G(z*) (H, W, C) in [-1, 1], residual maps
    (H, W, C) averaged over channels and shown in [0, 2] -> hot."""
    fig, axes = plt.subplots(len(rows), 3, figsize=(4.2, 1.45 * len(rows)), squeeze=False)
    for r, (caption, x, gx, res) in enumerate(rows):
        panels = ((_shown(x), "gray", 1), (_shown(gx), "gray", 1))
        panels += ((np.asarray(res).mean(axis=-1), "hot", 2),)
        for c, (img, cmap, vmax) in enumerate(panels):
            ax = axes[r, c]
            ax.imshow(img, cmap=cmap, vmin=0, vmax=vmax)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(("x", "G(z*)", "|x - G(z*)|")[c], fontsize=8)
        axes[r, 0].set_ylabel(caption, fontsize=7)
    _save(fig, path)


def prediction_figure(path, x, gx, residual, *, caption: str) -> None:
    """One scored image: the input, G(z*), and the residual map (H, W) laid over the input as a
    heat map (colour scale 0 .. the map's own maximum, stated in the colour bar)."""
    fig, axes = plt.subplots(1, 3, figsize=(7.2, 2.6))
    axes[0].imshow(_shown(x), cmap="gray", vmin=0, vmax=1)
    axes[1].imshow(_shown(gx), cmap="gray", vmin=0, vmax=1)
    axes[2].imshow(_shown(x), cmap="gray", vmin=0, vmax=1)
    heat = axes[2].imshow(residual, cmap="jet", alpha=0.5, vmin=0, vmax=max(residual.max(), 1e-6))
    fig.colorbar(heat, ax=axes[2], fraction=0.046, pad=0.04)
    for ax, title in zip(axes, ("input", "G(z*)", "|x - G(z*)| over the input"), strict=True):
        ax.set_title(title, fontsize=8)
        ax.set_axis_off()
    fig.suptitle(caption, fontsize=8)
    _save(fig, path)


def bar_chart(
    path,
    classes,
    series: dict[str, tuple],
    *,
    reference: dict | None = None,
    ylabel: str = "AUROC (%)",
    title: str = "",
) -> None:
    """Grouped bars per class with error bars. series: name -> (means, stds) per class;
    reference: name -> values per class (NaN where absent), drawn as markers, each its own
    shape and colour (apart from the bars'); the legend stands beside the axes, covering none."""
    reference = reference or {}
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(classes) + 2) + 3.2, 3.8))
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(classes))
    for i, (name, (mean, std)) in enumerate(series.items()):
        ax.bar(
            x + (i - (len(series) - 1) / 2) * width,
            mean,
            width,
            yerr=std,
            capsize=2,
            label=name,
            color=plt.cm.tab10(i % 10),
        )
    for j, (name, vals) in enumerate(reference.items()):
        ax.plot(
            x,
            vals,
            marker=REFERENCE_MARKERS[j % len(REFERENCE_MARKERS)],
            ms=9,
            mew=1.8,
            mfc="none",
            ls="none",
            color=REFERENCE_COLOURS[j % len(REFERENCE_COLOURS)],
            label=name,
        )
    ax.set_xticks(x, [str(c) for c in classes])
    ax.set_xlabel("class")
    ax.set_ylabel(ylabel)
    lows = [np.nanmin(m - s) for m, s in series.values()]
    lows += [np.nanmin(v) for v in reference.values() if np.isfinite(v).any()]
    lo = min(lows) if lows else 0
    ax.set_ylim(max(0, lo - 5), 100)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)


# Reference markers: open shapes that read apart from the bars and from one another, in
# colours of their own (Dark2, then Set1's first four).
REFERENCE_MARKERS = ("_", "x", "+", "1", "2", "3", "4", "o", "s", "D", "^", "v")
REFERENCE_COLOURS = tuple(plt.cm.Dark2(i) for i in range(8)) + tuple(
    plt.cm.Set1(i) for i in range(4)
)


def roc_grid(path, curves: dict[int, dict[str, tuple]], *, title: str = "") -> None:
    """One small ROC panel per class: ``curves[class][method] = (fpr, tpr, auroc)``."""
    keys = sorted(curves)
    cols = min(5, len(keys))
    rows = -(-len(keys) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.6 * rows), squeeze=False)
    for ax, c in zip(axes.ravel(), keys, strict=False):
        for name, (fpr, tpr, auc) in curves[c].items():
            ax.plot(fpr, tpr, lw=1, label=f"{name} {auc:.3f}")
        ax.plot([0, 1], [0, 1], "k:", lw=0.6)
        ax.set_title(f"class {c}", fontsize=8)
        ax.legend(fontsize=5, loc="lower right")
        ax.tick_params(labelsize=6)
    for ax in axes.ravel()[len(keys) :]:
        ax.set_axis_off()
    fig.suptitle(title, fontsize=9)
    _save(fig, path)


def frontier(path, points: list[tuple[str, float, float]], *, title: str = "") -> None:
    """Quality against cost: (name, images per second, AUROC %) per method, log x."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for i, (name, rate, auroc) in enumerate(points):
        ax.plot(rate, auroc, "o", color=f"C{i}", ms=7, label=name)
    order = sorted(points, key=lambda p: p[1])
    ax.plot([p[1] for p in order], [p[2] for p in order], "-", color="0.6", lw=1, zorder=0)
    ax.set_xscale("log")
    ax.set_xlabel("images scored per second (log)")
    ax.set_ylabel("mean AUROC (%)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    _save(fig, path)


def curve_panels(
    path, panels: list[tuple[str, str, dict]], *, ylabel: str, title: str = "", logy=False
):
    """One row of panels, each (panel title, x label, {label: [(xs, ys), ...]}): every (xs, ys)
    of a label drawn thin in that label's colour (one per seed), their pointwise mean thick."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.6), squeeze=False)
    for ax, (name, xlabel, series) in zip(axes[0], panels, strict=True):
        for i, (label, runs) in enumerate(series.items()):
            for xs, ys in runs:
                ax.plot(xs, ys, color=f"C{i}", lw=0.7, alpha=0.45)
            n = min(len(xs) for xs, _ in runs)
            mean_x = np.mean([np.asarray(xs[:n]) for xs, _ in runs], axis=0)
            mean_y = np.mean([np.asarray(ys[:n]) for _, ys in runs], axis=0)
            ax.plot(mean_x, mean_y, color=f"C{i}", lw=2, label=f"{label} (mean of {len(runs)})")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_yscale("log" if logy else "linear")
        ax.set_title(name, fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def pair_heatmaps(
    path, panels: dict[str, np.ndarray], rows: list, cols: list, *, ylabel: str, xlabel: str,
    title: str = "",
) -> None:  # fmt: skip
    """One heatmap per panel name, each a (len(rows), len(cols)) array of AUROC % (NaN where
    there is no pair), the values written in the cells; red where a method confuses a pair."""
    n = len(panels)
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    # Each panel row also needs about an inch for its title, ticks and axis label, however few
    # rows of pairs it has (one study class leaves the heatmap a single row).
    size = (0.4 * len(cols) * ncols + 1.4, (0.4 * len(rows) + 1.0) * nrows + 0.5)
    fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=False, layout="constrained")
    image = None
    for ax, (name, values) in zip(axes.flat, panels.items(), strict=False):
        image = ax.imshow(values, cmap="RdYlGn", vmin=50, vmax=100)
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=6)
        ax.set_xticks(range(len(cols)), [str(c) for c in cols], fontsize=7)
        ax.set_yticks(range(len(rows)), [str(r) for r in rows], fontsize=7)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.set_title(name, fontsize=9)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.6, label="AUROC %")
    fig.suptitle(title, fontsize=10)
    _save(fig, path)
