"""The numbers a study's report is made of, from its cells and results folder: AUROC per method
and class, the seeds' and the subsample's standard errors, the quality-cost points and the
study's time."""

from __future__ import annotations

import numpy as np

from anogan_jax.files import read_json
from anogan_jax.studies.layout import (
    SUBSAMPLE_SE,
    TRAINING_TIME,
    cell_name,
    frontier_speed_path,
    table_path,
    timing_files,
    timing_path,
)


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
    ``<results>/subsample_se.json`` (per class, ``derived.subsample_errors``), combined
    over the classes the method has finished as independent errors (the classes' subsamples
    are drawn apart): sqrt(sum of squares) / number of classes. Methods missing a class are
    left out."""
    path = table_path(results, SUBSAMPLE_SE)
    if not path.exists():
        return {}
    per = read_json(path)
    out = {}
    for method, by_class in per.items():
        done = [str(c) for c in auroc.get(method, {})]
        if done and all(c in by_class for c in done):
            out[method] = float(np.sqrt(sum(by_class[c] ** 2 for c in done)) / len(done))
    return out


def measured_speeds(results) -> dict | None:
    """method -> images/s from ``<results>/frontier_speed.json``, or None without the file."""
    path = frontier_speed_path(results)
    if not path.exists():
        return None
    return {r["method"]: r["images_per_s"] for r in read_json(path)["rows"]}


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
                seconds += read_json(t)["score"]
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
    ``training_time.json`` has them (``derived.training_times``, from the run logs, across
    resumes), ``logged_training_hours`` over ``logged_classes`` classes."""
    total, score, seen_train = 0.0, 0.0, set()
    for p in timing_files(results):
        t = read_json(p)
        key = cell_name(p)[:2]  # class, seed: training counted once per seed
        if key not in seen_train:
            total += t["train_per_seed"] + t["encoder"]
            seen_train.add(key)
        total += t["score"]
        score += t["score"]
    out = {"total_hours": total / 3600, "score_hours": score / 3600}
    logged = table_path(results, TRAINING_TIME)
    if logged.exists():
        per_class = read_json(logged)
        seconds = sum(t["gan"] + t["encoder"] for t in per_class.values())
        out.update(logged_training_hours=seconds / 3600, logged_classes=len(per_class))
    return out


def class_times(results) -> dict[int, dict]:
    """Per class with recorded cells, its wall seconds, all seeds together: "gan" and "encoder"
    from ``training_time.json`` (the run logs, across every process, pauses included;
    "logged": True) where it has the class, else from the cells' timings ("logged": False: the
    process that wrote them only, each seed's largest record); "score", the cells' scoring
    summed over seeds and methods (a cell holds 1/S of its program's time)."""
    logged_path = table_path(results, TRAINING_TIME)
    logged = read_json(logged_path) if logged_path.exists() else {}
    score: dict[int, float] = {}
    trained: dict[int, dict] = {}  # class -> seed -> (GAN, encoder) seconds
    for p in timing_files(results):
        cls, seed, _ = cell_name(p)
        t = read_json(p)
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
    classes finished so far): {"label", "kind", "met" (True / False, None when no class has
    the numbers yet), "gap" (points above the goal, negative when short; for a per-class
    target, the margin of the best row's worst class)} and what was found, by kind
    (``_at_least``, ``_than``, ``_within``); ``sections.describe_target`` puts it in words."""
    done = sorted({c for by_class in auroc.values() for c in by_class})
    out = []
    for target in study.targets:
        kind = target.kind()
        if kind == "at_least":
            found = _at_least(target, auroc, done)
        elif kind == "than":
            found = _than(target, auroc)
        else:
            found = _within(target, auroc, study.published[target.reference], done)
        out.append({"label": target.label, "kind": kind, **found})
    return out


def _at_least(target, auroc: dict, done) -> dict:
    """The best mean over the rows that have every finished class (a row with fewer classes
    averages over others, so it is named in "fewer" but not counted). "means": the counted
    rows' means; "others": whether the target names its rows (then all of them are shown)."""
    names = [m for m in (target.methods or auroc) if m in auroc]
    full = {m: _mean(auroc[m], done) for m in names if set(done) <= set(auroc[m])}
    fewer = [m for m in names if m not in full]
    found = {"means": full, "fewer": fewer, "others": bool(target.methods), "best": None}
    if not full:
        return {**found, "met": None, "gap": None}
    best = max(full, key=full.get)
    gap = full[best] - target.at_least
    return {**found, "best": best, "met": gap >= 0, "gap": gap}


def _than(target, auroc: dict) -> dict:
    """Each method's mean less the other's, over the classes both have; the worst decides.
    "pairs": per method with a common class, {"method", "mean", "than", "than_mean",
    "classes"}."""
    pairs = []
    for m in target.methods:
        common = [c for c in auroc.get(m, {}) if c in auroc.get(target.than, {})]
        if common:
            pairs.append(
                {
                    "method": m,
                    "mean": _mean(auroc[m], common),
                    "than": target.than,
                    "than_mean": _mean(auroc[target.than], common),
                    "classes": len(common),
                }
            )
    if not pairs:
        return {"pairs": [], "met": None, "gap": None}
    gap = min(p["mean"] - p["than_mean"] for p in pairs)
    return {"pairs": pairs, "met": gap >= 0, "gap": gap}


def _within(target, auroc: dict, published: dict, done) -> dict:
    """Per method, the classes more than ``within`` under the published value, by how much. The
    verdict is the best row's that has every finished class the reference covers (the target
    asks that one method keep every class close); a row with fewer is named, not counted.
    "rows": per method with a published class, {"method", "classes", "counted", "short"
    ({class: difference}), "closest" ((class, difference))}."""
    rows, margins = [], []
    needed = {c for c in done if c in published}
    for m in target.methods:
        diffs = {c: v[0] - published[c] for c, v in auroc.get(m, {}).items() if c in published}
        if not diffs:
            continue
        counted = needed <= set(diffs)
        if counted:
            margins.append(min(diffs.values()) + target.within)
        worst = min(diffs, key=diffs.get)
        rows.append(
            {
                "method": m,
                "classes": list(diffs),
                "counted": counted,
                "short": {c: d for c, d in diffs.items() if d < -target.within},
                "closest": (worst, diffs[worst]),
            }
        )
    found = {"within": target.within, "rows": rows}
    if not margins:
        return {**found, "met": None, "gap": None}
    return {**found, "met": max(margins) >= 0, "gap": max(margins)}


def frontier_shape(points: list[dict]) -> dict:
    """Where the quality-cost frontier bends, from ``frontier_points``: "front", the points no
    faster method beats, fastest first; "off", the methods off it; "moves", per step along it
    {"method", "gain" (AUROC points), "slower" (times the time), "per_tenfold" (points per
    tenfold slowdown)}; "bend", the step after which that gain falls most ({"method",
    "before", "after"}), None with fewer than two steps."""
    # Of methods equally fast, the better one first: the other is then off the frontier.
    ordered = sorted(points, key=lambda p: (-p["images_per_s"], -p["auroc"]))
    front, best = [], -np.inf
    for p in ordered:
        if p["auroc"] > best:
            front.append(p)
            best = p["auroc"]
    moves = []
    for a, b in zip(front, front[1:], strict=False):
        gain, slower = b["auroc"] - a["auroc"], a["images_per_s"] / b["images_per_s"]
        moves.append(
            {
                "method": b["method"],
                "gain": gain,
                "slower": slower,
                "per_tenfold": gain / np.log10(slower),
            }
        )
    bend = None
    if len(moves) > 1:
        slopes = [m["per_tenfold"] for m in moves]
        i = int(np.argmax([slopes[i] - slopes[i + 1] for i in range(len(slopes) - 1)]))
        bend = {"method": front[i + 1]["method"], "before": slopes[i], "after": slopes[i + 1]}
    off = [p["method"] for p in ordered if p not in front]
    return {"front": front, "off": off, "moves": moves, "bend": bend}
