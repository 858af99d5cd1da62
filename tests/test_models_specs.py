"""The architecture specs (``models.specs``) are the one source of each architecture's facts: the
CLI's help, the validation messages, the default arch and the published sizes all read them."""

import re
from pathlib import Path

import pytest

from anogan_jax import models
from anogan_jax.cli_parser import build_parser
from anogan_jax.runs.config import RunConfig, RunError

PACKAGE = Path(__file__).resolve().parents[1] / "anogan_jax"


def _help(command: str) -> str:
    """The help text of a subcommand, its whitespace collapsed (argparse wraps lines)."""
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return " ".join(sub.choices[command].format_help().split())


def test_arch_help_lists_every_spec_in_the_order_the_default_prefers():
    text = _help("train")
    listed = [f"{s.name} ({s.sizes_text}): {s.description}" for s in models.SPECS]
    at = [text.index(entry) for entry in listed]
    assert at == sorted(at)
    assert "dcgan (16x16, 32x32, 64x64 or 128x128)" in text
    assert "Default: the first of these, in this order, built for the images' size" in text


def test_width_and_latent_dim_help_read_the_specs():
    text = _help("train")
    assert "channel base of dcgan / resnet64 (0: the published, dcgan 64, resnet64 64)" in text
    dims = ", ".join(f"{s.name} {s.latent_dim}" for s in models.SPECS)
    assert f"size of z (0: the arch's published, {dims})" in text
    assert "resnet64 128" in dims


@pytest.mark.parametrize("spec", [s for s in models.SPECS if s.sizes], ids=lambda s: s.name)
def test_a_size_an_arch_does_not_take_is_refused_naming_its_sizes(spec):
    side = spec.sizes[-1] + 1
    shape = f"{side}x{side}x1"
    message = f"arch {spec.name!r} is built for {spec.sizes_text} images; these are {shape}"
    with pytest.raises(ValueError, match=re.escape(message)):
        models.check_arch(spec.name, (side, side, 1))
    config = RunConfig(dataset="folder:x", arch=spec.name, image_size=side, channels=1)
    with pytest.raises(RunError, match=re.escape(message + ": use --arch mlp (any HxW)")):
        config.validate()


def test_each_spec_fits_exactly_its_sizes():
    for spec in models.SPECS:
        for side in range(8, 140):
            assert spec.fits(side, side) == (spec.sizes is None or side in spec.sizes)
        assert spec.fits(64, 32) == (spec.sizes is None)
    assert models.WIDE_ARCHS == ("dcgan", "resnet64")
    assert [models.default_latent_dim(a) for a in models.ARCHS] == [100, 100, 100, 128, 100]


@pytest.mark.parametrize(
    ("side", "wide", "arch"),
    [
        (28, False, "dcgan28_light"),  # today's default where it fits
        (64, False, "dcgan"),
        (16, False, "dcgan"),
        (128, False, "dcgan"),
        (48, False, "mlp"),  # only the any-size MLP
        (64, True, "dcgan"),
        (28, True, "dcgan28_light"),  # no wide arch fits: validation then names --width
    ],
)
def test_default_arch_is_the_first_spec_that_fits(side, wide, arch):
    assert models.default_arch(side, wide=wide) == arch


def test_a_config_without_arch_takes_the_default_for_its_images():
    assert RunConfig().arch == "dcgan28_light"
    folder = RunConfig(dataset="folder:x")  # folders are resized to 64x64 by default
    assert (folder.arch, folder.latent_dim, folder.default_side) == ("dcgan", 100, 64)
    assert RunConfig(dataset="folder:x", image_size=28).arch == "dcgan28_light"
    assert RunConfig(dataset="folder:x", image_size=40).arch == "mlp"
    given = RunConfig(dataset="folder:x", arch="resnet64")
    assert (given.arch, given.latent_dim) == ("resnet64", 128)
    with pytest.raises(RunError, match="--width sets the channels of dcgan and resnet64"):
        RunConfig(width=8).validate()


def test_each_fact_is_written_once_in_the_package():
    source = {p: p.read_text() for p in PACKAGE.rglob("*.py")}

    def holders(literal: str) -> list[str]:
        return sorted(str(p.relative_to(PACKAGE)) for p, text in source.items() if literal in text)

    assert holders("WIDE_ARCHS = ") == ["models/specs.py"]
    assert holders("(28, 28, 1)") == ["images.py"]
    assert holders('"folder:"') == ["datasets.py"]
