"""The numbers a study's report is made of, from its cells and results folder: AUROC per method
and class, the seeds' and the subsample's standard errors, the quality-cost points and the
study's time."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from anogan_jax.runs.study_scores import SUBSAMPLE_SE, TIMINGS, TRAINING_TIME, timing_path


def summarize_cells(cells: list[dict], metric: str = "auroc") -> dict:
    """{method: {class: (mean %, std %, n seeds)}} of each method's ranking column."""
    table: dict = {}
    for cell in cells:
        value = cell["scores"][cell["column"]][metric]
        if value is None:  # no finite score to rank by: listed apart in the report
            continue
        value = 100.0 * value
        table.setdefault(cell["method"], {}).setdefault(cell["class"], []).append(value)
    return {
        m: {c: (float(np.mean(v)), float(np.std(v)), len(v)) for c, v in sorted(per.items())}
        for m, per in table.items()
    }


def seed_standard_errors(cells: list[dict], classes) -> dict:
    """{method: standard error (%) of its class-mean AUROC over the seeds}: the class mean of
    each seed, then std (ddof 1) / sqrt(number of seeds). Only methods whose every seed has
    every class (and at least two seeds)."""
    per: dict = {}
    for cell in cells:
        value = cell["scores"][cell["column"]]["auroc"]
        if value is not None and "seed" in cell:
            per.setdefault(cell["method"], {}).setdefault(cell["seed"], {})[cell["class"]] = value
    out = {}
    for method, seeds in per.items():
        means = [
            100.0 * np.mean([v[c] for c in classes])
            for v in seeds.values()
            if set(classes) <= set(v)
        ]
        if len(means) >= 2 and len(means) == len(seeds):
            out[method] = float(np.std(means, ddof=1) / np.sqrt(len(means)))
    return out


def subsample_mean_errors(results, auroc: dict) -> dict:
    """{method: standard error (%) of its class-mean AUROC from the test subsample}: from
    ``<results>/subsample_se.json`` (per class, ``study_scores.subsample_errors``), combined
    over the classes the method has finished as independent errors (the classes' subsamples
    are drawn apart): sqrt(sum of squares) / number of classes. Methods missing a class are
    left out."""
    path = Path(results) / SUBSAMPLE_SE
    if not path.exists():
        return {}
    per = json.loads(path.read_text())
    out = {}
    for method, by_class in per.items():
        done = [str(c) for c in auroc.get(method, {})]
        if done and all(c in by_class for c in done):
            out[method] = float(np.sqrt(sum(by_class[c] ** 2 for c in done)) / len(done))
    return out


# ``experiments/bench_frontier.py`` writes <results>/frontier_speed.json: quiet, steady-state
# images/s of one model per frontier method.
FRONTIER_SPEED = "frontier_speed"


def measured_speeds(results) -> dict | None:
    """method -> images/s from ``<results>/frontier_speed.json``, or None without the file."""
    path = Path(results) / f"{FRONTIER_SPEED}.json"
    if not path.exists():
        return None
    return {r["method"]: r["images_per_s"] for r in json.loads(path.read_text())["rows"]}


def frontier_points(study, cells: list[dict], results) -> list[dict]:
    """For each method of ``study.frontier``: mean AUROC (%) over classes (each class the mean
    over its seeds) against images scored per second: the quiet benchmark's rate when
    ``frontier_speed.json`` is there (``measured_speeds``), else all its cells' images over
    their recorded scoring seconds (the seeds share one program, so each is charged 1/S)."""
    auroc = summarize_cells(cells, "auroc")
    speeds = measured_speeds(results)
    points = []
    for m in study.frontier:
        mine = [c for c in cells if c["method"] == m and c["seed"] != "ensemble"]
        seconds, images = 0.0, 0
        for c in mine:
            t = timing_path(results, c["class"], c["seed"], m)
            if t.exists():
                seconds += json.loads(t.read_text())["score"]
                images += c["num_test"] + c["num_val"]
        rate = images / seconds if seconds > 0 else None
        if speeds is not None:
            rate = speeds.get(m)
        if m in auroc and rate:
            per_class = [v[0] for v in auroc[m].values()]
            points.append(
                {
                    "method": m,
                    "auroc": float(np.mean(per_class)),
                    "images_per_s": rate,
                    "classes": len(per_class),
                }
            )
    return points


def total_hours(results) -> dict:
    """The study's time in hours: ``total_hours``, the sum of the cells' recorded timings
    (training once per class and seed, scoring per cell), which hold only the time of the
    process that wrote each cell; ``score_hours``, their scoring part; and, where
    ``training_time.json`` has them (``study_scores.training_times``, from the run logs, across
    resumes), ``logged_training_hours`` over ``logged_classes`` classes."""
    folder = Path(results) / TIMINGS
    total, score, seen_train = 0.0, 0.0, set()
    for p in sorted(folder.glob("*.json")):
        t = json.loads(p.read_text())
        key = p.stem.split("_")[:2]  # class, seed: training counted once per seed
        if tuple(key) not in seen_train:
            total += t["train_per_seed"] + t["encoder"]
            seen_train.add(tuple(key))
        total += t["score"]
        score += t["score"]
    out = {"total_hours": total / 3600, "score_hours": score / 3600}
    logged = Path(results) / TRAINING_TIME
    if logged.exists():
        per_class = json.loads(logged.read_text())
        seconds = sum(t["gan"] + t["encoder"] for t in per_class.values())
        out.update(logged_training_hours=seconds / 3600, logged_classes=len(per_class))
    return out


def class_times(results) -> dict[int, dict]:
    """Per class with recorded cells, its wall seconds, all seeds together: "gan" and "encoder"
    from ``training_time.json`` (the run logs, across every process, pauses included;
    "logged": True) where it has the class, else from the cells' timings ("logged": False: the
    process that wrote them only, each seed's largest record); "score", the cells' scoring
    summed over seeds and methods (a cell holds 1/S of its program's time)."""
    logged_path = Path(results) / TRAINING_TIME
    logged = json.loads(logged_path.read_text()) if logged_path.exists() else {}
    score: dict[int, float] = {}
    trained: dict[int, dict] = {}  # class -> seed -> (GAN, encoder) seconds
    for p in sorted((Path(results) / TIMINGS).glob("*.json")):
        cls, seed = p.stem.split("_")[:2]  # c<class>_s<seed>_<method>
        t = json.loads(p.read_text())
        cls = int(cls[1:])
        score[cls] = score.get(cls, 0.0) + t["score"]
        before = trained.setdefault(cls, {}).get(seed, (0.0, 0.0))
        now = (t["train_per_seed"], t["encoder"])
        trained[cls][seed] = tuple(max(a, b) for a, b in zip(before, now, strict=True))
    out = {}
    for cls in sorted(score):
        if str(cls) in logged:
            gan, encoder = logged[str(cls)]["gan"], logged[str(cls)]["encoder"]
        else:
            gan, encoder = (sum(part) for part in zip(*trained[cls].values(), strict=True))
        out[cls] = {"gan": gan, "encoder": encoder, "score": score[cls]}
        out[cls]["logged"] = str(cls) in logged
    return out


def _mean(by_class: dict, classes) -> float:
    return float(np.mean([by_class[c][0] for c in classes]))


def target_results(study, auroc: dict) -> list[dict]:
    """Each of ``study.targets`` checked against ``auroc`` ({method: {class: (mean %, ...)}}, the
    classes finished so far): {"label", "result" (what was found, in words), "met" (True /
    False, None when no class has the numbers yet), "gap" (points above the goal, negative when
    short; for a per-class target, the margin of the best row's worst class)}."""
    done = sorted({c for by_class in auroc.values() for c in by_class})
    out = []
    for target in study.targets:
        kind = target.kind()
        if kind == "at_least":
            out.append(_at_least(target, auroc, done))
        elif kind == "than":
            out.append(_than(target, auroc))
        else:
            out.append(_within(target, auroc, study.published[target.reference], done))
    return out


def _at_least(target, auroc: dict, done) -> dict:
    """The best mean over the rows that have every finished class (a row with fewer classes
    averages over others, so it is named but not counted)."""
    names = [m for m in (target.methods or auroc) if m in auroc]
    full = {m: _mean(auroc[m], done) for m in names if set(done) <= set(auroc[m])}
    fewer = [m for m in names if m not in full]
    if not full:
        return {"label": target.label, "result": "no row has every class yet", "met": None,
                "gap": None}  # fmt: skip
    best = max(full, key=full.get)
    gap = full[best] - target.at_least
    result = f"best `{best}` {full[best]:.1f}"
    others = [f"`{m}` {v:.1f}" for m, v in full.items() if m != best and target.methods]
    result += "; " + ", ".join(others) if others else ""
    result += f" (not counted, fewer classes: {_names(fewer)})" if fewer else ""
    return {"label": target.label, "result": result, "met": gap >= 0, "gap": gap}


def _than(target, auroc: dict) -> dict:
    """Each method's mean less the other's, over the classes both have; the worst decides."""
    parts, gaps = [], []
    for m in target.methods:
        common = [c for c in auroc.get(m, {}) if c in auroc.get(target.than, {})]
        if not common:
            continue
        ours, theirs = _mean(auroc[m], common), _mean(auroc[target.than], common)
        gaps.append(ours - theirs)
        parts.append(
            f"`{m}` {ours:.1f} vs `{target.than}` {theirs:.1f} ({ours - theirs:+.1f}"
            + (f", {len(common)} classes)" if len(common) > 1 else ", 1 class)")
        )
    if not gaps:
        return {"label": target.label, "result": "no common class yet", "met": None, "gap": None}
    return {"label": target.label, "result": "; ".join(parts), "met": min(gaps) >= 0,
            "gap": min(gaps)}  # fmt: skip


def _within(target, auroc: dict, published: dict, done) -> dict:
    """Per method, the classes more than ``within`` under the published value, by how much. The
    verdict is the best row's that has every finished class the reference covers (the target
    asks that one method keep every class close); a row with fewer is named, not counted."""
    parts, margins = [], []
    needed = {c for c in done if c in published}
    for m in target.methods:
        diffs = {c: v[0] - published[c] for c, v in auroc.get(m, {}).items() if c in published}
        if not diffs:
            continue
        short = {c: d for c, d in diffs.items() if d < -target.within}
        counted = needed <= set(diffs)
        if counted:
            margins.append(min(diffs.values()) + target.within)
        where = f"classes {_span(list(diffs))}" + ("" if counted else ", not counted")
        if short:
            under = ", ".join(f"{c} by {-d:.1f}" for c, d in short.items())
            n = f"{len(short)} class" + ("es" if len(short) > 1 else "")
            parts.append(f"`{m}` ({where}): {n} more than {target.within:g} under: {under}")
        else:
            worst = min(diffs, key=diffs.get)
            parts.append(
                f"`{m}` ({where}): every class within {target.within:g} "
                f"(closest: class {worst}, {diffs[worst]:+.1f})"
            )
    if not margins:
        result = "; ".join(parts) or "no class yet"
        return {"label": target.label, "result": result, "met": None, "gap": None}
    return {"label": target.label, "result": "; ".join(parts), "met": max(margins) >= 0,
            "gap": max(margins)}  # fmt: skip


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
    """Where the quality-cost frontier bends, in words, from ``frontier_points``: the methods
    that no faster method beats (the frontier), the AUROC points each tenfold slowdown buys
    along it, and the point after which that gain falls most (the bend); methods off the
    frontier are named. Empty without points."""
    if not points:
        return ""
    # Of methods equally fast, the better one first: the other is then off the frontier.
    ordered = sorted(points, key=lambda p: (-p["images_per_s"], -p["auroc"]))
    front, best = [], -np.inf
    for p in ordered:
        if p["auroc"] > best:
            front.append(p)
            best = p["auroc"]
    off = [p["method"] for p in ordered if p not in front]
    off_text = f" Off the frontier (slower, and no better than a faster method): {_names(off)}."
    off_text = off_text if off else ""
    head = front[0]
    if len(front) == 1:
        return (
            f"The frontier does not bend: `{head['method']}`, the fastest method, is also the "
            f"best ({head['auroc']:.1f}); no slower method buys any AUROC back." + off_text
        )
    moves = [
        (b["method"], b["auroc"] - a["auroc"], a["images_per_s"] / b["images_per_s"])
        for a, b in zip(front, front[1:], strict=False)
    ]
    slopes = [gain / np.log10(slower) for _, gain, slower in moves]
    steps = "; ".join(
        f"`{m}` +{gain:.1f} for {slower:.3g}x the time ({s:.1f} points per tenfold)"
        for (m, gain, slower), s in zip(moves, slopes, strict=True)
    )
    text = f"Along the frontier from `{head['method']}` ({head['auroc']:.1f}): {steps}."
    if len(slopes) > 1:
        drops = [slopes[i] - slopes[i + 1] for i in range(len(slopes) - 1)]
        i = int(np.argmax(drops))
        text += (
            f" It bends at `{front[i + 1]['method']}`: up to it a tenfold slowdown buys "
            f"{slopes[i]:.1f} points, beyond it {slopes[i + 1]:.1f}."
        )
    return text + off_text
