"""The configs of every run folder (GAN, encoder, score, classifier), their validation, and
the one rule for reading a saved config back: the same validation as the command line.

Each config is a frozen dataclass written to its folder as JSON; ``load_config`` reads it
back, refusing unknown keys, wrong types and invalid values with a message that names the
file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from pathlib import Path

from anogan_jax import data as data_lib
from anogan_jax import datasets, objectives
from anogan_jax import models as models_lib
from anogan_jax.encoder import MODES
from anogan_jax.errors import UserError
from anogan_jax.files import read_json
from anogan_jax.image_folder import FOLDER_IMAGE_SIZE, IMAGE_SIZE_RANGE
from anogan_jax.latent_search import DISC_TERMS
from anogan_jax.prior import PRIORS
from anogan_jax.train import UPDATES

COMPUTE_DTYPES = ("float32", "bfloat16")
NATIVE_SHAPE = datasets.NATIVE_SHAPE  # the built-in datasets and .npz files
MAX_SEED = 2**32 - 1  # jax.random.key takes the seed modulo 2**32: larger ones would collide
SCORE_METHODS = ("anogan", "fanogan")
SCHEDULES = ("constant", "cosine")


class RunError(UserError, ValueError):
    """A user error about a run folder or its configuration; the message says what to do."""


def _choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise RunError(f"unknown {name} {value!r}; choose one of {', '.join(allowed)}")


def _dataset(name: str) -> None:
    if not datasets.is_dataset_name(name):
        raise RunError(
            f"unknown dataset {name!r}; choose one of {', '.join(datasets.DATASETS)}, a .npz "
            "file or folder:PATH (an MVTec-style folder)"
        )


NO_LABELS = (
    "{dataset} has no class labels to train the feature classifier that FID, KID and IS "
    "use (it learns the dataset's classes); the GAN metrics (--fid-every, `evaluate`) are "
    "available on labelled datasets only. Pick checkpoints by step, or by the encoder's "
    "validation loss"
)


is_folder = datasets.is_folder


def _positive(config, *names: str) -> None:
    for name in names:
        if getattr(config, name) <= 0:
            raise RunError(f"{name} must be positive, got {getattr(config, name)}")


def _seed(seed: int) -> None:
    if not 0 <= seed <= MAX_SEED:
        raise RunError(f"seed must be in 0..{MAX_SEED} (2**32 - 1), got {seed}")


def _nonnegative(name: str, value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise RunError(f"{name} must be a finite number >= 0, got {value}")


def _rate(name: str, value) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise RunError(f"{name} must be a positive finite number, got {value}")


class _Saved:
    """What every config has: reading one back from its folder (validated)."""

    @classmethod
    def from_json(cls, path):
        return load_config(cls, path)


@dataclasses.dataclass(frozen=True)
class RunConfig(_Saved):
    dataset: str = "digits"
    protocol: str = "one_class_normal"
    cls: int = 0
    # "": the first of ``models.ARCHS`` built for the images' side (``default_side``; with a
    # width, the first whose channels it sets), set on creation.
    arch: str = ""
    objective: str = "non_saturating"
    latent_dim: int = 0  # 0: the arch's published z size, set on creation
    prior: str = "normal"
    steps: int = 2000
    batch_size: int = 64
    seed: int = 0
    g_lr: float | None = None
    d_lr: float | None = None
    n_critic: int | None = None
    update: str = "alternating"
    val_fraction: float = 0.1
    gcn: bool = False
    conv_impl: str = "auto"
    compute_dtype: str = "float32"
    checkpoint_every: int = 500
    keep: int = 3
    sample_every: int = 500
    log_every: int = 50
    # Image side and channels: 0 = the dataset's own (``default_side``; a folder's channels as
    # stored). ``GanRun.open`` writes the resolved values.
    image_size: int = 0
    channels: int = 0
    width: int = 0  # channel base of ``models.WIDE_ARCHS``; 0: the arch's own (its spec's)

    def __post_init__(self):
        if not self.arch:
            side = self.default_side
            object.__setattr__(self, "arch", models_lib.default_arch(side, wide=self.width > 0))
        if self.latent_dim == 0 and self.arch in models_lib.ARCHS:
            object.__setattr__(self, "latent_dim", models_lib.default_latent_dim(self.arch))

    def validate(self) -> RunConfig:
        """Raises RunError naming the bad field and the allowed values."""
        _dataset(self.dataset)
        _choice("protocol", self.protocol, data_lib.PROTOCOLS)
        _choice("arch", self.arch, models_lib.ARCHS)
        self._check_shape()
        _choice("objective", self.objective, objectives.OBJECTIVES)
        _choice("update", self.update, UPDATES)
        _choice("prior", self.prior, PRIORS)
        _choice("compute dtype", self.compute_dtype, COMPUTE_DTYPES)
        _positive(self, "steps", "batch_size", "latent_dim", "checkpoint_every", "log_every")
        _positive(self, "sample_every", "keep")
        _seed(self.seed)
        _rate("g_lr", self.g_lr)
        _rate("d_lr", self.d_lr)
        if not 0 <= self.cls < datasets.NUM_CLASSES:
            raise RunError(f"class {self.cls} does not exist; classes are 0-9")
        if is_folder(self.dataset) and (self.protocol, self.cls) != ("one_class_normal", 0):
            raise RunError(
                f"{self.dataset}: a folder dataset has one normal class, train/good (class 0), "
                "and its own test split: use --protocol one_class_normal --cls 0"
            )
        if self.n_critic is not None and self.n_critic < 1:
            raise RunError(f"n_critic must be >= 1, got {self.n_critic}")
        n_critic = self.n_critic or objectives.get_objective(self.objective).n_critic
        if self.update != "alternating" and n_critic != 1:
            raise RunError(
                f"--update {self.update} shares one generator pass between the players and "
                f"needs n_critic 1 ({self.objective} uses {n_critic}); give --n-critic 1 or "
                "--update alternating"
            )
        if not 0 < self.val_fraction < 1:
            raise RunError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        return self

    def _check_shape(self) -> None:
        if self.width < 0:
            raise RunError(f"width must be >= 0 (0: the arch's own), got {self.width}")
        if self.width and self.arch not in models_lib.WIDE_ARCHS:
            wide = " and ".join(models_lib.WIDE_ARCHS)
            raise RunError(
                f"--width sets the channels of {wide}; arch {self.arch!r} "
                "has fixed layers: drop --width"
            )
        if not is_folder(self.dataset):
            native = dict(image_size=NATIVE_SHAPE[0], channels=NATIVE_SHAPE[2])
            for name, value in native.items():
                if getattr(self, name) not in (0, value):
                    raise RunError(
                        f"{self.dataset} images are {NATIVE_SHAPE[0]}x{NATIVE_SHAPE[1]}x"
                        f"{NATIVE_SHAPE[2]}; --{name.replace('_', '-')} {getattr(self, name)} "
                        "applies to folder datasets only (--dataset folder:PATH)"
                    )
        if self.channels not in (0, 1, 3):
            raise RunError(f"channels must be 1 or 3 (0: as stored), got {self.channels}")
        lo, hi = IMAGE_SIZE_RANGE
        if self.image_size and not lo <= self.image_size <= hi:
            raise RunError(f"image_size must be in {lo}..{hi} pixels, got {self.image_size}")
        side = self.default_side
        try:
            models_lib.check_arch(self.arch, (side, side, self.channels or 1))
        except ValueError as err:
            resized = is_folder(self.dataset) and not self.image_size
            why = f" (a folder's images are resized to {side}x{side} unless --image-size is given)"
            raise RunError(str(err) + (why if resized else "")) from None

    @property
    def default_side(self) -> int:
        """The side of the run's images as far as the config knows it without reading them:
        ``image_size``, else the dataset's own (28; a folder's are resized to 64)."""
        if self.image_size:
            return self.image_size
        return FOLDER_IMAGE_SIZE if is_folder(self.dataset) else NATIVE_SHAPE[0]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of the run's images; a folder run's is resolved by ``gan.with_image_shape``."""
        if self.image_size and self.channels:
            return (self.image_size, self.image_size, self.channels)
        if not is_folder(self.dataset):
            return NATIVE_SHAPE
        raise RunError(
            f"the image shape of {self.dataset} is known once its images are read; give "
            "--image-size and --channels, or start the run with `anogan-jax train`"
        )

    @property
    def critic_norm(self) -> str:
        return objectives.get_objective(self.objective).critic_norm


@dataclasses.dataclass(frozen=True)
class EncoderConfig(_Saved):
    mode: str = "izi_f"
    steps: int = 2000
    batch_size: int = 64
    lr: float = 5e-5
    kappa: float = 1.0
    seed: int = 0
    checkpoint_every: int = 500
    keep: int = 3
    log_every: int = 50

    def validate(self) -> EncoderConfig:
        _choice("encoder mode", self.mode, MODES)
        _positive(self, "steps", "batch_size", "checkpoint_every", "keep", "log_every")
        _seed(self.seed)
        _rate("lr", self.lr)
        _nonnegative("kappa", self.kappa)
        return self


@dataclasses.dataclass(frozen=True)
class ScoreConfig(_Saved):
    method: str = "anogan"
    num_steps: int = 500
    batch_size: int = 256
    lr: float = 0.05
    schedule: str = "constant"
    lam: float = 0.1
    disc: str = "feature"
    clip_to_prior: bool = False
    init: str = "prior"  # or "encoder" (needs a trained encoder in the run)
    kappa: str = "1.0"  # f-AnoGAN: a number, or "calibrated"
    encoder: str = "izi_f"  # which trained encoder (fanogan, or --init encoder)
    seed: int = 0
    limit: int = 0  # 0: the full test set; else a stratified subsample of this size
    val_images: int = 128  # normal validation images scored for the threshold
    # Images per compiled block: each image's scores are bit-identical for any batch size
    # with the same micro_batch (batches are padded to a multiple of it).
    micro_batch: int = 16

    def __post_init__(self):
        # One spelling per number ("1", "1.0", "1e0" -> "1.0"), so that a resume given
        # --kappa 1 matches the saved "1.0"; anything else is left for ``validate`` to name.
        with contextlib.suppress(TypeError, ValueError):
            if self.kappa != "calibrated":
                object.__setattr__(self, "kappa", repr(float(self.kappa)))

    @property
    def uses_encoder(self) -> bool:
        """Whether the method needs a trained encoder: f-AnoGAN, or a search from E(x)."""
        return self.method == "fanogan" or self.init == "encoder"

    def validate(self) -> ScoreConfig:
        _choice("method", self.method, SCORE_METHODS)
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("disc", self.disc, DISC_TERMS)
        _choice("--init", self.init, ("prior", "encoder"))
        _choice("--encoder", self.encoder, MODES)
        if self.batch_size <= 0 or self.num_steps <= 0:
            raise RunError("--batch-size and --num-steps must be positive")
        _positive(self, "micro_batch")
        _seed(self.seed)
        _rate("lr", self.lr)
        _nonnegative("lam", self.lam)
        if self.limit < 0:
            raise RunError(f"--limit must be >= 0 (0: the whole test set), got {self.limit}")
        if self.val_images < 1:
            raise RunError(
                f"--val-images must be >= 1 (the threshold is chosen on these normal "
                f"validation images), got {self.val_images}"
            )
        if self.kappa != "calibrated":
            try:
                kappa = float(self.kappa)
            except ValueError:
                raise RunError(f"--kappa {self.kappa!r}: give a number or 'calibrated'") from None
            _nonnegative("--kappa", kappa)
        return self


@dataclasses.dataclass(frozen=True)
class ClassifierConfig(_Saved):
    dataset: str = "mnist"
    steps: int = 3000
    batch_size: int = 128
    lr: float = 1e-3
    # Adam's learning rate halves every ``lr_half_life`` steps. The schedule does not depend on
    # ``steps``, so training on with --resume gives the same parameters as a longer run.
    lr_half_life: int = 1000
    max_shift: int = 2  # random translation of up to this many pixels; 0 turns it off
    seed: int = 0
    checkpoint_every: int = 500

    def validate(self) -> ClassifierConfig:
        _dataset(self.dataset)
        if is_folder(self.dataset):
            raise RunError(NO_LABELS.format(dataset=self.dataset))
        _positive(self, "steps", "batch_size", "lr_half_life", "checkpoint_every")
        _seed(self.seed)
        if not self.lr > 0 or self.max_shift < 0:
            raise RunError(f"need lr > 0 and max_shift >= 0, got {self.lr}, {self.max_shift}")
        return self


def _type_ok(value, default) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float) or default is None:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok or (default is None and value is None)
    return isinstance(value, type(default))


def config_from_dict(cls, raw: dict, where: str):
    """A validated ``cls`` from a dict (a saved file, or a study's settings). Raises RunError
    naming ``where`` for unknown keys, wrong types and invalid values."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise RunError(f"{where}: unknown settings {unknown}; known: {sorted(fields)}")
    defaults = cls()
    for name, value in raw.items():
        if not _type_ok(value, getattr(defaults, name)):
            raise RunError(
                f"{where}: {name} = {value!r} has the wrong type (expected one like "
                f"{getattr(defaults, name)!r})"
            )
    try:
        return cls(**raw).validate()
    except RunError as err:
        raise RunError(f"{where}: {err}") from None


def load_config(cls, path):
    """The ``cls`` saved in ``path``, validated like the command line's. Raises RunError (or
    FileFormatError) naming the file and what to do."""
    try:
        return config_from_dict(cls, read_json(path), str(path))
    except RunError as err:
        hint = "Restore the file, or start the folder again with --overwrite"
        raise RunError(f"{err}. {hint}") from None


# Settings that may change when a run is resumed: they change what is logged and kept, not
# the maths. ``steps`` may change too (to continue longer).
RESUMABLE = frozenset({"steps", "log_every", "checkpoint_every", "sample_every", "keep"})
# Settings whose 0 means "as the data has it": a run saves the value its data resolved them to
# (``gan.with_image_shape``), so a resume given 0 continues with the saved value.
RESOLVED = frozenset({"image_size", "channels"})


def resumed_config(saved, given: dict, where: Path):
    """The config a resumed run continues with: ``saved`` updated with the settings the user
    gave (``given``: name -> value). A given setting that differs from the saved value and is
    not in ``RESUMABLE`` is refused, naming both values; a given 0 for a setting in
    ``RESOLVED`` matches the value the saved run resolved it to."""
    # Compared as the dataclass spells them (its __post_init__ normalises, e.g. kappa "1").
    spelled = dataclasses.replace(saved, **given)
    changed = {
        k: (getattr(saved, k), v)
        for k, v in given.items()
        if getattr(saved, k) != getattr(spelled, k) and not (k in RESOLVED and v == 0)
    }
    fixed = {k: ab for k, ab in changed.items() if k not in RESUMABLE}
    if fixed:
        shown = ", ".join(f"{k}: saved {a!r}, given {b!r}" for k, (a, b) in sorted(fixed.items()))
        raise RunError(
            f"{where} was started with settings that differ from the saved ones ({shown}); "
            "--resume continues a run with its saved settings: drop those options, or start a "
            "new run in another folder (or with --overwrite)"
        )
    return dataclasses.replace(saved, **{k: v for k, v in given.items() if k in RESUMABLE})


def signature(config: RunConfig) -> dict:
    """What a GAN checkpoint's shapes depend on; stored beside the checkpoints."""
    return {
        "arch": config.arch,
        "latent_dim": config.latent_dim,
        "objective": config.objective,
        "critic": config.critic_norm,
        "image_shape": list(config.image_shape),
        "width": config.width,
    }


# What a signature saved before a field existed meant by its absence.
SIGNATURE_DEFAULTS = {"image_shape": list(NATIVE_SHAPE), "width": 0}


def fit_batch_size(config, num_images: int, what: str, *, say=None):
    """``config`` with its ``batch_size`` lowered to ``num_images`` when it is larger (the
    largest batch the images hold), ``say`` (e.g. ``print``) told so in one line naming the
    option that sets it; ``config`` itself when the batch fits."""
    if config.batch_size <= num_images or num_images < 1:  # none: the sampler names it
        return config
    if say is not None:
        say(
            f"batch size {num_images}: the {num_images} {what} are fewer than the default "
            f"{config.batch_size} (--batch-size sets it)"
        )
    return dataclasses.replace(config, batch_size=num_images)


def check_same_settings(configs: list, folders: list, hint: str, free=("seed",)) -> None:
    """Runs handled together (the seeds trained together; with ``free=("cls", "seed")`` the
    models of a models axis) must differ in the fields ``free`` only. Raises RunError naming
    the first folder that differs and the fields it differs in, followed by ``hint``."""
    first = configs[0]
    for config, folder in zip(configs[1:], folders[1:], strict=True):
        other = [
            f"{f.name} {getattr(config, f.name)!r}, not {getattr(first, f.name)!r}"
            for f in dataclasses.fields(first)
            if f.name not in free and getattr(config, f.name) != getattr(first, f.name)
        ]
        if other:
            raise RunError(
                f"{folder} has other settings than {folders[0]} ({'; '.join(other)}), and only "
                f"{' and '.join(free)} may differ; {hint}"
            )
