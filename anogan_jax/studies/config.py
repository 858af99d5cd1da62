"""A study's config: the typed dataclasses that a file in ``experiments/configs/`` builds
(``STUDY = Study(...)``); ``run.run_study`` runs one. What a study's numbers alone do not say
goes in the NOTES.md beside its report (``layout.NOTES``), not in the config."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from anogan_jax.runs.config import EncoderConfig, RunConfig, RunError, ScoreConfig

ENSEMBLE_SUFFIX = "_ens"  # a method's seed ensemble (``derived.ensemble_cells``)
COMPLEXITY_SUFFIX = "_ic"  # a method's complexity-discounted row (``studies.complexity``)


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
class Target:
    """A goal the report checks against the study's mean AUROCs (%), over the classes finished.
    Exactly one kind:

    - ``at_least``: the best mean among ``methods`` (every row of the report when empty)
      reaches ``at_least``;
    - ``than``: each of ``methods`` has a mean at least that of the method ``than``, over the
      classes both have;
    - ``reference`` and ``within``: one of ``methods`` has no class more than ``within`` points
      under the published row ``reference`` (a key of ``Study.published``).

    A row that lacks some finished class is shown but does not count towards a verdict.

    ``methods`` and ``than`` may name derived rows (``ensemble_name``, ``complexity_name``)."""

    label: str
    methods: tuple[str, ...] = ()
    at_least: float | None = None
    than: str | None = None
    reference: str | None = None
    within: float | None = None

    def kind(self) -> str:
        kinds = [
            k
            for k, given in (
                ("at_least", self.at_least is not None),
                ("than", self.than is not None),
                ("within", self.reference is not None or self.within is not None),
            )
            if given
        ]
        if len(kinds) != 1 or (kinds[0] == "within" and None in (self.reference, self.within)):
            raise RunError(
                f"target {self.label!r}: give exactly one of at_least=, than=, or reference= "
                "with within="
            )
        if kinds[0] != "at_least" and not self.methods:
            raise RunError(f"target {self.label!r}: name the methods= it is about")
        return kinds[0]


@dataclasses.dataclass(frozen=True)
class Study:
    name: str
    run: RunConfig
    classes: tuple[int, ...]
    seeds: tuple[int, ...]
    methods: tuple[Method, ...]
    encoder: EncoderConfig = EncoderConfig()
    published: dict = dataclasses.field(default_factory=dict)  # label -> {class: AUROC %}
    # Rows whose seeds are also combined per image: "<name>_ens". A method's
    # (``derived.ensemble_cells``) or a complexity row "<method>_ic" of ``complexity``
    # (``complexity.complexity_cells``).
    ensembles: tuple[str, ...] = ()
    # Methods drawn as the report's quality-cost frontier (AUROC against images/s).
    frontier: tuple[str, ...] = ()
    # Methods whose residual is also read as bits less the image's PNG bits
    # (``studies.complexity``): "<name>_ic".
    complexity: tuple[str, ...] = ()
    # Goals the report checks in its "Targets" section (``Target``), set before the numbers.
    targets: tuple[Target, ...] = ()

    def __post_init__(self):
        names = [m.name for m in self.methods]
        for field in ("frontier", "complexity"):
            unknown = [n for n in getattr(self, field) if n not in names]
            if unknown:
                raise RunError(
                    f"study {self.name}: {field}= names {unknown}, which are not among its "
                    f"methods {names}; name methods of the study"
                )
        combinable = names + [complexity_name(c) for c in self.complexity]
        unknown = [n for n in self.ensembles if n not in combinable]
        if unknown:
            raise RunError(
                f"study {self.name}: ensembles= names {unknown}, which are neither its methods "
                f"nor its complexity rows {combinable}; name those (a complexity row needs its "
                "method in complexity=)"
            )
        rows = self.row_names()
        for target in self.targets:
            target.kind()
            unknown = [n for n in (*target.methods, target.than) if n and n not in rows]
            if unknown:
                raise RunError(
                    f"study {self.name}: target {target.label!r} names {unknown}, which are "
                    f"not rows of the study {rows}"
                )
            if target.reference is not None and target.reference not in self.published:
                raise RunError(
                    f"study {self.name}: target {target.label!r} compares with "
                    f"{target.reference!r}, which is not among its published rows "
                    f"{list(self.published)}"
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

    def row_names(self) -> list[str]:
        """The report's rows in order: the methods, their seed ensembles, the complexity rows,
        their seed ensembles."""
        names = [m.name for m in self.methods]
        return (
            names
            + [ensemble_name(e) for e in self.ensembles if e in names]
            + [complexity_name(c) for c in self.complexity]
            + [ensemble_name(e) for e in self.ensembles if e not in names]
        )

    def shared_test_set(self) -> bool:
        """Whether every seed scores the same test images: under one-class-normal the test set
        does not depend on the seed; under one-class-anomalous each seed draws its own split."""
        return self.run.protocol == "one_class_normal"

    def needs_encoder(self) -> bool:
        return any(m.score.uses_encoder for m in self.methods)


def cell_settings(study: Study, method: Method) -> dict:
    """What a cell of ``method`` depends on, as JSON: the study's run settings (without the
    class and seed, which the cell's name carries), the encoder's where the method needs one,
    the method's ScoreConfig and the score column it reports. Not the notes, published rows,
    targets or other report fields: changing those changes the report, not a cell."""
    run = {k: v for k, v in dataclasses.asdict(study.run).items() if k not in ("cls", "seed")}
    settings = {"run": run, "score": dataclasses.asdict(method.score), "column": method.column}
    if method.score.uses_encoder:
        settings["encoder"] = dataclasses.asdict(study.encoder)
    return json.loads(json.dumps(settings))  # as a record reads back (tuples as lists)


def settings_digest(settings: dict) -> str:
    """The SHA-256 of ``settings`` (``cell_settings``) as canonical JSON."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
