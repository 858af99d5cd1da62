"""Output folders: one process per folder (a lock, from ``locks``), refusing to clobber
results, writing only into a folder the tool made, removing only what the tool wrote, and
the settings a resumed run continues with.

The order every driver follows: ``folder_lock`` -> ``check_output`` (refuses, changes
nothing) -> build and validate everything (data, models, checkpoints) -> ``clear_owned``
when overwriting -> write. So a refused command changes no byte of an existing run.

What the tool wrote is what the folder's manifest lists (``manifest``: every file written
while ``folder_lock`` holds the folder, with its size and sha256): ``--overwrite`` removes
those files whose bytes are still the ones written, and nothing else; it refuses, changing
nothing, where a file it would keep sits where the command writes (``OWNED`` names), since
the new run would replace it. A folder written before manifests were kept (its marker and no
manifest) is judged once by those names, as then: the files they match are taken as the
tool's (listed on its first resume: ``owned.adopt_legacy``; removed by its first
``--overwrite``). A folder without its marker and without a manifest holds only the user's
files.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

from anogan_jax import hosts
from anogan_jax.files import read_jsonl, write_json, write_jsonl
from anogan_jax.runs import locks, manifest
from anogan_jax.runs import owned as owned_files
from anogan_jax.runs.checkpoint import latest_step
from anogan_jax.runs.config import RunError, load_config, resumed_config
from anogan_jax.runs.events import EventLog
from anogan_jax.runs.locks import lock_holder as lock_holder
from anogan_jax.runs.owned import LOCK, SEED_FOLDERS


@contextlib.contextmanager
def folder_lock(folder):
    """``locks.folder_lock``, recording in the folder's manifest what this process writes
    there while it holds it (``manifest.recording``)."""
    with locks.folder_lock(folder), manifest.recording(folder):
        yield


@contextlib.contextmanager
def folder_locks(folders):
    """``locks.folder_locks``, each folder recorded as in ``folder_lock``."""
    folders = list(folders)
    with locks.folder_locks(folders), contextlib.ExitStack() as stack:
        for folder in folders:
            stack.enter_context(manifest.recording(folder))
        yield


@contextlib.contextmanager
def recording(folder, owned):
    """Records in ``folder``'s manifest what this process writes there, as the command of
    ``owned`` names (a folder written before manifests first gets one: ``adopt_legacy``),
    for a command that adds to another's folder without holding it."""
    owned_files.adopt_legacy(Path(folder), owned)
    with manifest.recording(folder):
        yield


def seed_dir(out, seed: int) -> Path:
    return Path(out) / f"seed_{seed}"


def seeds_holding(root, name: str) -> list[int]:
    """The seeds whose folder under ``root`` (``seed_dir``) holds ``name``, in order."""
    found = (p.name.removeprefix("seed_") for p in Path(root).glob(SEED_FOLDERS))
    return sorted(int(s) for s in found if s.isdigit() and (seed_dir(root, int(s)) / name).exists())


def _forbidden(out: Path) -> str | None:
    resolved = out.resolve()
    if resolved == Path(resolved.anchor):
        return "the root folder"
    if resolved == Path.home().resolve():
        return "your home folder"
    if resolved == Path.cwd().resolve():
        return "the current folder"
    return None


# The record each kind of folder the tool writes holds (``check_output``'s ``marker``).
FOLDER_KINDS = {
    "config.json": "a run folder of `train`",  # and of `train-classifier`
    "encoder_config.json": "an encoder folder of `train-encoder`",
    "score_config.json": "a score folder of `score`",
    "scorer.json": "an export folder of `export`",
    "predict.json": "a predict folder of `predict`",
}


def _entries(out: Path) -> list[str]:
    hidden = (LOCK, manifest.MANIFEST)
    return sorted(c.name for c in out.iterdir() if c.name not in hidden) if out.is_dir() else []


def check_output(
    out: Path,
    *,
    resume: bool,
    overwrite: bool,
    marker: str,
    protect=(),
    owned=(),
    resumable: bool = True,
    done: str | None = None,
) -> None:
    """Refuses, before anything is written, an output folder that holds files but is not this
    command's (no ``marker``, and not only files its manifest lists: a command stopped before
    it wrote its marker), whatever the options; an ``--overwrite`` that would replace a file
    of the user's (``owned.check_clear``); one that already holds results (``marker``) unless
    resuming (where ``resumable``) or overwriting, saying so when the run stopped before its
    last file ``done``; ``--overwrite`` of /, home or the current folder; and, with or without
    ``--overwrite``, a folder that is or holds one of ``protect`` (the runs the command reads:
    their folders are not the command's to write into or clear), or that another command of
    the tool wrote (``FOLDER_KINDS``: its files and these would mix)."""
    if resume and overwrite:
        raise RunError("--resume and --overwrite exclude each other; choose one")
    out = Path(out)
    for p in protect:
        p = Path(p).resolve()
        if p == out.resolve() or out.resolve() in p.parents:
            action = "--overwrite of" if overwrite else "writing results into"
            raise RunError(
                f"{action} {out} would mix them with (or delete) {p}, which this command "
                "reads; choose an output folder that neither is nor holds it, such as "
                f"{p / 'scores'}"
            )
    other = next((m for m in FOLDER_KINDS if m != marker and (out / m).exists()), None)
    if other is not None:
        raise RunError(
            f"{out} is {FOLDER_KINDS[other]} (it holds {other}); this command's results would "
            f"mix with it: choose another output folder, such as {out / 'results'}"
        )
    if overwrite and _forbidden(out):
        raise RunError(
            f"--overwrite refuses {out}: it is {_forbidden(out)}; choose a dedicated folder"
        )
    _check_mine(out, marker, owned, resume or overwrite)
    if overwrite and owned and out.is_dir():
        owned_files.check_clear(out, owned)
    if (out / marker).exists() and not (resume or overwrite):
        kind = FOLDER_KINDS[marker]
        if done is not None and not (out / done).exists():
            raise RunError(
                f"{out} holds {kind} that stopped before it finished (it has no {done}); "
                "pass --overwrite to redo it, or choose another --out"
            )
        again = "--resume to continue them or --overwrite to start again"
        raise RunError(
            f"{out} already holds results ({marker}); pass "
            f"{again if resumable else '--overwrite to replace them, or choose another --out'}"
        )


def _check_mine(out: Path, marker: str, owned, again: bool) -> None:
    """Refuses a folder that holds files but no ``marker``: one the user made (never written
    into, nor cleared), or, unless ``again``, one where this command stopped before writing
    its marker (every file there one its manifest lists, unchanged)."""
    entries = _entries(out)
    if not entries or (out / marker).exists():
        return
    shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
    partial = owned and manifest.read(out) is not None and not owned_files.plan(out, owned)[1]
    if not partial:
        raise RunError(
            f"{out} holds files ({shown}) but no {marker}, so it is not a folder this tool "
            "wrote; its files are left alone: choose another --out (a new or empty folder)"
        )
    if not again:
        raise RunError(
            f"{out} holds part of {FOLDER_KINDS[marker]} that stopped before it wrote "
            f"{marker} ({shown}); pass --overwrite to redo it, or choose another --out"
        )


def clear_owned(out: Path, owned: tuple[str, ...]) -> list[str]:
    """Removes what this kind of folder's command wrote into ``out`` and nothing else
    (``owned.clear``: the files its manifest lists, unchanged); refuses, changing nothing,
    when a file it would keep sits where the command writes. Returns the kept paths."""
    if not hosts.is_writer():
        return []  # process 0 of a multi-host run clears for all
    return owned_files.clear(Path(out), owned)


def start_folder(out: Path, owned: tuple[str, ...], *, overwrite: bool, records: dict) -> None:
    """The first writes of a command into its folder, once every check has passed: with
    ``overwrite``, remove what an earlier run of the command wrote (``clear_owned``), else
    check the step logs a resume continues (``STEP_LOGS``: read before anything changes) and
    give a folder written before manifests one (``owned.adopt_legacy``) or compact its own
    (``manifest.compact``); then write ``records`` (relative path -> JSON object).
    In a multi-host run every process has passed its checks before process 0 writes, and has
    its writes before going on."""
    hosts.sync("checked")
    if overwrite:
        clear_owned(out, owned)
    else:
        for name in STEP_LOGS:
            read_jsonl(Path(out) / name, steps=True)
        if hosts.is_writer():  # the manifest is process 0's, as every file of the folder
            owned_files.adopt_legacy(Path(out), owned)
            manifest.compact(out)
    for name, obj in records.items():
        write_json(Path(out) / name, obj)
    hosts.sync("started")


def check_steps(ckpt_dir: Path, steps: int, out: Path) -> None:
    """Refuses a run whose checkpoints are already past ``steps`` (a resume would go back)."""
    done = latest_step(ckpt_dir)
    if done is not None and done > steps:
        raise RunError(
            f"{out} is already at step {done}; --steps {steps} would go back. "
            f"Give --steps >= {done}"
        )


def settings_for(cls, path: Path, given: dict, *, resume: bool):
    """The config a command runs with: with ``resume`` and a saved config at ``path``, the
    saved settings updated with the ``given`` ones (see ``config.resumed_config``); else the
    given ones over the defaults."""
    path = Path(path)
    if resume and path.exists():
        return resumed_config(load_config(cls, path), given, path.parent)
    return cls(**given)


def continue_config(config, path: Path, *, resume: bool):
    """``config`` checked against the one saved at ``path`` when resuming: every setting must
    match except those in ``config.RESUMABLE``. Returns the config to run with."""
    path = Path(path)
    if resume and path.exists():
        return resumed_config(
            load_config(type(config), path), dataclasses.asdict(config), path.parent
        )
    return config


# The logs of steps a resumed folder continues (``MetricsLog``).
STEP_LOGS = ("metrics.jsonl", "fid.jsonl")


class MetricsLog:
    """A JSON-lines log rewritten atomically at each record, continuing a resumed run's
    records up to its step. With ``events`` (an ``events.EventLog`` opened at the same step),
    each record's numbers also go to TensorBoard as ``<tag>/<name>`` at the record's step."""

    def __init__(self, path: Path, start: int, events: EventLog | None = None, tag: str = ""):
        self.path = Path(path)
        self.records = [r for r in read_jsonl(self.path, steps=True) if r["step"] <= start]
        self.events, self.tag = events, tag

    def append(self, record: dict) -> None:
        self.records.append(record)
        write_jsonl(self.path, self.records)
        if self.events is not None:
            self.events.scalars(record["step"], record, self.tag)
