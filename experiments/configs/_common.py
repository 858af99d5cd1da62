"""Settings shared by the first study configs: the light `mlp` GAN (the Keras MNIST GAN) on short
schedules, every reduction stated in each study's NOTES.md and REPORT.md."""

from collections import defaultdict
from pathlib import Path

from anogan_jax.runs.config import EncoderConfig, ScoreConfig
from anogan_jax.studies.config import Method
from anogan_jax.studies.layout import default_results, load_cells

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


def main_study_means(study: str, methods, label: str) -> dict:
    """Reference columns from another study's committed cells: for each method, the mean
    AUROC (%) over seeds per class, named "<method> (<label>)"."""
    by = defaultdict(list)
    for cell in load_cells(default_results(Path(__file__).resolve().parents[2], study)):
        if cell["method"] in methods:
            by[cell["method"], cell["class"]].append(cell["scores"][cell["column"]]["auroc"])
    return {
        f"{m} ({label})": {
            c: round(100 * sum(v) / len(v), 1) for (m_, c), v in by.items() if m_ == m
        }
        for m in methods
    }
