"""orbax checkpoints of whole state pytrees, restored against ``jax.eval_shape`` of the
constructor; small JSON files written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import jax
import orbax.checkpoint as ocp

from anogan_jax.errors import UserError


class CheckpointError(UserError, RuntimeError):
    """A checkpoint that is missing, does not match the run's config, or cannot be read."""


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Writes to a temporary file in the same folder, fsyncs, then renames over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def write_json(path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path) -> dict:
    with open(path) as f:
        return json.load(f)


class Checkpointer:
    """Saves a state pytree every ``every`` steps (and on request), keeping the last ``keep``.

    orbax writes each checkpoint to a temporary folder and renames it when complete, so a crash
    never leaves a half-written checkpoint where a good one was.
    """

    def __init__(self, directory, *, keep: int = 3, every: int = 1000):
        self.directory = Path(directory).absolute()
        self.every = every
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep, create=True, enable_async_checkpointing=False
        )
        self.manager = ocp.CheckpointManager(self.directory, options=options)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, state, *, force: bool = False) -> bool:
        step = int(state.step)
        if not force and step % self.every:
            return False
        if step in self.manager.all_steps():
            return False
        self.manager.save(step, args=ocp.args.StandardSave(state), force=True)
        self.manager.wait_until_finished()
        return True

    def restore(self, abstract_state, step: int | None = None):
        """Restores against ``abstract_state`` (``jax.eval_shape`` of the state constructor).

        Raises:
          CheckpointError: no checkpoint, or one whose tree or shapes differ from the target.
        """
        step = self.latest_step() if step is None else step
        if step is None:
            raise CheckpointError(
                f"no checkpoint in {self.directory}; train first or check the --run folder"
            )
        try:
            return self.manager.restore(step, args=ocp.args.StandardRestore(abstract_state))
        except Exception as err:
            raise CheckpointError(
                f"could not restore the checkpoint at step {step} in {self.directory}: "
                f"{type(err).__name__}: {str(err)[:500]}. It may be truncated or written by a "
                "run with another architecture or latent size; retrain or point --run elsewhere."
            ) from err

    def close(self) -> None:
        self.manager.close()


def abstract_like(constructor, *args):
    """``jax.eval_shape`` of a state constructor: the restore target, with no allocation."""
    return jax.eval_shape(constructor, *args)
