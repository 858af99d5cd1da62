"""The identity of the data a folder was made from, and the one rule that compares it.

A run folder, an encoder folder, a score folder and an export record ``data.json``: the dataset
name, for a folder dataset its resolved absolute path, and per split (train, val, test) the
number of images and a sha256 digest of the decoded images and labels (``data_identity``).
A later command that loads the data again compares what it loaded with the record
(``check_identity``) and refuses, naming the split that changed, instead of resuming, scoring or
exporting against other data. A folder written before these records has none: it is not
checked, and a note says so once.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np

from anogan_jax.data import OneClassData
from anogan_jax.datasets import FOLDER_PREFIX, folder_path
from anogan_jax.files import read_json
from anogan_jax.runs.config import RunError

IDENTITY = "data.json"  # the record, in every folder that holds one
TRAINING = ("train", "val")  # the splits a trained model depends on
SPLITS = ("train", "val", "test")
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
        "splits": {
            s: {"images": len(arrays[0]), "sha256": _digest(*arrays)}
            for s, arrays in splits.items()
        },
    }


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


def check_run_data(run, dataset: str, data: OneClassData, what: str, hint: str = "") -> dict:
    """The identity of ``data``, checked against the training data recorded in the run folder
    ``run`` (its train and val splits; None: nothing to check). Raises RunError naming what
    changed, followed by ``hint`` (default: for a command that uses a trained run)."""
    now = data_identity(dataset, data)
    hint = hint or (
        "put the training images back as they were, or train a new run on the images there now "
        "(the validation split that sets every threshold comes from them)"
    )
    check_identity(None if run is None else read_identity(run), now, what, hint, TRAINING)
    return now
