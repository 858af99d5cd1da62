"""Your own images, end to end through the CLI: a synthetic MVTec-style folder (grey and RGB),
train -> train-encoder -> score -> predict -> export on tiny models of every architecture
that fits the images; predict equals score, the exported artefact equals predict (run in a
process that imports only jax and numpy), masks give pixel metrics."""

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from anogan_jax import cli, data
from anogan_jax.runs.textures import make_texture_folder

SMALL = dict(num_train=48, num_test_good=6, num_test_per_defect=3)
TRAIN = ["--batch-size", "8", "--steps", "3", "--quiet", "--log-every", "1"]
TRAIN += ["--checkpoint-every", "3", "--sample-every", "3"]
ENCODER = ["--steps", "3", "--batch-size", "8", "--quiet", "--log-every", "1"]
# Few search steps: the tests check plumbing and identities, not quality.
SEARCH = ["--num-steps", "3", "--micro-batch", "4", "--batch-size", "8", "--val-images", "8"]


def _run(argv):
    assert cli.main([str(a) for a in argv]) == 0, argv


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


SLOW = pytest.mark.slow
# (arch, channels, image side): every architecture, on the images it is built for. The MLP on
# grey 32 x 32 runs by default; the convolutional ones (longer compiles) with -m slow.
CASES = [
    ("mlp", 1, 32),
    pytest.param(("dcgan", 1, 64), marks=SLOW),
    pytest.param(("resnet64", 3, 64), marks=SLOW),
    pytest.param(("dcgan28_light", 3, 28), marks=SLOW),
    pytest.param(("dcgan28", 1, 28), marks=SLOW),
]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """case -> its pipeline, built on first use: a cache rather than a parametrized module
    fixture, which pytest-xdist tears down and rebuilds when it interleaves the cases."""
    cache = {}

    def get(case):
        if case not in cache:
            cache[case] = _build(case, tmp_path_factory)
        return cache[case]

    return get


@pytest.fixture(params=CASES, ids=lambda c: "{}-{}c-{}px".format(*c))
def pipeline(request, built):
    return built(request.param)


def _build(case, tmp_path_factory) -> dict:
    """A folder, a GAN and an izi_f encoder trained on it, and its fanogan score folder."""
    arch, channels, size = case
    root = tmp_path_factory.mktemp(f"{arch}{channels}")
    folder = root / "textures"
    make_texture_folder(folder, channels=channels, size=size, seed=1, **SMALL)
    run = root / "run"
    extra = ["--width", "8"] if arch in ("dcgan", "resnet64") else []
    _run(
        ["train", "--dataset", f"folder:{folder}", "--image-size", size, "--arch", arch]
        + ["--latent-dim", "16", "--out", run, *extra, *TRAIN]
    )
    _run(["train-encoder", "--run", run, *ENCODER])
    score = root / "score"
    _run(["score", "--run", run, "--method", "fanogan", *SEARCH, "--out", score, "--quiet"])
    return dict(folder=folder, run=run, score=score, channels=channels, size=size, root=root)


def test_the_run_records_the_shape_of_its_images(pipeline):
    config = json.loads((pipeline["run"] / "config.json").read_text())
    assert (config["image_size"], config["channels"]) == (pipeline["size"], pipeline["channels"])
    model = json.loads((pipeline["run"] / "checkpoints" / "model.json").read_text())
    assert model["image_shape"] == [pipeline["size"], pipeline["size"], pipeline["channels"]]


def test_score_reports_pixel_metrics_from_the_masks(pipeline):
    report = json.loads((pipeline["score"] / "metrics.json").read_text())
    pixel = report["pixel"]
    assert 0.0 <= pixel["auroc"] <= 1.0 and 0.0 <= pixel["aupro"] <= 1.0
    assert pixel["num_images"] == report["num_test"] == 6 + 3 * 3


def _score_rows(score_dir: Path) -> list[dict]:
    return [r for r in _read_csv(score_dir / "scores.csv") if r["split"] == "test"]


def _test_files(folder: Path) -> list[Path]:
    """The test images in the order of the dataset's test split (sorted by class name, good
    first, then by file name)."""
    kinds = ["good"] + sorted(p.name for p in (folder / "test").iterdir() if p.name != "good")
    return [p for k in kinds for p in sorted((folder / "test" / k).glob("*.png"))]


# predict's methods as score options (hybrid: the search started from E(x)).
SCORE_METHOD = {
    "fanogan": ["--method", "fanogan"],
    "anogan": ["--method", "anogan"],
    "hybrid": ["--method", "anogan", "--init", "encoder"],
}


def _score_dir(pipeline, method) -> Path:
    """The pipeline's score folder for ``method``, scored on first use."""
    if method == "fanogan":
        return pipeline["score"]
    folder = pipeline["root"] / f"score_{method}"
    if not (folder / "metrics.json").exists():
        _run(["score", "--run", pipeline["run"], *SCORE_METHOD[method], *SEARCH, "--out", folder])
    return folder


@pytest.mark.parametrize("method", ["fanogan", "anogan", "hybrid"])
def test_predict_equals_score_on_the_same_images(pipeline, tmp_path, method):
    """predict's score of each test image is score's, to the 9 digits both write, for the
    one-pass method and both searches; the threshold is score's too."""
    out = tmp_path / "pred"
    test = pipeline["folder"] / "test"
    _run(["predict", "--run", pipeline["run"], test, "--out", out, "--method", method, *SEARCH])
    score_dir = _score_dir(pipeline, method)
    rows = _read_csv(out / "predictions.csv")
    rows = {Path(r["file"]).relative_to(pipeline["folder"]): r for r in rows}
    scored = _score_rows(score_dir)
    files = _test_files(pipeline["folder"])
    assert len(rows) == len(scored) == len(files)
    for f, s in zip(files, scored, strict=True):
        assert rows[f.relative_to(pipeline["folder"])]["score"] == s["A"]  # same 9 digits
    # Same threshold as score's, chosen on the same normal validation images.
    threshold = json.loads((score_dir / "metrics.json").read_text())["scores"]["A"]
    assert float(next(iter(rows.values()))["threshold"]) == pytest.approx(
        threshold["threshold"], rel=1e-7
    )
    for r in rows.values():
        assert r["anomalous"] == ("yes" if float(r["score"]) > float(r["threshold"]) else "no")
    assert len(list((out / "images").glob("*.png"))) == len(files)


EXPORT_CHECK = textwrap.dedent(
    """
    import json, sys
    import jax, numpy as np
    from jax import export
    folder, name, images = sys.argv[1], sys.argv[2], sys.argv[3]
    meta = json.load(open(f"{folder}/scorer.json"))
    fn = meta["functions"][name]
    exp = export.deserialize(open(f"{folder}/{fn['file']}", "rb").read())
    with np.load(f"{folder}/{fn['params']}") as f:
        params = [f[f"arr_{i}"] for i in range(len(f.files))]
    call = jax.jit(exp.call, compiler_options=meta["xla_cpu_compile_options"] or None)
    x = np.load(images)
    out = {k: np.asarray(v) for k, v in call(params, x).items()}
    assert "anogan_jax" not in sys.modules and "flax" not in sys.modules
    np.savez(images + ".out.npz", **out)
    """
)


@pytest.fixture
def exported(pipeline):
    """The pipeline's run exported once (both functions)."""
    export_dir = pipeline["root"] / "export"
    if not (export_dir / "scorer.json").exists():
        _run(["export", "--run", pipeline["run"], "--out", export_dir, *SEARCH, "--quiet"])
    return export_dir


def test_export_lowers_for_cpu_and_cuda_and_records_it(pipeline, exported):
    """Both exported functions are lowered for CPU and CUDA (a CUDA host can serve them
    without this package), and scorer.json says so, as the artefacts themselves do."""
    from jax import export

    meta = json.loads((exported / "scorer.json").read_text())
    assert set(meta["functions"]) == {"fanogan", "hybrid"}
    for fn in meta["functions"].values():
        assert fn["platforms"] == ["cpu", "cuda"]
        exp = export.deserialize((exported / fn["file"]).read_bytes())
        assert list(exp.platforms) == ["cpu", "cuda"]


@pytest.mark.parametrize("method", ["fanogan", "hybrid"])
def test_exported_scorer_reproduces_predict(pipeline, exported, method, tmp_path):
    export_dir = exported
    meta = json.loads((export_dir / "scorer.json").read_text())
    shape = meta["preprocessing"]["image_shape"]
    assert shape == [pipeline["size"], pipeline["size"], pipeline["channels"]]
    pred = tmp_path / "pred"
    files = _test_files(pipeline["folder"])[:7]  # 7: not a multiple of the micro-batch
    _run(["predict", "--run", pipeline["run"], *files, "--out", pred, "--method", method, *SEARCH])
    rows = _read_csv(pred / "predictions.csv")
    from anogan_jax import datasets

    images = datasets.load_image_files(files, image_size=shape[0], channels=shape[2])
    np.save(tmp_path / "x.npy", images)
    script = tmp_path / "check.py"
    script.write_text(EXPORT_CHECK)
    subprocess.run(
        [sys.executable, script, export_dir, method, tmp_path / "x.npy"], check=True, timeout=600
    )
    with np.load(tmp_path / "x.npy.out.npz") as out:
        # The CSV holds float32 values to 9 significant digits: exact after a float32 cast.
        assert out["score"].tolist() == [np.float32(r["score"]) for r in rows]
        assert out["map"].shape == (7, shape[0], shape[1])
    assert meta["functions"][method]["threshold"] == pytest.approx(float(rows[0]["threshold"]))


@pytest.mark.slow
def test_defaults_fit_a_small_64x64_folder(tmp_path, capsys):
    """No --arch and no --batch-size on 24 images of 64 x 64: `train` picks the first arch built
    for 64 x 64 and trains with all its training images as its batch, `train-encoder` likewise;
    each says so, and the folders record what was used (a resume continues with it)."""
    folder = tmp_path / "textures"
    make_texture_folder(folder, size=64, num_train=24, num_test_good=4, num_test_per_defect=2)
    run = tmp_path / "run"
    few = ["--steps", "2", "--quiet", "--checkpoint-every", "2", "--sample-every", "2"]
    # --width 8 keeps the compile small; it also narrows the choice to the archs it sizes.
    _run(["train", "--dataset", f"folder:{folder}", "--width", "8", "--out", run, *few])
    out = capsys.readouterr().out
    assert "arch dcgan: the first of dcgan28_light, dcgan28, dcgan, resnet64, mlp built for " in out
    split = data.load_one_class(f"folder:{folder}", protocol="one_class_normal", cls=0)
    num_train = len(split.train)  # the rest is the validation split, chosen by file name
    assert num_train + len(split.val) == 24 and len(split.val) >= 1
    assert f"batch size {num_train}: the {num_train} training images are fewer than the " in out
    saved = json.loads((run / "config.json").read_text())
    assert (saved["arch"], saved["image_size"], saved["batch_size"]) == ("dcgan", 64, num_train)

    _run(["train", "--dataset", f"folder:{folder}", "--out", run, "--resume", "--steps", "3"])
    assert "arch" not in capsys.readouterr().out  # the saved arch, said when chosen
    assert json.loads((run / "config.json").read_text())["batch_size"] == num_train

    _run(["train-encoder", "--run", run, "--steps", "2", "--quiet"])
    assert f"batch size {num_train}: the {num_train} training images" in capsys.readouterr().out
    encoder = json.loads((run / "encoder_izi_f" / "encoder_config.json").read_text())
    assert encoder["batch_size"] == num_train
