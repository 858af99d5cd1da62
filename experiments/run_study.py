"""Runs a study config: every (class, seed, method) cell, resumable, then its REPORT.md.

    python -m experiments.run_study experiments/configs/mnist_one_class_normal.py

Cell results go to experiments/results/<study>/ (committed); checkpoints to
runs/studies/<study>/ (not committed). Rerunning skips finished cells. The settings the
cells were computed with are kept beside them (settings.json): a config edited since is
refused, naming each changed field, by a rerun, --report-only and --merge-from. With
--program models, the GANs of every (class, seed) train as one program, then their encoders
(scoring stays per class); the cells are those of the default per-class program. With
--devices N (or all) that program is sharded over N devices (a ("models", "data") mesh).

Classes run on another machine (or in a worktree) come back with --merge-from:

    python -m experiments.run_study CONFIG --merge-from OTHER/experiments/results/<study> \
        [--runs OTHER/runs/studies/<study>]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import traceback
from pathlib import Path

from anogan_jax.errors import UserError
from anogan_jax.studies.config import Study
from anogan_jax.studies.layout import (
    check_has_cells,
    default_results,
    default_runs,
    load_cells,
)
from anogan_jax.studies.merge import merge_results
from anogan_jax.studies.numbers import total_hours
from anogan_jax.studies.report import write_report
from anogan_jax.studies.run import PROGRAMS, check_classes, derive, run_study
from anogan_jax.studies.settings import record_settings
from anogan_jax.studies.status import format_status, study_status

ROOT = Path(__file__).resolve().parent.parent


def load_config(path: str) -> Study:
    """The ``STUDY`` a config file defines; UserError naming the file (and, where its code
    fails, the line) otherwise."""
    if not Path(path).exists():
        raise UserError(f"study config {path} does not exist")
    spec = importlib.util.spec_from_file_location("study_config", path)
    if spec is None or not Path(path).is_file():
        raise UserError(
            f"{path} is not a Python file; give a study config such as "
            "experiments/configs/mnist_one_class_normal.py"
        )
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise UserError(f"study config {path} fails to load: {_where(err, path)}") from None
    if not hasattr(module, "STUDY"):
        raise UserError(f"{path} defines no STUDY; a study config sets STUDY = Study(...)")
    if not isinstance(module.STUDY, Study):
        raise UserError(
            f"{path} sets STUDY to a {type(module.STUDY).__name__}; a study config sets "
            "STUDY = Study(...)"
        )
    return module.STUDY


def _where(err: Exception, path: str) -> str:
    """``err`` as one line, with the line of the config file it came from (a SyntaxError
    names its own)."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if Path(f.filename) == Path(path)]
    return f"{type(err).__name__}: {err}" + (f" (line {frames[-1].lineno})" if frames else "")


def _classes(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(c) for c in text.split(",")]
    except ValueError:
        raise UserError(
            f"--classes {text!r}: give class numbers separated by commas, e.g. 5,6,7"
        ) from None


def _devices(text: str) -> int | str:
    if text == "all":
        return text
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise UserError(f"--devices {text!r}: give a number of devices (1 or more) or 'all'")
    return n


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("config", help="a Python file defining STUDY")
    p.add_argument("--results", default=None, help="default experiments/results/<study>")
    p.add_argument("--runs", default=None, help="default runs/studies/<study>")
    p.add_argument("--data-dir", default=None, help="tfds data folder (else $TFDS_DATA_DIR)")
    what = p.add_mutually_exclusive_group()
    what.add_argument(
        "--status",
        action="store_true",
        help="print how far each class has come and the hours left, and write nothing (safe "
        "while the study runs)",
    )
    what.add_argument(
        "--report-only",
        action="store_true",
        help="aggregate finished cells only (and add seed ensembles, complexity-discounted "
        "rows and subsample errors from the score folders)",
    )
    what.add_argument(
        "--merge-from",
        default=None,
        metavar="RESULTS",
        help="copy in the cells, timings and derived rows of another results folder of this "
        "study that --results lacks (a cell both hold must be byte-identical, or nothing is "
        "written), then write the report as --report-only does",
    )
    p.add_argument(
        "--classes",
        default=None,
        help="run only these of the study's classes, e.g. 5,6,7 (processes or machines that "
        "share --results and --runs can each take their own; the report covers every cell)",
    )
    p.add_argument(
        "--program",
        choices=PROGRAMS,
        default="class",
        help="class: train class after class, each class's seeds as one program; models: "
        "train every (class, seed) of the classes run as one program (GANs, then encoders); "
        "scoring is per class either way",
    )
    p.add_argument(
        "--devices",
        default="1",
        help="with --program models: train over this many devices, or 'all' (a mesh of "
        "gcd(models, devices) model slices x the rest splitting each model's batch); default 1",
    )
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    try:
        study = load_config(args.config)
        results = Path(args.results or default_results(ROOT, study.name))
        runs = Path(args.runs or default_runs(ROOT, study.name))
        if args.status or args.report_only or args.merge_from:
            # These read results, maybe beside a study that holds the GPU, and name the device
            # they run on (provenance.machine): they must not reserve the GPU's memory as jax
            # does by default.
            os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        if args.status:
            classes = check_classes(study, _classes(args.classes))
            print(format_status(study, study_status(study, results, runs, classes)))
            return 0
        if args.merge_from:
            plan = merge_results(study, args.merge_from, results)
            print(
                f"merged from {args.merge_from}: {plan.cells()} new cells, {plan.same_cells} "
                f"already here alike, {plan.timings()} timings, {plan.score_files()} score files"
                + (f", rows of {', '.join(plan.tables)}" if plan.tables else "")
            )
        if args.report_only:
            check_has_cells(results)
            record_settings(study, results)
        if args.report_only or args.merge_from:
            derive(study, results, runs, args.data_dir)
            cells = load_cells(results)
        else:
            cells = run_study(
                study,
                results,
                runs,
                classes=_classes(args.classes),
                data_dir=args.data_dir,
                progress=not args.quiet,
                program=args.program,
                devices=_devices(args.devices),
            )
        command = f"python -m experiments.run_study {args.config}"
        write_report(study, cells, results, command=command, timings=total_hours(results))
        print(f"{len(cells)} cells; report in {results / 'REPORT.md'}")
        return 0
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
