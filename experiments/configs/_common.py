"""Settings shared by the study configs (CPU budget: a study must finish in about an hour on
2 cores, so the light `mlp` GAN of the seeds is used; every reduction is stated here and in
each REPORT.md)."""

from anogan_jax.runs.config import EncoderConfig, ScoreConfig
from anogan_jax.runs.study_config import Method

GAN = dict(
    arch="mlp",
    objective="non_saturating",
    latent_dim=100,
    steps=2000,
    batch_size=64,
    checkpoint_every=1000,
    sample_every=1000,
    log_every=200,
)
ENCODER = EncoderConfig(mode="izi_f", steps=1500, batch_size=64, lr=5e-4, checkpoint_every=1500)
SEARCH = ScoreConfig(
    method="anogan", num_steps=500, batch_size=250, lr=0.05, limit=1000, val_images=250
)
FANOGAN = ScoreConfig(method="fanogan", batch_size=500, val_images=500)
METHODS = (
    Method("anogan", SEARCH),
    Method("fanogan", FANOGAN, column="A"),
    Method("fanogan_cal", FANOGAN, column="A_cal"),
    Method(
        "hybrid",
        ScoreConfig(
            method="anogan",
            init="encoder",
            num_steps=100,
            batch_size=250,
            lr=0.05,
            limit=1000,
            val_images=250,
        ),
    ),
)
NOTES = """\
Reductions for the 2-core CPU budget, all stated: the GAN is the seeds' MLP GAN (not the
DCGAN of the AnoGAN paper), trained 2,000 steps; the encoder 1,500 steps (RMSProp lr 5e-4,
10x the official 5e-5, because of the short schedule); the 500-step AnoGAN search and the
100-step encoder-initialised search score a stratified, seeded subsample of 1,000 test images
(about 100 of them from the normal class, so one cell's AUROC has a standard error of roughly
1-3 points by the Hanley-McNeil formula); f-AnoGAN scores the full test set. `fanogan` ranks
by img_mse + 1 x feat_mse (the official kappa = 1), `fanogan_cal` by each term divided by its
mean on normal training images (no test labels). Thresholds in the cell files are chosen on
normal validation images only.
"""


def computed_before_the_record(machine: str, commit: str) -> str:
    """A notes paragraph for a study whose cells predate the per-cell record of where they were
    computed (``timings/*.json``'s "computed_on"): what its first report said."""
    return (
        f"\nWhere the cells were computed (they predate the per-cell record): a 2-core {machine}; "
        f"the report the runner wrote when the study finished named commit {commit}.\n"
    )


def main_study_means(study: str, methods, label: str) -> dict:
    """Reference columns from another study's committed cells: for each method, the mean
    AUROC (%) over seeds per class, named "<method> (<label>)"."""
    import json
    from collections import defaultdict
    from pathlib import Path

    cells = Path(__file__).resolve().parents[1] / "results" / study / "cells"
    by = defaultdict(list)
    for path in sorted(cells.glob("*.json")):
        cell = json.loads(path.read_text())
        if cell["method"] in methods:
            by[cell["method"], cell["class"]].append(cell["scores"][cell["column"]]["auroc"])
    return {
        f"{m} ({label})": {
            c: round(100 * sum(v) / len(v), 1) for (m_, c), v in by.items() if m_ == m
        }
        for m in methods
    }
