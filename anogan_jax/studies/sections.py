"""The sections of a study's report that compare its numbers with something: the quality-cost
frontier, the pairs of classes each method confuses, the published results, and the study's
targets. ``report.write_report`` puts them together."""

from __future__ import annotations

import numpy as np

from anogan_jax.files import read_json
from anogan_jax.runs import plotting
from anogan_jax.studies.layout import AUROC_BY_PAIR, FRONTIER_SPEED, table_path
from anogan_jax.studies.numbers import (
    frontier_points,
    frontier_shape,
    measured_speeds,
    target_results,
)


def finished(auroc: dict, cls) -> bool:
    """Whether some method has a result for class ``cls`` (a running study's mean rows are
    over these classes)."""
    return any(cls in by_class for by_class in auroc.values())


def in_study_order(study, values: dict) -> list[str]:
    """The methods of ``values`` in the config's order, seed ensembles after the methods, then
    the complexity-discounted rows."""
    order = study.row_names()
    return [m for m in order if m in values] + [m for m in values if m not in order]


def frontier(study, cells, results) -> list[str]:
    """The quality-cost section and ``frontier.png``: each frontier method's mean AUROC against
    its images scored per second (``numbers.frontier_points``)."""
    points = frontier_points(study, cells, results)
    if not points:
        return []
    plotting.frontier(
        table_path(results, "frontier.png"),
        [(p["method"], p["images_per_s"], p["auroc"]) for p in points],
        title=f"{study.name}: quality against cost",
    )
    lines = [
        "",
        "## Quality against cost",
        "",
        "Mean AUROC over the classes scored so far against images scored per second on this "
        "machine: "
        + (
            f"one model's steady-state rate, measured quietly by `experiments/bench_frontier.py` "
            f"([{FRONTIER_SPEED}.md]({FRONTIER_SPEED}.md)), a full batch of the method's own "
            "size per call, compile apart."
            if measured_speeds(results) is not None
            else "the scoring time of the cells (the seeds' shared program split evenly, "
            "compile and the validation images included; the machine was shared with other "
            "work, so the rates are indicative; `experiments/bench_frontier.py` measures them "
            "quietly)."
        ),
        "",
        "| method | mean AUROC % | images/s | classes |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{p['method']}` | {p['auroc']:.1f} | {p['images_per_s']:.3g} | {p['classes']} |"
        for p in points
    ]
    return [*lines, "", frontier_bend(points), "", "![quality against cost](frontier.png)"]


def class_pairs(study, results) -> list[str]:
    """The report's section on ``auroc_by_pair.json`` (``derived.pair_aurocs``): a heatmap per
    method and each method's three hardest pairs."""
    path = table_path(results, AUROC_BY_PAIR)
    if not path.exists():
        return []
    table = read_json(path)
    normal = study.run.protocol == "one_class_normal"
    classes = [c for c in study.classes if any(str(c) in t for t in table.values())]
    others = sorted(
        {int(d) for t in table.values() for row in t.values() for d in row} | set(classes)
    )
    panels = {
        m: np.array([[t.get(str(c), {}).get(str(d), np.nan) for d in others] for c in classes])
        for m, t in table.items()
    }
    study_axis, other_axis = ("normal class", "anomalous class") if normal else (
        "anomalous class", "normal class")  # fmt: skip
    plotting.pair_heatmaps(
        table_path(results, "auroc_by_pair.png"), panels, classes, others, ylabel=study_axis,
        xlabel=other_axis, title=f"{study.name}: AUROC of each pair of classes, mean over seeds",
    )  # fmt: skip

    def pair(c, d):
        return f"{c} vs {d}" if normal else f"{d} vs {c}"

    lines = [
        "",
        "## Which classes each method confuses",
        "",
        f"Row: the {study_axis}; column: the {other_axis}; cell: the AUROC (%, mean over seeds) "
        "of that pair's test images alone (`auroc_by_pair.json`). Below, each method's three "
        "hardest pairs, normal vs anomalous.",
        "",
        "| method | hardest pairs (AUROC %) |",
        "|---|---|",
    ]
    for m, t in table.items():
        pairs = sorted((v, int(c), int(d)) for c, row in t.items() for d, v in row.items())
        hardest = ", ".join(f"{pair(c, d)}: {v:.1f}" for v, c, d in pairs[:3])
        lines.append(f"| `{m}` | {hardest} |")
    return [*lines, "", "![AUROC of each pair of classes](auroc_by_pair.png)"]


def against_published(study, auroc: dict) -> list[str]:
    """Each method's mean AUROC minus each published mean, over the classes both cover."""
    if not study.published:
        return []
    refs = list(study.published)
    lines = [
        "",
        "## Against the published numbers",
        "",
        "Each method's mean AUROC (%) minus each reference's, both over the classes they "
        "both cover.",
        "",
        "| method | mean AUROC | " + " | ".join(refs) + " |",
        "|---|---|" + "---|" * len(refs),
    ]
    for m in in_study_order(study, auroc):
        per = auroc[m]
        row = f"| `{m}` | {np.mean([v[0] for v in per.values()]):.1f} |"
        for vals in study.published.values():
            common = [c for c in study.classes if c in per and c in vals]
            if common:
                ours = np.mean([per[c][0] for c in common])
                row += f" {ours - np.mean([vals[c] for c in common]):+.1f} |"
            else:
                row += " - |"
        lines.append(row)
    return lines


def targets(study, auroc: dict) -> list[str]:
    """The study's targets, each met or missed and by how much (``target_results``)."""
    if not study.targets:
        return []
    done = [c for c in study.classes if finished(auroc, c)]
    over = (
        "every class"
        if len(done) == len(study.classes)
        else f"the {len(done)} classes finished of {len(study.classes)}, so the verdicts are "
        "provisional"
    )
    lines = [
        "",
        "## Targets",
        "",
        f"Each goal set for this study, checked over {over} (AUROC %; a row's mean over the "
        "classes it has).",
        "",
        "| target | found | verdict |",
        "|---|---|---|",
    ]
    for t in target_results(study, auroc):
        if t["met"] is None:
            verdict = "not yet measured"
        elif t["met"]:
            verdict = f"met ({t['gap']:+.1f})"
        else:
            verdict = f"**missed by {-t['gap']:.1f}**"
        lines.append(f"| {t['label']} | {describe_target(t)} | {verdict} |")
    return lines


def describe_target(found: dict) -> str:
    """What ``numbers.target_results`` found for one target, in words."""
    if found["kind"] == "at_least":
        return _at_least(found)
    if found["kind"] == "than":
        return _than(found)
    return _within(found)


def _at_least(found: dict) -> str:
    means, best = found["means"], found["best"]
    if best is None:
        return "no row has every class yet"
    result = f"best `{best}` {means[best]:.1f}"
    others = [f"`{m}` {v:.1f}" for m, v in means.items() if m != best and found["others"]]
    result += "; " + ", ".join(others) if others else ""
    fewer = found["fewer"]
    return result + (f" (not counted, fewer classes: {_names(fewer)})" if fewer else "")


def _than(found: dict) -> str:
    if not found["pairs"]:
        return "no common class yet"
    return "; ".join(
        f"`{p['method']}` {p['mean']:.1f} vs `{p['than']}` {p['than_mean']:.1f} "
        f"({p['mean'] - p['than_mean']:+.1f}"
        + (f", {p['classes']} classes)" if p["classes"] > 1 else ", 1 class)")
        for p in found["pairs"]
    )


def _within(found: dict) -> str:
    parts, within = [], found["within"]
    for row in found["rows"]:
        where = f"classes {_span(row['classes'])}" + ("" if row["counted"] else ", not counted")
        short = row["short"]
        if short:
            under = ", ".join(f"{c} by {-d:.1f}" for c, d in short.items())
            n = f"{len(short)} class" + ("es" if len(short) > 1 else "")
            parts.append(f"`{row['method']}` ({where}): {n} more than {within:g} under: {under}")
        else:
            worst, diff = row["closest"]
            parts.append(
                f"`{row['method']}` ({where}): every class within {within:g} "
                f"(closest: class {worst}, {diff:+.1f})"
            )
    return "; ".join(parts) or "no class yet"


def _span(classes: list) -> str:
    """Classes as runs: [0, 1, 2, 4, 5] -> "0-2, 4-5"."""
    classes = sorted(classes)
    runs, start = [], 0
    for i in range(1, len(classes) + 1):
        if i == len(classes) or classes[i] != classes[i - 1] + 1:
            a, b = classes[start], classes[i - 1]
            runs.append(str(a) if a == b else f"{a}-{b}")
            start = i
    return ", ".join(runs)


def _names(methods) -> str:
    return ", ".join(f"`{m}`" for m in methods)


def frontier_bend(points: list[dict]) -> str:
    """Where the quality-cost frontier bends, in words (``numbers.frontier_shape``): the
    methods that no faster method beats (the frontier), the AUROC points each tenfold slowdown
    buys along it, and the point after which that gain falls most (the bend); methods off the
    frontier are named. Empty without points."""
    if not points:
        return ""
    shape = frontier_shape(points)
    off = shape["off"]
    off_text = f" Off the frontier (slower, and no better than a faster method): {_names(off)}."
    off_text = off_text if off else ""
    head = shape["front"][0]
    if not shape["moves"]:
        return (
            f"The frontier does not bend: `{head['method']}`, the fastest method, is also the "
            f"best ({head['auroc']:.1f}); no slower method buys any AUROC back." + off_text
        )
    steps = "; ".join(
        f"`{m['method']}` +{m['gain']:.1f} for {m['slower']:.3g}x the time "
        f"({m['per_tenfold']:.1f} points per tenfold)"
        for m in shape["moves"]
    )
    text = f"Along the frontier from `{head['method']}` ({head['auroc']:.1f}): {steps}."
    bend = shape["bend"]
    if bend is not None:
        text += (
            f" It bends at `{bend['method']}`: up to it a tenfold slowdown buys "
            f"{bend['before']:.1f} points, beyond it {bend['after']:.1f}."
        )
    return text + off_text
