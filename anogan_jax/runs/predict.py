"""``predict``: score new images with a trained run, flag them at a threshold chosen on normal
validation images, and draw where each departs from what the GAN can generate.

Layout of a predict folder::

    predict.json        what was scored how: run, GAN step, method settings, threshold rule
    parts/              one .npz per finished batch (validation images, then the new ones)
    images/             per image: the input, G(z*) and the residual map over the input
    predictions.csv     file, score, anomalous (yes/no), threshold, threshold_rule, all scores;
                        written last, so a predict stopped before the end has none

The threshold is the score exceeded by ``fpr`` (5 % by default) of the run's normal
validation images (``metrics.threshold_at_fpr``), scored with the same method and settings:
it never looks at a label. New images are read with the run's preprocessing (the folder
datasets' resize rule, its side and channels; see ``datasets.load_image_files``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from anogan_jax import data as data_lib
from anogan_jax import datasets, image_decode
from anogan_jax import metrics as metrics_lib
from anogan_jax.files import atomic_write_text
from anogan_jax.runs import plotting
from anogan_jax.runs.config import RunError, ScoreConfig
from anogan_jax.runs.folders import check_output, folder_lock, start_folder
from anogan_jax.runs.gan import load_data
from anogan_jax.runs.identity import check_run_data
from anogan_jax.runs.methods import check_method_inputs, jit_method, method_for, start_ids
from anogan_jax.runs.models import check_run_folder
from anogan_jax.runs.score_report import residual_maps
from anogan_jax.runs.scoring import load_trained, run_batches

PREDICT_METHODS = ("fanogan", "anogan", "hybrid")
OWNED = ("predict.json", "parts", "predictions.csv", "images")


def method_config(method: str, **settings) -> ScoreConfig:
    """The ScoreConfig of a predict method: ``hybrid`` is the AnoGAN search started from the
    encoder's E(x) (``--init encoder``); ``settings`` are further ScoreConfig fields."""
    if method not in PREDICT_METHODS:
        raise RunError(f"unknown method {method!r}; choose one of {', '.join(PREDICT_METHODS)}")
    base = {"method": "fanogan"} if method == "fanogan" else {"method": "anogan"}
    if method == "hybrid":
        base["init"] = "encoder"
    return ScoreConfig(**{**settings, **base}).validate()


def load_run(run, data_dir=None, what: str = "predict") -> tuple:
    """(run config, models, GAN state, one-class data) of a trained run that can score new
    images. Raises RunError for a run trained on GCN-normalised images, and (``what`` naming
    the command) for data that is not the data the run was trained on."""
    run_config, models, state = load_trained(run)
    if run_config.gcn:
        raise RunError(
            f"{run} was trained on GCN-normalised images (--gcn), whose scaling depends on "
            "the training set; predict and export take runs trained without --gcn"
        )
    data = load_data(run_config, data_dir, run=run)
    check_run_data(run, run_config.dataset, data, f"{what} with {run}")
    return run_config, models, state, data


class Scorer:
    """A trained run's scoring method, jitted in blocks of ``micro_batch`` images so that an
    image's scores do not depend on the batch it is in (the same program as ``score``)."""

    def __init__(self, run, config: ScoreConfig, *, data_dir=None, loaded=None):
        """``loaded``: ``load_run(run, data_dir)`` when the caller has it already."""
        self.run, self.config = Path(run), config
        loaded = loaded or load_run(run, data_dir)
        self.run_config, self.models, self.state, self.data = loaded
        self.method = method_for(run, config, self.run_config, self.models, self.state, self.data)
        self.batch_fn = jit_method(self.method, None, config.micro_batch)

    def scores(self, images, indices, parts_dir: Path, *, ids=None, progress=True, desc="") -> dict:
        """Every score column of ``images`` (N, H, W, C), batch by batch, resumably. ``ids``:
        the search's start ids (``methods.start_ids``), by default the images' content."""
        return run_batches(
            self.batch_fn,
            images,
            indices,
            batch_size=self.config.batch_size,
            block=self.config.micro_batch,
            parts_dir=parts_dir,
            progress=progress,
            desc=desc or self.config.method,
            ids=start_ids(None, images, indices) if ids is None else ids,
        )

    def threshold(self, fpr: float, parts_dir: Path, *, progress=True) -> tuple[float, str]:
        """(threshold, rule): the A exceeded by at most ``fpr`` of the first ``val_images``
        normal validation images (the rule says how many it is), indexed after the test set
        exactly as ``score`` indexes them (so the threshold equals the one in ``score``'s
        metrics.json for the same settings)."""
        check_fpr(fpr)
        val = self.data.val[: self.config.val_images]
        if len(val) == 0:
            raise RunError(f"{self.run} has no normal validation images to set a threshold on")
        indices = len(self.data.test) + np.arange(len(val), dtype=np.int64)
        ids = start_ids(self.run_config.dataset, val, indices)
        out = self.scores(val, indices, parts_dir, ids=ids, progress=progress, desc="threshold")
        threshold = metrics_lib.threshold_at_fpr(out["A"], fpr)
        return threshold, threshold_rule(out["A"], threshold, fpr)


def threshold_rule(normal_scores: np.ndarray, threshold: float, fpr: float) -> str:
    """How a threshold was chosen, with the share of normal validation images it flags: at
    most ``fpr``, less when few images make ``fpr`` a fraction of one (or scores tie)."""
    n, flagged = len(normal_scores), int(np.sum(normal_scores > threshold))
    return (
        f"A exceeded by {flagged} of {n} normal validation images ({flagged / n:.1%}; "
        f"--fpr {fpr:.1%} asked)"
    )


def check_fpr(fpr: float) -> None:
    if not 0.0 < fpr < 1.0:
        raise RunError(
            f"--fpr must be in (0, 1): the share of normal images allowed above the "
            f"threshold, e.g. 0.05; got {fpr}"
        )


def image_paths(inputs: list[str], out: Path | None = None) -> list[Path]:
    """The image files named in ``inputs``: files as given; folders searched recursively in
    name order for PNG / JPEG files, skipping hidden files and folders (names starting with
    "."), following symbolic links to folders (each real folder once), and leaving out
    ``out``, the folder the results go to, and any folder below that holds an earlier
    predict's results (its ``predict.json``). Raises DataError when a path is missing, holds
    no image, or is ``out`` itself."""
    skip = Path(out).resolve() if out is not None else None
    paths = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            if path.resolve() == skip:
                raise data_lib.DataError(
                    f"--out {out} is the input folder {path}: the results would be scored as "
                    "images; give another --out"
                )
            found = _walk(path, skip)
            if not found:
                raise data_lib.DataError(
                    f"{path} holds no PNG or JPEG image (hidden files and folders are skipped)"
                )
            paths += found
        elif path.is_file():
            paths.append(path)
        else:
            raise data_lib.DataError(f"{path} does not exist; give image files or folders")
    return paths


def _walk(folder: Path, skip: Path | None) -> list[Path]:
    """The image files under ``folder`` (see ``image_paths``), sorted by path."""
    found, seen = [], set()
    for top, dirs, files in os.walk(folder, followlinks=True):
        real = Path(top).resolve()
        earlier = top != os.fspath(folder) and (Path(top) / "predict.json").is_file()
        if real in seen or real == skip or earlier:
            dirs.clear()
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(top) / f for f in files if image_decode.is_image_file(Path(top) / f)]
    return sorted(found)


def predict(
    run,
    inputs: list[str],
    out,
    *,
    method: str = "fanogan",
    fpr: float = 0.05,
    settings: dict | None = None,
    overwrite=False,
    data_dir=None,
    progress=True,
) -> list[dict]:
    """Scores the images of ``inputs`` with a trained run into ``out``. Returns one dict per
    image (file, score, anomalous, threshold). Every method's score is a function of the
    image, the run and the settings alone (the search from a prior draw, ``anogan``, draws an
    image's start z from its content: ``methods.start_ids``)."""
    out, config = Path(out), method_config(method, **(settings or {}))
    check_fpr(fpr)
    paths = image_paths(inputs, out)
    check_run_folder(run)  # before the lock creates ``out``
    check_method_inputs(run, config)
    with folder_lock(out):
        check_output(
            out,
            resume=False,
            overwrite=overwrite,
            marker="predict.json",
            protect=[run],
            owned=OWNED,
            resumable=False,
            done="predictions.csv",
        )
        scorer = Scorer(run, config, data_dir=data_dir)
        rc = scorer.run_config
        images = datasets.load_image_files(paths, image_size=rc.image_size, channels=rc.channels)
        record = {
            "run": str(Path(run).resolve()),
            "gan_step": int(scorer.state.step),
            "method": method,
            "score_config": dataclasses.asdict(config),
            "fpr": fpr,
            "image_shape": list(rc.image_shape),
        }
        start_folder(out, OWNED, overwrite=overwrite, records={"predict.json": record})
        threshold, rule = scorer.threshold(fpr, out / "parts" / "val", progress=progress)
        indices = np.arange(len(images), dtype=np.int64)
        results = scorer.scores(images, indices, out / "parts" / "images", progress=progress)
        # predictions.csv comes last: a folder without it is a predict that did not finish.
        _draw(out / "images", paths, images, results, threshold, scorer)
        return _write_predictions(out, paths, results, threshold, rule)


def _write_predictions(out: Path, paths, results: dict, threshold: float, rule: str):
    columns = [k for k, v in results.items() if k not in ("index", "z") and np.ndim(v) == 1]
    lines = ["file,score,anomalous,threshold,threshold_rule," + ",".join(columns)]
    rows = []
    for i, path in enumerate(paths):
        score = float(results["A"][i])
        flag = "yes" if score > threshold else "no"
        rows.append({"file": str(path), "score": score, "anomalous": flag, "threshold": threshold})
        values = ",".join(f"{results[c][i]:.9g}" for c in columns)
        name = str(path).replace('"', '""')
        lines.append(f'"{name}",{score:.9g},{flag},{threshold:.9g},"{rule}",{values}')
    atomic_write_text(out / "predictions.csv", "\n".join(lines) + "\n")
    return rows


def _draw(folder: Path, paths, images, results, threshold: float, scorer: Scorer) -> None:
    maps, recon = residual_maps(scorer.models, scorer.state, images, results["z"])
    for i, path in enumerate(paths):
        score = float(results["A"][i])
        verdict = "anomalous" if score > threshold else "normal"
        caption = f"{path.name}: A = {score:.4g} ({verdict}; threshold {threshold:.4g})"
        plotting.prediction_figure(
            folder / f"{i:05d}_{_short(path.stem)}.png",
            images[i],
            recon[i],
            maps[i],
            caption=caption,
        )


def _short(stem: str, limit: int = 200) -> str:
    """``stem`` cut to at most ``limit`` UTF-8 bytes (a file name may have 255): the figure of
    an image with a long name still gets a name; its number keeps it unique."""
    return stem.encode("utf-8")[:limit].decode("utf-8", errors="ignore")
