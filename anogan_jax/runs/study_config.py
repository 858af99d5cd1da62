"""A study's config: the typed dataclasses that a file in ``experiments/configs/`` builds
(``STUDY = Study(...)``); ``study.run_study`` runs one."""

from __future__ import annotations

import dataclasses

from anogan_jax.runs.config import EncoderConfig, RunConfig, RunError, ScoreConfig

ENSEMBLE_SUFFIX = "_ens"  # a method's seed ensemble (``study_scores.ensemble_cells``)
COMPLEXITY_SUFFIX = "_ic"  # a method's complexity-discounted row (``study_complexity``)


def ensemble_name(method: str) -> str:
    """The name of the seed ensemble of ``method``, as its cells and the report name it."""
    return f"{method}{ENSEMBLE_SUFFIX}"


def complexity_name(method: str) -> str:
    """The name of ``method``'s complexity-discounted row, as its cells and the report name it."""
    return f"{method}{COMPLEXITY_SUFFIX}"


@dataclasses.dataclass(frozen=True)
class Method:
    """A named scoring method: its ScoreConfig, and the score column the report ranks by."""

    name: str
    score: ScoreConfig
    column: str = "A"


@dataclasses.dataclass(frozen=True)
class Study:
    name: str
    run: RunConfig
    classes: tuple[int, ...]
    seeds: tuple[int, ...]
    methods: tuple[Method, ...]
    encoder: EncoderConfig = EncoderConfig()
    published: dict = dataclasses.field(default_factory=dict)  # label -> {class: AUROC %}
    notes: str = ""
    # Methods whose seeds are also combined per image (``ensemble_cells``): "<name>_ens".
    ensembles: tuple[str, ...] = ()
    # Methods drawn as the report's quality-cost frontier (AUROC against images/s).
    frontier: tuple[str, ...] = ()
    # Methods whose residual is also read as bits less the image's PNG bits
    # (``study_complexity``): "<name>_ic".
    complexity: tuple[str, ...] = ()

    def __post_init__(self):
        names = [m.name for m in self.methods]
        for field in ("ensembles", "frontier", "complexity"):
            unknown = [n for n in getattr(self, field) if n not in names]
            if unknown:
                raise RunError(
                    f"study {self.name}: {field}= names {unknown}, which are not among its "
                    f"methods {names}; name methods of the study"
                )
        if self.complexity and self.run.gcn:
            raise RunError(
                f"study {self.name}: complexity= needs images in [-1, 1] as loaded (their PNG "
                "code is the bits of their pixels), but the study applies GCN; drop complexity= "
                "or gcn"
            )
        if self.ensembles and not self.shared_test_set():
            raise RunError(
                f"study {self.name}: seed ensembles need every seed to score the same test "
                f"images, but under {self.run.protocol} each seed draws its own train/test "
                "split; drop ensembles= from the config"
            )

    def shared_test_set(self) -> bool:
        """Whether every seed scores the same test images: under one-class-normal the test set
        does not depend on the seed; under one-class-anomalous each seed draws its own split."""
        return self.run.protocol == "one_class_normal"

    def needs_encoder(self) -> bool:
        return any(m.score.method == "fanogan" or m.score.init == "encoder" for m in self.methods)
