"""TensorBoard event files of a folder (``<folder>/events/``), beside ``metrics.jsonl``, which
stays the record: the events are a view of it for ``tensorboard --logdir``.

A run folder gets its logged losses (``train/<name>``), learning rates (``lr/<player>``), FID /
KID (``fid/<name>``) and sample grids; an encoder folder its losses and reconstructions; a score
folder histograms of each score over the normal and the anomalous test images (``<score>/normal``,
``<score>/anomalous``) and their AUROC / AUPRC. Written with tensorboardX (the optional extra
``anogan-jax[tensorboard]``); without it nothing is written and one line says so, once.

Each opening of a folder (a run, a resume) writes its events into a new event file, made when
the first event is written. Opening at step ``start`` first drops the events after ``start`` from
the earlier files, as ``folders.MetricsLog`` drops its records: the steps a resume trains again
are written once, by the new file. Events never touch the computation: they write what the run
already computed on the host.
"""

from __future__ import annotations

import functools
import itertools
import os
import socket
import struct
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from anogan_jax import hosts
from anogan_jax.files import atomic_write_bytes, written
from anogan_jax.runs import plotting

# The folder every kind of run folder owns (its OWNED names it for --overwrite).
EVENTS = "events"
HINT = (
    "note: no TensorBoard event files are written: tensorboardX is not installed "
    "(pip install 'anogan-jax[tensorboard]' writes them beside metrics.jsonl)"
)
_PATTERN = "events.out.tfevents.*"


@functools.cache
def load_tensorboardx():
    """tensorboardX's record writer, summary builders and Event proto (and protobuf's
    DecodeError), or None, saying once how to get them. Imported on first use: tensorboardX
    imports torch wherever torch is installed."""
    try:
        from google.protobuf.message import DecodeError
        from tensorboardX import RecordWriter, summary
        from tensorboardX.proto.event_pb2 import Event
    except ImportError:
        print(HINT, file=sys.stderr)
        return None
    return SimpleNamespace(
        RecordWriter=RecordWriter, summary=summary, Event=Event, DecodeError=DecodeError
    )


class EventLog:
    """The event writer of one opening of ``<folder>/events/``, continuing from step ``start``
    (events after it in earlier files are dropped first). Writes nothing when tensorboardX is
    missing, or in a process of a multi-host run other than the one that writes
    (``hosts.is_writer``). Each write is flushed, so a killed run keeps what it logged."""

    def __init__(self, folder, start: int):
        self.dir = Path(folder) / EVENTS
        self.lib = load_tensorboardx() if hosts.is_writer() else None
        self.writer = None
        if self.lib is not None:
            keep_until(self.dir, start, self.lib)

    def scalars(self, step: int, values: dict, prefix: str) -> None:
        """``<prefix>/<name>`` of each number in ``values`` (``step`` and non-numbers left out),
        stored as float32, as TensorBoard keeps scalars."""
        numbers = {
            k: v
            for k, v in values.items()
            if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        if self.lib and numbers:
            parts = [
                self.lib.summary.scalar(f"{prefix}/{k}", v).value[0] for k, v in numbers.items()
            ]
            self._write(step, parts)

    def images(self, tag: str, step: int, images: np.ndarray, ncols: int = 8) -> None:
        """(N, H, W, C) images in [-1, 1] as one grid (``plotting.tile``, as the PNGs show)."""
        if self.lib is None:
            return
        grid = np.round(plotting.tile(np.asarray(images), ncols) * 255).astype(np.uint8)
        form = "HW" if grid.ndim == 2 else "HWC"
        self._write(step, self.lib.summary.image(tag, grid, dataformats=form).value)

    def histogram(self, tag: str, step: int, values: np.ndarray, bins) -> None:
        """A histogram of ``values`` (``bins``: edges or a count, as ``np.histogram``); none
        for no values."""
        values = np.asarray(values, np.float64)
        if self.lib is not None and values.size:
            self._write(step, self.lib.summary.histogram(tag, values, bins).value)

    def _write(self, step: int, values) -> None:
        lib = self.lib
        if self.writer is None:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.path = _new_file(self.dir)
            self.writer = lib.RecordWriter(str(self.path))
            header = lib.Event(wall_time=time.time(), file_version="brain.Event:2")
            self.writer.write(header.SerializeToString())
        summary = lib.summary.Summary(value=values)
        self.writer.write(
            lib.Event(wall_time=time.time(), step=int(step), summary=summary).SerializeToString()
        )
        self.writer.flush()
        written(self.path)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _new_file(folder: Path) -> Path:
    """A new event file name in TensorBoard's form (read in name order: time first)."""
    stem = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}"
    for n in itertools.count():
        path = folder / (stem if n == 0 else f"{stem}.{n}")
        if not path.exists():
            return path
    raise AssertionError("unreachable")


def records(data: bytes):
    """(frame, payload) of each whole TFRecord in ``data`` (an event file's bytes); a record cut
    short by a killed writer ends the list."""
    pos = 0
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        end = pos + 12 + length + 4
        if end > len(data):
            return
        yield data[pos:end], data[pos + 12 : pos + 12 + length]
        pos = end


def keep_until(folder: Path, start: int, lib) -> None:
    """Drops the events after step ``start`` from the event files in ``folder`` (rewritten
    atomically; a file left with no summary is removed). ``lib``: ``load_tensorboardx()``."""
    for path in sorted(Path(folder).glob(_PATTERN)):
        data = path.read_bytes()
        kept, summaries = [], 0
        for frame, payload in records(data):
            try:
                proto = lib.Event.FromString(payload)
            except lib.DecodeError:  # a damaged record: what follows it is not read either
                break
            if proto.step <= start or not proto.HasField("summary"):
                kept.append(frame)
                summaries += proto.HasField("summary")
        if not summaries:
            path.unlink()
        elif sum(map(len, kept)) != len(data):
            atomic_write_bytes(path, b"".join(kept))


def score_events(folder, scores: dict, labels: np.ndarray, step: int, report: dict) -> None:
    """A score folder's events at the GAN's ``step``: per score, histograms of its values over
    the normal (label 0) and anomalous (1) images, on shared bins, and its AUROC / AUPRC
    (``report["scores"]``). Earlier events at ``step`` (a resumed score run) are replaced."""
    log = EventLog(folder, step - 1)
    try:
        for name, values in scores.items():
            bins = np.histogram_bin_edges(values, bins=40)
            for label, kind in ((0, "normal"), (1, "anomalous")):
                log.histogram(f"{name}/{kind}", step, values[labels == label], bins)
            metrics = report["scores"].get(name, {})
            areas = {k: metrics.get(k) for k in ("auroc", "auprc")}
            log.scalars(step, {k: v for k, v in areas.items() if v is not None}, name)
    finally:
        log.close()
