"""Where a result was computed: the machine, the library versions and the git commit of this
package. A study records it beside each cell's timings when the cell is computed, so that a
report rewritten later (``run_study --report-only``, on another machine or commit) still says
where its numbers came from."""

from __future__ import annotations

import os
import platform
import subprocess
from collections import Counter
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import jax

from anogan_jax.runs.forms import choose_form

PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy")


def versions() -> str:
    """ "jax 0.10.2, jaxlib 0.10.2, ..." for the installed packages of ``PACKAGES``."""
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(found)


def version_line() -> str:
    """What ``anogan-jax --version`` prints: this package's version and commit, then the
    libraries' (``versions``), the lines to quote with a result."""
    try:
        own = metadata.version("anogan-jax")
    except metadata.PackageNotFoundError:
        own = "(not installed)"
    return f"anogan-jax {own}, git commit {git_commit()}\n{versions()}"


def git_commit(outputs: Sequence[str | Path] = ()) -> str:
    """The short commit of the checkout this package is imported from (not of the current
    folder), "(with uncommitted changes)" where tracked files differ, changes under
    ``outputs`` aside (the folders a study writes its results to: a report rewritten there
    before it is committed is not a change to the code that computed it); "unknown" where the
    package is not the top of a git checkout (installed into site-packages, say, even when
    that lies inside some other repository)."""
    repo = Path(__file__).resolve().parents[2]
    ignored = []
    for out in outputs:
        where = Path(out).resolve()
        if where.is_relative_to(repo) and where != repo:
            ignored.append(f":(exclude){where.relative_to(repo).as_posix()}")

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != repo:
            return "unknown"
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", *ignored)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" (with uncommitted changes)" if dirty else "")


def accelerators() -> str:
    """The devices jax computes on where they are not the CPU, e.g. "1 x NVIDIA H200 (gpu)";
    "" on the CPU backend. Starts jax's backend: a process that only reads results beside a
    running study should set XLA_PYTHON_CLIENT_PREALLOCATE=false first (``run_study`` does),
    and where the GPU cannot be started jax falls back to the CPU, so the record is the host's.
    """
    backend = jax.default_backend()
    if backend == "cpu":
        return ""
    kinds = Counter(device.device_kind for device in jax.devices())
    return ", ".join(f"{n} x {kind}" for kind, n in kinds.items()) + f" ({backend})"


def machine() -> str:
    """CPU model, logical cores of the machine and those this process may use (XLA:CPU splits
    its work over the latter, which decides the last bits of a result and the speed); led by
    the accelerators (`accelerators`) where jax computes on a GPU or TPU, whose speed and
    rounding then decide the result instead."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    host = f"{cpu}, {os.cpu_count()} logical cores ({usable} usable by this process)"
    found = accelerators()
    return f"{found}; host {host}" if found else host


def hardware() -> str:
    """``machine()`` and the OS."""
    return f"{machine()}, {platform.system()} {platform.release()}"


def same_machine(hardware_text: str, here: str | None = None) -> bool:
    """Whether a recorded ``hardware()`` names the machine ``here`` (default: this process's
    ``machine()``): the same CPU model and usable cores, whatever the OS release."""
    here = machine() if here is None else here
    return hardware_text == here or hardware_text.startswith(here + ", ")


# Environment variables that change how XLA computes, and so the last bits of a result: a
# GPU's deterministic ops, the CPU convolution engine, how seeds trained together run
# (``seeds.seed_mode``).
SETTINGS = ("XLA_FLAGS", "ANOGAN_JAX_CPU_CONV", "ANOGAN_JAX_SEED_MODE")
# jax options that do the same, however set (environment or jax.config.update): name -> the
# value that is jax's default.
JAX_OPTIONS = {"jax_enable_x64": False, "jax_default_matmul_precision": None}


def settings() -> str:
    """ "XLA_FLAGS=..., jax_enable_x64=True, ..." for those of ``SETTINGS`` set in this process
    and those of ``JAX_OPTIONS`` away from their default; "" for none."""
    found = [f"{k}={os.environ[k]}" for k in SETTINGS if os.environ.get(k)]
    for name, default in JAX_OPTIONS.items():
        value = getattr(jax.config, name)
        if value != default:
            found.append(f"{name}={value}")
    return ", ".join(found)


def form_record(arch: str) -> dict:
    """{"models_form", "models_form_source"}: the form in which models of ``arch`` trained
    together (seeds, or the models axis over (class, seed)) run in this process, and where
    that choice came from ("measured: <results file>", "default (unmeasured)" or
    "override: ANOGAN_JAX_SEED_MODE"), ``forms.choose_form``. The forms may round
    differently, so a result trained that way records it."""
    choice = choose_form(arch)
    return {"models_form": choice.form, "models_form_source": choice.source}


def describe(outputs: Sequence[str | Path] = (), arch: str | None = None) -> dict:
    """{"hardware", "versions", "git_commit"} of this process (``outputs``: see `git_commit`),
    "settings" (`settings`) where any is set, and with ``arch`` the form its models train in
    when trained together (`form_record`)."""
    out = {"hardware": hardware(), "versions": versions(), "git_commit": git_commit(outputs)}
    found = settings()
    out = {**out, "settings": found} if found else out
    return {**out, **form_record(arch)} if arch is not None else out
