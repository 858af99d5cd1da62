"""Aggregates a study's cells into REPORT.md, a per-class bar chart and ROC curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anogan_jax.files import atomic_write_text
from anogan_jax.runs import plotting
from anogan_jax.studies import sections as study_sections
from anogan_jax.studies.layout import NOTES, REPORT, table_path
from anogan_jax.studies.numbers import (
    seed_standard_errors,
    subsample_mean_errors,
    summarize_cells,
)
from anogan_jax.studies.reproduce import reproduce
from anogan_jax.studies.sections import finished, in_study_order


def _unscored(cells) -> list[str]:
    """A line naming the cells whose score was non-finite on every image (left out of the
    means), and the cells that left some images out."""

    def left_out(c):
        return c["num_test"] - c["scores"][c["column"]].get("num_finite", c["num_test"])

    none = [c for c in cells if c["scores"][c["column"]]["auroc"] is None]
    some = [c for c in cells if left_out(c) and c not in none]
    name = "class {class} seed {seed} {method}".format_map
    lines = []
    if none:
        lines.append(
            "Left out of the means, no finite score on any image: "
            + "; ".join(name(c) for c in none)
            + "."
        )
    if some:
        lines.append(
            "Scored on their finite images only: "
            + "; ".join(f"{name(c)} ({left_out(c)} test images left out)" for c in some)
            + "."
        )
    return ["", *lines] if lines else []


def _table(study, values: dict, se: dict | None = None, sub: dict | None = None, *,
           references: bool = True) -> list[str]:  # fmt: skip
    """A method a row, a class a column, then the mean over the classes (bold); with
    ``references``, the published rows below the methods."""
    methods = in_study_order(study, values)
    # A study still running has finished some classes only: its mean column, references
    # included, is over those classes, and says so.
    done = [c for c in study.classes if finished(values, c)]
    partial = len(done) < len(study.classes)
    label = f"mean of the {len(done)} finished classes" if partial else "mean"
    lines = [
        "| method | " + " | ".join(str(c) for c in study.classes) + f" | **{label}** |",
        "|---|" + "---|" * (len(study.classes) + 1),
    ]
    for m in methods:
        row = f"| `{m}` |" + "".join(_cell(values[m].get(c)) for c in study.classes)
        shown = f" ± {se[m]:.1f}" if se and m in se else ""
        shown += f" (subsample ± {sub[m]:.1f})" if sub and m in sub else ""
        mine = [c for c in study.classes if c in values[m]]
        mean = np.mean([values[m][c][0] for c in mine])
        # A row that lacks some finished classes is a mean over fewer: say over how many.
        fewer = f" ({len(mine)} of {len(done)} classes)" if len(mine) < len(done) else ""
        lines.append(row + f" **{mean:.1f}**{fewer}{shown} |")
    for r, published in study.published.items() if references else ():
        row = f"| {r} |" + "".join(
            f" {published[c]:.1f} |" if c in published else " - |" for c in study.classes
        )
        vals = [published[c] for c in done if c in published]
        lines.append(row + (f" {np.mean(vals):.1f} |" if vals else " - |"))
    return lines


def _cell(value) -> str:
    """ "mean ± std" over seeds; a single value (a seed ensemble) without the ±."""
    if not value:
        return " - |"
    mean, std, n = value
    return f" {mean:.1f} |" if n == 1 else f" {mean:.1f} ± {std:.1f} |"


def write_report(study, cells: list[dict], results, *, command: str, timings: dict) -> str:
    """Writes REPORT.md, auroc_by_class.png, roc_seed<s>.png and, when the study has written
    ``auroc_by_pair.json``, auroc_by_pair.png into ``results``. The study's NOTES.md there, when
    it has one, is the report's "Notes" section."""
    results = Path(results)
    auroc, auprc = summarize_cells(cells, "auroc"), summarize_cells(cells, "auprc")
    seed = _plots(study, cells, auroc, results)
    lines = [
        f"# {study.name}",
        "",
        _intro(study, cells),
        *_unscored(cells),
        "",
        *_table(
            study,
            auroc,
            seed_standard_errors(cells, [c for c in study.classes if finished(auroc, c)]),
            subsample_mean_errors(results, auroc),
        ),
        "",
        "AUPRC (%), mean ± std over seeds:",
        "",
        *_table(study, auprc, references=False),
        "",
        "![AUROC by class](auroc_by_class.png)",
        "",
        f"![ROC curves, seed {seed}](roc_seed{seed}.png)",
        *_setup(study),
        *study_sections.frontier(study, cells, results),
        *study_sections.class_pairs(study, results),
        *study_sections.against_published(study, auroc),
        *study_sections.targets(study, auroc),
        *_notes(results),
        *reproduce(command, results, cells, timings),
    ]
    text = "\n".join(lines) + "\n"
    atomic_write_text(table_path(results, REPORT), text)
    return text


def _notes(results: Path) -> list[str]:
    """The study's NOTES.md (what its numbers alone do not say), as the report's last section
    before how to reproduce it."""
    path = table_path(results, NOTES)
    notes = path.read_text().strip() if path.exists() else ""
    return ["", "## Notes", "", notes] if notes else []


def _plots(study, cells: list[dict], auroc: dict, results: Path) -> int:
    """auroc_by_class.png and the ROC curves of the first seed, whose number it returns."""
    series = {
        m: (
            np.array([auroc[m].get(c, (np.nan,) * 3)[0] for c in study.classes]),
            np.array([auroc[m].get(c, (np.nan,) * 3)[1] for c in study.classes]),
        )
        for m in in_study_order(study, auroc)
    }
    refs = {
        r: np.array([v.get(c, np.nan) for c in study.classes], float)
        for r, v in study.published.items()
    }
    plotting.bar_chart(
        results / "auroc_by_class.png",
        list(study.classes),
        series,
        reference=refs,
        title=f"{study.name}: AUROC mean ± std over seeds",
    )
    seed = study.seeds[0]
    curves = {}
    for cell in cells:
        if cell["seed"] == seed:
            auc = cell["scores"][cell["column"]]["auroc"]
            if auc is None:
                continue
            pts = cell["curve"]
            curves.setdefault(cell["class"], {})[cell["method"]] = (pts["fpr"], pts["tpr"], auc)
    if curves:
        plotting.roc_grid(
            results / f"roc_seed{seed}.png", curves, title=f"{study.name}: ROC curves, seed {seed}"
        )
    return seed


def _intro(study, cells: list[dict]) -> str:
    """What the tables hold: cells finished, the ensembles, the errors shown."""
    per_class = len(study.seeds) * (len(study.methods) + len(study.complexity))
    expected = len(study.classes) * (per_class + len(study.ensembles))
    return (
        f"Cells finished: {len(cells)} of {expected} (classes x (seeds x methods"
        + (", the `_ic` rows among them" if study.complexity else "")
        + (" + seed ensembles" if study.ensembles else "")
        + ")). AUROC and AUPRC in %, mean ± std over seeds; the last checkpoint of every run "
        "is used (no model selection, no test labels before scoring). "
        + (
            "A method `<m>_ens` is the seed ensemble of `<m>`: per test image, the mean over "
            "the seeds of each seed's score standardised by its mean and std on that seed's "
            "normal validation images; one value per class, so no ± column. "
            if study.ensembles
            else ""
        )
        + (
            "A method `<m>_ic` discounts input complexity (Serra et al., ICLR 2020): `<m>`'s "
            "residual read as bits (the search's L1 residual as a Laplace, f-AnoGAN's image term "
            "as a Gaussian likelihood, each scale fitted on that seed's normal validation "
            "images) less the bits of the image's PNG file; fixed in advance, derived from the "
            "score folders, so a class whose score folders were gone when it was added has "
            "none. "
            if study.complexity
            else ""
        )
        + "AUROC first, a method a row, the published numbers below them. In the mean "
        "column, ± is the standard error over the seeds of the class-mean AUROC"
        + (
            "; a method that scores a stratified subsample of the test set (the same images "
            'for every seed) also shows "subsample ±", the standard error that comes from which '
            "images were drawn (DeLong's covariance of the seeds' AUROCs on each class's "
            "subsample, combined over the classes; `subsample_se.json`)."
            if study.shared_test_set()
            else f". Under {study.run.protocol} each seed draws its own train/test split (and "
            "so its own subsample): no image is scored by every seed, so there are no seed "
            "ensembles and no separate subsample error; the ± over seeds includes it."
        )
    )


def _setup(study) -> list[str]:
    r, e = study.run, study.encoder
    lines = [
        "",
        "## Setup",
        "",
        f"- data: `{r.dataset}`, protocol `{r.protocol}`, GCN+min-max: {r.gcn}, "
        f"normal validation hold-out {r.val_fraction:.0%} of the normal training images",
        f"- GAN: `{r.arch}`, `{r.objective}`, latent {r.latent_dim} ({r.prior} prior), "
        f"{r.steps} steps at batch {r.batch_size}; seeds {list(study.seeds)} trained at once",
        f"- encoder ({'used' if study.needs_encoder() else 'not used'}): `{e.mode}`, "
        f"{e.steps} steps, batch {e.batch_size}, RMSProp lr {e.lr}",
    ]
    for m in study.methods:
        s = m.score
        test = f"stratified subsample of {s.limit} test images" if s.limit else "full test set"
        detail = (
            f"{s.num_steps} Adam steps, lr {s.lr}, lambda {s.lam}, init {s.init}"
            if s.method == "anogan"
            else f"one pass, kappa {s.kappa}"
        )
        lines.append(f"- method `{m.name}`: {s.method} ({detail}); ranked by `{m.column}`; {test}")
    return lines
