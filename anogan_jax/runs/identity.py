"""The identity of the data a folder was made from, and the one rule that compares it.

A run folder, an encoder folder, a score folder and an export record ``data.json``: the dataset
name, for a folder dataset its resolved absolute path, and per split (train, val, test) the
number of images and a sha256 digest of the decoded images and labels (``data_identity``).
A later command that loads the data again compares what it loaded with the record
(``check_identity``) and refuses, naming the split that changed, instead of resuming, scoring or
exporting against other data. A folder written before these records has none: it is not
checked, and a note says so once.

Where a user may mean to go on with the images as they are now, ``ACCEPT_OPTION`` accepts them
(``ACCEPTS`` names the commands that take it, and why; the others say ``NOT_ACCEPTED``), and
the record keeps what was accepted: its "accepted" list holds, per acceptance, the command,
the GAN step and the identities before and after. The record also names the rule that chose the
validation images ("val_split", ``data.VAL_SPLITS``), so a run loads them by that rule.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np

from anogan_jax.data import VAL_SPLITS, OneClassData
from anogan_jax.datasets import FOLDER_PREFIX, folder_path
from anogan_jax.files import read_json
from anogan_jax.runs.config import RunError

IDENTITY = "data.json"  # the record, in every folder that holds one
TRAINING = ("train", "val")  # the splits a trained model depends on
SPLITS = ("train", "val", "test")
HISTORY = "accepted"  # the record's list of accepted changes
ACCEPT_OPTION = "--accept-new-data"
# The commands that take ACCEPT_OPTION, and what it does there (their help text).
ACCEPTS = {
    "train": "with --resume: continue on the dataset's images as they are now, although they "
    "differ from those the run recorded; the run's data.json then records them, and keeps in "
    "its 'accepted' list the identity it had and the step at which the new one was accepted "
    "(later commands check against the new one)",
    "score": "score although the run's training images differ from those it recorded (the "
    "validation images that set the threshold are then drawn from the images there now); the "
    "score folder's data.json records the run's identity beside the one scored. The run's "
    "own record is left as it is",
}
# Why the other commands that use a trained run do not take it (their help text).
NOT_ACCEPTED = (
    "A run's training images that differ from those it recorded are refused: this command "
    "uses the run's validation images as recorded; to go on with the images there now, record "
    f"them in the run with `train --out RUN --resume {ACCEPT_OPTION}`"
)
# What a refused score says to do.
SCORE_HINT = (
    "put the training images back as they were, or train a new run on the images there now "
    f"(the validation split that sets the threshold comes from them); or score with them as "
    f"they are now with {ACCEPT_OPTION} (recorded in the score folder's data.json)"
)
_noted: set[str] = set()


def resolved_dataset(name: str) -> str:
    """``name`` with a folder dataset's PATH made absolute (``folder:/abs/path``), so that a
    run scored from another working folder reads the same images; other names as given."""
    path = folder_path(name)
    return name if path is None else FOLDER_PREFIX + str(Path(path).expanduser().resolve())


def resolved_config(config, saved: Path, *, resume: bool):
    """``config`` with its dataset resolved (``resolved_dataset``), unless, with ``resume``, the
    config saved at ``saved`` (a run folder's config.json) names the same folder relative to
    the current one: such a run resumes with the name it was saved with."""
    name = resolved_dataset(config.dataset)
    if resume and Path(saved).exists():
        old = read_json(saved).get("dataset", "")
        if old != name and folder_path(old) and resolved_dataset(old) == name:
            name = old
    return dataclasses.replace(config, dataset=name)


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"\0none")
            continue
        a = np.ascontiguousarray(np.asarray(a))
        h.update(f"\0{a.dtype.str}{a.shape}\0".encode())
        h.update(a.tobytes() if a.dtype != object else repr(a.tolist()).encode())
    return h.hexdigest()


def data_identity(dataset: str, data: OneClassData) -> dict:
    """The identity of ``data`` as loaded for ``dataset``: {"dataset", "path" (a folder's
    resolved path, else None), "splits": {split: {"images": N, "sha256": hex}}}. The test
    digest also covers labels, classes, masks and file names."""
    path = folder_path(dataset)
    test_names = None if data.test_names is None else np.array(data.test_names)
    splits = {
        "train": (data.train,),
        "val": (data.val,),
        "test": (data.test, data.test_labels, data.test_classes, data.test_masks, test_names),
    }
    return {
        "dataset": dataset,
        "path": None if path is None else str(Path(path).expanduser().resolve()),
        "val_split": data.val_split,
        "splits": {
            s: {"images": len(arrays[0]), "sha256": _digest(*arrays)}
            for s, arrays in splits.items()
        },
    }


def val_split_rule(folder) -> str:
    """The rule (``data.VAL_SPLITS``) that chose the validation images of the run folder
    ``folder``, for loading them again: its record's "val_split"; "by_name" for a record
    without one (the by-name rule came with the records) and for a new folder; the earlier
    "seeded_permutation" for a run written before the records (config.json, no data.json)."""
    folder = Path(folder)
    if (folder / IDENTITY).exists():
        rule = read_json(folder / IDENTITY).get("val_split", VAL_SPLITS[0])
        return rule if rule in VAL_SPLITS else VAL_SPLITS[0]
    return VAL_SPLITS[1] if (folder / "config.json").exists() else VAL_SPLITS[0]


def read_identity(folder, marker: str = "config.json") -> dict | None:
    """The identity recorded in ``folder``; None when it has none: a new folder, or one
    written before these records (it holds ``marker``), of which a note says so once."""
    path = Path(folder) / IDENTITY
    if path.exists():
        return read_json(path)
    key = str(Path(folder).resolve())
    if (Path(folder) / marker).exists() and key not in _noted:
        _noted.add(key)
        print(f"note: {folder} records no data identity ({IDENTITY}); its data is not checked")
    return None


def identity_changes(saved: dict, now: dict, splits=SPLITS) -> list[str]:
    """What differs between two identities, one phrase per change ([] when none)."""
    changes = []
    if saved.get("path") != now.get("path"):
        changes.append(f"the dataset folder is {now.get('path')}, not {saved.get('path')}")
    for s in splits:
        old, new = saved["splits"].get(s), now["splits"].get(s)
        if old is None or old == new:
            continue
        changes.append(
            f"the {s} split holds {new['images']} images with digest {new['sha256'][:12]}, "
            f"not {old['images']} with digest {old['sha256'][:12]}"
        )
    return changes


def check_identity(saved: dict | None, now: dict, what: str, hint: str, splits=SPLITS) -> None:
    """Raises RunError when the data loaded now (``now``) is not the data recorded in
    ``saved`` (splits ``splits``), naming what changed: ``what`` names the refused action and
    ``hint`` what to do. ``saved`` None (no record) passes."""
    if saved is None:
        return
    changes = identity_changes(saved, now, splits)
    if changes:
        raise RunError(f"{what}: {saved['dataset']} changed since: {'; '.join(changes)}; {hint}")


def _identity_only(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != HISTORY}


def accepted(saved: dict, now: dict, command: str, step: int) -> dict:
    """The record of ``now`` accepted in place of ``saved`` by ``command`` at GAN step
    ``step``: ``now`` with ``saved``'s "accepted" list and one entry more, {"command", "step",
    "from": saved, "to": now} (identities without their lists)."""
    entry = {"command": command, "step": int(step), "from": _identity_only(saved)}
    entry["to"] = _identity_only(now)
    return {**_identity_only(now), HISTORY: [*saved.get(HISTORY, []), entry]}


def check_run_data(
    run, dataset: str, data: OneClassData, what: str, hint: str = "", *, accept=None
) -> dict:
    """The identity of ``data``, checked against the training data recorded in the run folder
    ``run`` (its train and val splits; None: nothing to check). Raises RunError naming what
    changed, followed by ``hint`` (default: for a command that uses a trained run, naming how
    to record other images in the run). ``accept``: (command, GAN step) to accept a change
    instead, returned as recorded by ``accepted``. The run's "accepted" list is carried over."""
    now = data_identity(dataset, data)
    saved = None if run is None else read_identity(run)
    if saved is None:
        return now
    if accept is not None and identity_changes(saved, now, TRAINING):
        return accepted(saved, now, *accept)
    hint = hint or (
        "put the training images back as they were, or train a new run on the images there now "
        "(the validation split that sets every threshold comes from them); or record them in "
        f"the run with `train --out {run} --resume {ACCEPT_OPTION}`"
    )
    check_identity(saved, now, what, hint, TRAINING)
    return {**now, HISTORY: saved[HISTORY]} if HISTORY in saved else now
