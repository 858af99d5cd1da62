"""Scores that discount input complexity: the PNG bits, the residual in bits with its scale
fitted on normal validation scores, and the study rows derived from score folders."""

import dataclasses
import json
import math
import shutil

import numpy as np
import pytest

from anogan_jax import complexity, metrics
from anogan_jax.runs.config import RunConfig, RunError
from anogan_jax.runs.gan import load_data
from anogan_jax.runs.scoring import images_at
from anogan_jax.studies import complexity as study_complexity
from anogan_jax.studies.complexity import complexity_cells
from tests.test_study import TINY


def _unit(pixels: np.ndarray) -> np.ndarray:
    return (pixels.astype(np.float32) / 127.5 - 1.0)[..., None]


def _stroke(width: int) -> np.ndarray:
    """A 28x28 image, black with a white vertical bar ``width`` pixels wide."""
    img = np.zeros((28, 28), np.uint8)
    img[4:24, 14 - width // 2 : 14 - width // 2 + width] = 255
    return img


def test_quantize_gives_back_the_pixels_the_images_were_made_from():
    pixels = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    assert np.array_equal(complexity.quantize(_unit(pixels))[..., 0], pixels)
    with pytest.raises(ValueError, match="leading axis"):
        complexity.quantize(np.zeros((28, 28, 1)))


def test_png_bits_grow_with_what_there_is_to_describe():
    noise = np.random.default_rng(1).integers(0, 256, size=(28, 28), dtype=np.uint8)
    images = _unit(np.stack([np.zeros((28, 28), np.uint8), _stroke(2), _stroke(2), noise]))
    bits = complexity.png_bits(images)
    assert bits.shape == (4,) and np.all(bits % 8 == 0)
    blank, thin, thin_again, noisy = bits
    assert thin == thin_again and blank < thin < noisy
    # Noise does not compress: at least its 784 bytes of pixels.
    assert noisy >= 8 * 784


def test_residual_bits_use_the_scale_fitted_on_normal_validation_scores():
    # L1 sum over D = 4 values, validation mean 10: b = 2.5 per value; bits = R / (b ln 2).
    bits = complexity.residual_bits([10.0, 20.0], [5.0, 15.0, np.nan], "l1_sum", 4)
    assert bits == pytest.approx([10 / (2.5 * math.log(2)), 20 / (2.5 * math.log(2))])
    # Mean squared residual, validation mean 2 = sigma^2: bits = D * mse / (2 sigma^2 ln 2).
    bits = complexity.residual_bits([1.0, 3.0], [1.0, 3.0], "mse", 4)
    assert bits == pytest.approx([1 / math.log(2), 3 / math.log(2)])
    with pytest.raises(ValueError, match="unknown residual kind"):
        complexity.residual_bits([1.0], [1.0], "l2", 4)
    with pytest.raises(ValueError, match="no positive scale"):
        complexity.residual_bits([1.0], [0.0, 0.0], "mse", 4)


def test_a_simple_image_with_the_same_residual_scores_higher():
    """Equal residuals: the thin stroke, cheaper to describe, is the more anomalous."""
    images = _unit(np.stack([_stroke(2), _stroke(12)]))
    score = complexity.complexity_adjusted([50.0, 50.0], [40.0, 60.0], images, "l1_sum")
    png = complexity.png_bits(images)
    residual = 50.0 / (50.0 / 784 * math.log(2))
    assert score == pytest.approx(residual - png)
    assert score[0] > score[1]
    with pytest.raises(ValueError, match="1 images for 2 scores"):
        complexity.complexity_adjusted([1.0, 2.0], [1.0], images[:1], "mse")
    given = complexity.complexity_adjusted([50.0, 50.0], [40.0, 60.0], images, "l1_sum", bits=png)
    assert np.array_equal(given, score)
    with pytest.raises(ValueError, match="one value per image"):
        complexity.complexity_adjusted([50.0, 50.0], [40.0, 60.0], images, "l1_sum", bits=png[:1])


def test_png_bits_cache_computes_each_image_once(monkeypatch):
    """The methods of one seed score the same images: their PNG bits are computed once, and
    come back in the order asked for, equal to computing them afresh."""
    data = load_data(RunConfig(dataset="digits", arch="mlp", cls=0))
    calls = []
    real = complexity.png_bits

    def counting(images):
        calls.append(len(images))
        return real(images)

    monkeypatch.setattr(study_complexity, "png_bits", counting)
    n = len(data.test)
    cache = study_complexity.PngBitsCache(data)
    first = cache([5, n, 2, 5])
    again = cache([2, 5, n])
    more = cache([n, 7])
    assert calls == [3, 1]
    assert np.array_equal(first, real(images_at(data, [5, n, 2, 5])))
    assert np.array_equal(again, first[[2, 0, 1]])
    assert np.array_equal(more, real(images_at(data, [n, 7])))


def test_images_at_maps_score_indices_back_to_test_and_validation_images():
    data = load_data(RunConfig(dataset="digits", arch="mlp", cls=0))
    n = len(data.test)
    got = images_at(data, [3, n + 1, 0])
    assert np.array_equal(got, np.stack([data.test[3], data.val[1], data.test[0]]))
    with pytest.raises(RunError, match="made on other data"):
        images_at(data, [n + len(data.val)])


def _write_scores(path, data, test_idx, residual, val_residual):
    lines = ["index,split,label,class,A,R,D"]
    for i, r in zip(test_idx, residual, strict=True):
        label, cls = data.test_labels[i], data.test_classes[i]
        lines.append(f"{i},test,{label},{cls},{float(r)!r},{float(r)!r},0.0")
    for j, r in enumerate(val_residual):
        lines.append(f"{len(data.test) + j},val,0,-1,{float(r)!r},{float(r)!r},0.0")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def test_complexity_cells_rank_the_residual_less_the_png_bits(tmp_path):
    study = dataclasses.replace(TINY, complexity=("anogan",))
    data = load_data(dataclasses.replace(study.run, cls=0, seed=0))
    rng = np.random.default_rng(2)
    test_idx = np.arange(0, len(data.test), 7)
    residual = rng.uniform(50, 150, size=len(test_idx)) + 40 * data.test_labels[test_idx]
    val_residual = rng.uniform(50, 150, size=6)
    runs, res = tmp_path / "runs", tmp_path / "res"
    (res / "cells").mkdir(parents=True)
    for seed in study.seeds:
        scores = runs / "class_0" / "scores" / "anogan" / f"seed_{seed}" / "scores.csv"
        _write_scores(scores, data, test_idx, residual, val_residual)
    (res / "cells" / "c0_s0_anogan.json").write_text("{}")  # seed 1's cell is not in yet
    assert complexity_cells(study, res, runs) == 1
    cell = json.loads((res / "cells" / "c0_s0_anogan_ic.json").read_text())
    assert (cell["method"], cell["column"], cell["derived_from"]) == ("anogan_ic", "R_ic", "anogan")
    b = np.mean(val_residual) / 784
    want = residual / (b * math.log(2)) - complexity.png_bits(data.test[test_idx])
    labels = data.test_labels[test_idx]
    assert cell["scores"]["R_ic"]["auroc"] == pytest.approx(metrics.auroc(labels, want), abs=1e-12)
    assert (cell["num_test"], cell["num_val"]) == (len(test_idx), 6)
    # Written once: a second call writes nothing and leaves the cell as it was.
    before = (res / "cells" / "c0_s0_anogan_ic.json").read_bytes()
    assert complexity_cells(study, res, runs) == 0
    assert (res / "cells" / "c0_s0_anogan_ic.json").read_bytes() == before
    assert not (res / "auroc_by_pair.json").exists()  # not every seed is in yet
    # Seed 1's cell in: its derived cell, and the class's pair AUROCs over both seeds (here
    # equal, since the seeds' scores are).
    (res / "cells" / "c0_s1_anogan.json").write_text("{}")
    assert complexity_cells(study, res, runs) == 1
    classes = data.test_classes[test_idx]
    pairs = json.loads((res / "auroc_by_pair.json").read_text())["anogan_ic"]["0"]
    for d in (1, 7):
        keep = (classes == 0) | (classes == d)
        auroc = 100 * metrics.auroc(labels[keep], want[keep])
        assert pairs[str(d)] == pytest.approx(auroc, abs=1e-9)
    # Cells copied into another results folder without their pair AUROCs: the pairs are
    # computed there, the cells left as they were.
    other = tmp_path / "other"
    shutil.copytree(res / "cells", other / "cells")
    before = {p.name: p.read_bytes() for p in (other / "cells").iterdir()}
    assert complexity_cells(study, other, runs) == 0
    assert json.loads((other / "auroc_by_pair.json").read_text())["anogan_ic"]["0"] == pairs
    assert {p.name: p.read_bytes() for p in (other / "cells").iterdir()} == before


def test_study_refuses_complexity_rows_it_cannot_make():
    with pytest.raises(RunError, match="not among its methods"):
        dataclasses.replace(TINY, complexity=("hybrid",))
    with pytest.raises(RunError, match="applies GCN"):
        dataclasses.replace(
            TINY, run=dataclasses.replace(TINY.run, gcn=True), complexity=("anogan",)
        )


def test_a_complexity_row_has_its_seed_ensemble(tmp_path):
    """``ensembles=`` may name a complexity row: per test image, the mean over seeds of each
    seed's residual-less-PNG-bits standardised on its own normal validation images, written
    once every seed is in, as the row ``<m>_ic_ens`` after the complexity rows."""
    study = dataclasses.replace(TINY, complexity=("anogan",), ensembles=("fanogan", "anogan_ic"))
    assert study.row_names()[-3:] == ["fanogan_ens", "anogan_ic", "anogan_ic_ens"]
    data = load_data(dataclasses.replace(study.run, cls=0, seed=0))
    rng = np.random.default_rng(3)
    test_idx = np.arange(0, len(data.test), 5)
    labels = data.test_labels[test_idx]
    runs, res = tmp_path / "runs", tmp_path / "res"
    (res / "cells").mkdir(parents=True)
    png = complexity.png_bits(data.test[test_idx])
    expected = []
    for seed, scale in zip(study.seeds, (1.0, 30.0), strict=True):
        residual = scale * (rng.uniform(50, 150, size=len(test_idx)) + 40 * labels)
        val_residual = scale * rng.uniform(50, 150, size=8)
        scores = runs / "class_0" / "scores" / "anogan" / f"seed_{seed}" / "scores.csv"
        _write_scores(scores, data, test_idx, residual, val_residual)
        (res / "cells" / f"c0_s{seed}_anogan.json").write_text("{}")
        b = np.mean(val_residual) / 784
        val_png = complexity.png_bits(data.val[: len(val_residual)])
        ic, val_ic = residual / (b * math.log(2)) - png, val_residual / (b * math.log(2)) - val_png
        expected.append((ic - val_ic.mean()) / val_ic.std())
    assert complexity_cells(study, res, runs) == 3  # two seeds' rows and their ensemble
    cell = json.loads((res / "cells" / "c0_ens_anogan_ic.json").read_text())
    assert (cell["method"], cell["seed"], cell["column"]) == ("anogan_ic_ens", "ensemble", "R_ic")
    want = metrics.auroc(labels, np.mean(expected, axis=0))
    assert cell["scores"]["R_ic"]["auroc"] == pytest.approx(want, abs=1e-12)
    assert complexity_cells(study, res, runs) == 0  # written once
    with pytest.raises(RunError, match="neither its methods nor its complexity rows"):
        dataclasses.replace(study, ensembles=("fanogan_ic",))
