"""orbax checkpoints of whole state pytrees, restored against ``jax.eval_shape`` of the
constructor onto this run's devices, whatever devices or processes wrote them.

In a multi-host run (``hosts``) every process creates the same Checkpointers and calls
``save`` and ``restore`` at the same steps, as orbax requires: each writes its part of a
checkpoint into the one folder they share, and orbax meets the processes at its own barriers.
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.sharding import Mesh, NamedSharding, PartitionSpec, SingleDeviceSharding

from anogan_jax.errors import UserError
from anogan_jax.files import written


class CheckpointError(UserError, RuntimeError):
    """A checkpoint that is missing, does not match the run's config, or cannot be read."""


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

    def save(self, state, *, step: int | None = None, force: bool = False) -> bool:
        """Saves ``state`` when ``step`` is a multiple of ``every`` (or ``force``) and not
        saved yet. ``step``: the state's step when the caller knows it (no device read)."""
        step = int(state.step) if step is None else step
        if not force and step % self.every:
            return False
        if step in self.manager.all_steps():
            return False
        self.manager.save(step, args=ocp.args.StandardSave(state), force=True)
        self.manager.wait_until_finished()
        written(self.directory / str(step))
        return True

    def restore(self, abstract_state, step: int | None = None, *, sharding=None):
        """Restores against ``abstract_state`` (``jax.eval_shape`` of the state constructor).

        ``sharding``: where every leaf goes (default ``default_sharding()``), whatever
        devices the checkpoint was saved from.

        Raises:
          CheckpointError: no checkpoint, or one whose tree or shapes differ from the target.
        """
        step = self.latest_step() if step is None else step
        if step is None:
            raise CheckpointError(
                f"no checkpoint in {self.directory}; train first or check the --run folder"
            )
        if step not in self.manager.all_steps():
            raise CheckpointError(
                f"no checkpoint at step {step} in {self.directory}; the saved steps are "
                f"{sorted(self.manager.all_steps())}"
            )
        sharding = default_sharding() if sharding is None else sharding
        target = jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), abstract_state
        )
        try:
            return self.manager.restore(step, args=ocp.args.StandardRestore(target))
        except Exception as err:
            raise CheckpointError(
                f"could not restore the checkpoint at step {step} in {self.directory}: "
                f"{type(err).__name__}: {str(err)[:500]}. It may be truncated or written by a "
                "run with another architecture or latent size; retrain or point --run elsewhere."
            ) from err

    def restore_or_init(self, init, *, sharding=None):
        """The latest checkpoint, restored against ``jax.eval_shape(init)`` onto ``sharding``
        (as ``restore``); ``init()`` when there is none (a new run)."""
        if self.latest_step() is None:
            return init()
        return self.restore(jax.eval_shape(init), sharding=sharding)

    def close(self) -> None:
        self.manager.close()


def default_sharding():
    """Where a restored state goes unless told: this process's first device; in a multi-host
    run, replicated over every device of every process (the global arrays all processes
    compute with)."""
    if jax.process_count() == 1:
        return SingleDeviceSharding(jax.local_devices()[0])
    return NamedSharding(Mesh(np.array(jax.devices()), ("all",)), PartitionSpec())


def latest_step(directory) -> int | None:
    """The latest complete checkpoint step in ``directory``, None when there is none. Reads
    the folder only (no CheckpointManager, so no multi-host barrier, and nothing created)."""
    steps = ocp.path.step.checkpoint_steps(directory) if Path(directory).is_dir() else []
    return max(steps, default=None)
