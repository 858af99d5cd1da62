"""What one lent accelerator runs: the accelerator check, then as many classes of a study as
the rest of the loan allows, packed so that what finished comes back.

    python -m experiments.loan --out $OUT                       # on the lent machine
    python -m experiments.loan --out /tmp/loan --tiny --study tests/tiny_study.py   # CPU smoke

1. ``experiments.accelerator_check`` with ``--check-s`` seconds of budget, its results into
   ``--out`` (``accelerator_<device>.{json,md}``);
2. the study ``--study`` (by default the dcgan28 MNIST one-class-normal study, f-AnoGAN's
   recipe) with the models-axis program, a group of ``--group`` classes at a time (classes in
   the config's order, skipping those whose cells are committed), each group killed when the
   loan's ``--budget-s`` would be passed. A group's GANs, encoders and scores are one program,
   so a group either finishes and its cells come back, or is computed again by the next loan:
   its checkpoints (tens of MB a model) are more than a loan returns;
3. the study's results folder (cells, timings, per-image score files) packed into
   ``study_<name>.tgz`` and the log of every step into ``loan.log``, both in ``--out``. Merge
   the cells back with ``python -m experiments.run_study CONFIG --merge-from <unpacked>``.

Each step runs in its own process, so a crash or a timeout in one leaves the others' results.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from experiments.run_study import ROOT, load_config

DEFAULT_STUDY = ROOT / "experiments" / "configs" / "mnist_one_class_normal_fanogan_dcgan28.py"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", required=True, help="where the results to bring back go")
    p.add_argument("--study", default=str(DEFAULT_STUDY), help="the study config to run")
    p.add_argument("--budget-s", type=float, default=720.0, help="the whole payload's seconds")
    p.add_argument("--check-s", type=float, default=280.0, help="the accelerator check's budget")
    p.add_argument("--group", type=int, default=3, help="classes trained as one program")
    p.add_argument("--work", default=None, help="scratch folder (default <out>/../loan_work)")
    p.add_argument("--tiny", action="store_true", help="the accelerator check's tiny mode")
    return p.parse_args(argv)


class Log:
    def __init__(self, path: Path):
        self.path, self.start = path, time.monotonic()

    def left(self, budget: float) -> float:
        return budget - (time.monotonic() - self.start)

    def run(self, argv: list[str], timeout: float) -> int:
        """Runs ``argv`` with its output appended to the log; 124 when it ran out of time."""
        with self.path.open("a") as log:
            log.write(f"\n$ {' '.join(argv)}  (timeout {timeout:.0f} s)\n")
            log.flush()
            try:
                rc = subprocess.run(
                    argv, stdout=log, stderr=subprocess.STDOUT, timeout=timeout
                ).returncode
            except subprocess.TimeoutExpired:
                rc = 124
            log.write(f"# exit {rc} after {time.monotonic() - self.start:.0f} s of the loan\n")
        print(f"{argv[2]} ... exit {rc}", flush=True)
        return rc


def pending_classes(study, results: Path) -> list[int]:
    """The config's classes, in order, that lack a cell in ``results``."""
    from anogan_jax.studies.layout import cell_path

    return [
        c
        for c in study.classes
        if not all(
            cell_path(results, c, s, m.name).exists() for s in study.seeds for m in study.methods
        )
    ]


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work) if args.work else out.parent / "loan_work"
    log = Log(out / "loan.log")
    py = sys.executable
    check = [py, "-m", "experiments.accelerator_check", "--budget-s", str(args.check_s)]
    check += ["--out", str(out)] + (["--tiny"] if args.tiny else [])
    # The check stops starting work at its budget; what it started then may take a while more.
    log.run(check, timeout=max(1.0, min(args.check_s + 120, log.left(args.budget_s))))

    study = load_config(args.study)
    committed = ROOT / "experiments" / "results" / study.name
    results, runs = work / "results" / study.name, work / "runs" / study.name
    if not results.exists() and committed.exists():
        shutil.copytree(committed, results)  # finished cells are skipped
    todo = pending_classes(study, results)
    study_cmd = [py, "-m", "experiments.run_study", args.study, "--results", str(results)]
    study_cmd += ["--runs", str(runs), "--program", "models", "--quiet"]
    for i in range(0, len(todo), args.group):
        left = log.left(args.budget_s)
        if left < 30:
            break
        group = ",".join(map(str, todo[i : i + args.group]))
        log.run([*study_cmd, "--classes", group], timeout=left)
    if results.exists():
        with tarfile.open(out / f"study_{study.name}.tgz", "w:gz") as tar:
            tar.add(results, arcname=study.name)
    print(f"loan results in {out} ({time.monotonic() - log.start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
