"""What one lent accelerator runs: the accelerator check, then as many classes of a study as
the rest of the loan allows, packed so that what finished comes back.

    python -m experiments.loan --prepare-data .loan_data      # here, once (TFDS_DATA_DIR set)
    python -m experiments.loan --data .loan_data --out $OUT   # on the lent machine, carrying
                                                              # .loan_data
The lent machines have no tensorflow-datasets: ``--prepare-data`` writes the study's dataset,
decoded (``datasets.tfds_cache_path``), compressed, into a folder to carry (MNIST: about
12 MB), and ``--data`` puts it where the loader finds its decoded copy.

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
import os
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
    p.add_argument("--out", default=None, help="where the results to bring back go")
    p.add_argument("--study", default=str(DEFAULT_STUDY), help="the study config to run")
    p.add_argument("--budget-s", type=float, default=720.0, help="the whole payload's seconds")
    p.add_argument("--check-s", type=float, default=280.0, help="the accelerator check's budget")
    p.add_argument("--group", type=int, default=3, help="classes trained as one program")
    p.add_argument("--work", default=None, help="scratch folder (default <out>/../loan_work)")
    p.add_argument("--tiny", action="store_true", help="the accelerator check's tiny mode")
    p.add_argument("--data", default=None, help="a folder --prepare-data wrote, to load from")
    p.add_argument("--prepare-data", metavar="DIR", default=None,
                   help="write the study's dataset, decoded, into DIR and stop")  # fmt: skip
    return p.parse_args(argv)


def prepare_data(study, folder: Path) -> Path:
    """The study's dataset, decoded and compressed, as ``<folder>/<dataset>.npz``."""
    import numpy as np

    from anogan_jax import datasets

    name = study.run.dataset
    datasets.load_dataset(name)  # decodes into the cache if it is not there
    with np.load(datasets.tfds_cache_path(name)) as f:
        arrays = {k: f[k] for k in f.files}
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / f"{name}.npz", **arrays)
    return folder / f"{name}.npz"


def use_data(folder: Path, cache: Path) -> None:
    """Puts each ``<folder>/<dataset>.npz`` where the loaders look for its decoded copy, in the
    cache folder ``cache`` (the loan's own, so nothing of the machine's is touched)."""
    os.environ["ANOGAN_JAX_CACHE"] = str(cache)
    from anogan_jax import datasets

    for npz in sorted(folder.glob("*.npz")):
        target = datasets.tfds_cache_path(npz.stem)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(npz, target)


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
    if args.prepare_data:
        print(f"wrote {prepare_data(load_config(args.study), Path(args.prepare_data))}")
        return 0
    if not args.out:
        raise SystemExit("give --out (or --prepare-data DIR)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work) if args.work else out.parent / "loan_work"
    log = Log(out / "loan.log")
    if args.data:
        use_data(Path(args.data), work / "cache")
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
