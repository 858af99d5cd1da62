"""Which settings made a study's cells. ``<results>/settings.json`` (``layout.settings_path``)
records, per method, its ``config.cell_settings`` and their digest. Running a study, reporting
on it and merging into it check the config against that record: a method whose cells were
computed with other settings is refused, naming each changed field, so that a report never
describes settings its cells were not computed with. Cell files themselves stay as they are
(byte-identical across reruns). A folder with cells and no record is recorded from the config
on first use."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from anogan_jax.errors import UserError
from anogan_jax.files import read_json, write_json
from anogan_jax.runs.config import EncoderConfig, RunConfig, ScoreConfig
from anogan_jax.studies import layout
from anogan_jax.studies.config import Study, cell_settings, settings_digest

# The config class of each part of ``cell_settings``: a field that a record lacks meant its
# default (the record was written before the field existed).
_PARTS = {"run": RunConfig, "score": ScoreConfig, "encoder": EncoderConfig}


def settings_record(study: Study) -> dict:
    """{method: {"digest", "settings"}} for each of the study's methods, from its config."""
    out = {}
    for method in study.methods:
        settings = cell_settings(study, method)
        out[method.name] = {"digest": settings_digest(settings), "settings": settings}
    return out


def changed_fields(old: dict, new: dict) -> list[str]:
    """Each field of two ``cell_settings`` that differs, as "part.field: old -> new" (a field
    one side lacks: "(none)", or the field's default where it is a config field)."""
    out = []
    for part in sorted(set(old) | set(new)):
        a, b = old.get(part), new.get(part)
        if not isinstance(a, dict) or not isinstance(b, dict):
            if a != b:
                out.append(f"{part}: {_shown(a)} -> {_shown(b)}")
            continue
        defaults = {}
        if part in _PARTS:
            defaults = _jsonable(dataclasses.asdict(_PARTS[part]()))
        for key in sorted(set(a) | set(b)):
            x, y = a.get(key, defaults.get(key)), b.get(key, defaults.get(key))
            if x != y:
                out.append(f"{part}.{key}: {_shown(x)} -> {_shown(y)}")
    return out


def _shown(value) -> str:
    return "(none)" if value is None else repr(value)


def _jsonable(obj: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in obj.items()}


def check_settings(study: Study, results) -> tuple[dict, list[str]]:
    """Reads ``results`` and writes nothing. Returns the record it should hold (the config's
    settings for each of the study's methods, the saved ones for other methods) and the
    methods whose cells have no record yet. Raises UserError naming, per method, each field
    that differs between the config and the settings its cells were computed with."""
    results = Path(results)
    path = layout.settings_path(results)
    saved = read_json(path) if path.exists() else {}
    with_cells = {layout.cell_name(p)[2] for p in layout.cell_files(results)}
    current = settings_record(study)
    changes = {}
    for name, now in current.items():
        old = saved.get(name)
        if name in with_cells and old is not None and old.get("digest") != now["digest"]:
            diff = changed_fields(old.get("settings", {}), now["settings"])
            if diff:
                changes[name] = diff
    if changes:
        shown = "; ".join(f"{m}: {', '.join(d)}" for m, d in changes.items())
        raise UserError(
            f"{results}: the cells of study {study.name} were computed with other settings "
            f"than its config gives ({shown}); nothing was written. Revert the config to the "
            f"settings recorded in {path}, or move {results} (and the study's runs folder) "
            "aside to compute the study afresh with the new settings"
        )
    first = sorted(n for n in current if n in with_cells and n not in saved)
    return {**saved, **current}, first


def record_settings(study: Study, results, say=print) -> None:
    """Checks ``results`` against the config (``check_settings``) and writes its record where
    that changes it; ``say`` is told once of methods whose cells are recorded from the config
    for the first time."""
    record, first = check_settings(study, results)
    path = layout.settings_path(results)
    if first:
        say(
            f"{path}: recorded the settings of the {', '.join(first)} cells from the config "
            "(no record of the settings they were computed with was kept until now)"
        )
    if not path.exists() or read_json(path) != record:
        write_json(path, record)
