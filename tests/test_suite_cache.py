"""The test session keeps its decoded datasets and classifiers in a temporary folder of its own
(``tests/conftest.py``), never under the user's ~/.cache."""

import subprocess
import sys
import tempfile
from pathlib import Path

from anogan_jax import datasets
from anogan_jax.files import dataset_cache_dir
from anogan_jax.runs.classifier import classifier_dir
from anogan_jax.runs.textures import make_texture_folder


def _outside_home(path: Path) -> bool:
    path = path.resolve()
    return not path.is_relative_to((Path.home() / ".cache").resolve()) and path.is_relative_to(
        Path(tempfile.gettempdir()).resolve()
    )


def test_the_suite_caches_in_a_temporary_folder_not_the_home_cache(tmp_path):
    cache = dataset_cache_dir()
    assert _outside_home(cache) and _outside_home(classifier_dir("digits"))
    folder = tmp_path / "textures"
    make_texture_folder(folder, seed=5, size=8, num_train=3, num_test_good=1, num_test_per_defect=1)
    datasets.load_dataset(f"folder:{folder}", image_size=8)
    assert any(cache.glob("folder-*.npz"))  # what a test decodes is cached there
    # Subprocesses (and xdist workers) a test starts use the same folder.
    code = "import os; print(os.environ['ANOGAN_JAX_CACHE'])"  # what dataset_cache_dir reads
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert Path(out.stdout.strip()) / "datasets" == cache, out.stderr
