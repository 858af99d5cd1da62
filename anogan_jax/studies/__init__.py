"""Studies: many runs, one per (class, seed), scored by several methods and reported together.

The floor above ``anogan_jax.runs``: it imports runs and the library, and nothing below imports
it. ``config`` (the typed study configs), ``layout`` (where every file of a study lives),
``run`` (running a study's cells), ``settings`` (the settings its cells were computed with),
``score_files`` (the per-image scores kept with the cells), ``derived`` and ``complexity``
(rows derived from those scores), ``training_time`` (from the run logs), ``merge``,
``status``, ``numbers`` (the numbers of a report, as data) and ``report`` / ``sections`` /
``reproduce`` (its words).
"""

from anogan_jax.studies.config import Method, Study, Target
from anogan_jax.studies.layout import load_cells
from anogan_jax.studies.report import write_report
from anogan_jax.studies.run import run_study

__all__ = ["Method", "Study", "Target", "load_cells", "run_study", "write_report"]
