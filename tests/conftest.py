import os
import shutil
import tempfile
from pathlib import Path

# Tests run on CPU; the multi-device tests start their own subprocesses with XLA_FLAGS set
# before jax is imported.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402

# Many tests compile the same small programs (train steps, searches) again in new closures or
# subprocesses; a persistent compilation cache shared by the session (and its subprocesses)
# turns those recompiles into cache hits. Results are the same executables, so bit-identity
# tests are unaffected.
_CACHE = os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "anogan_jax_test_xla_cache")
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")
jax.config.update("jax_compilation_cache_dir", _CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)

# Decoded datasets and trained classifiers go to one temporary folder per test session, never
# the user's ~/.cache (nor a cache the user set): shared by the session's tests and the
# subprocesses they start; xdist workers inherit the controller's (entries are written
# atomically and named by their content), and a process removes the folder it made at the end.
_SESSION_CACHE = "ANOGAN_JAX_TEST_SESSION_CACHE"
_MADE_HERE = _SESSION_CACHE not in os.environ
if _MADE_HERE:
    os.environ[_SESSION_CACHE] = tempfile.mkdtemp(prefix="anogan_jax_test_cache_")
os.environ["ANOGAN_JAX_CACHE"] = os.environ[_SESSION_CACHE]
os.environ["ANOGAN_JAX_CLASSIFIER_DIR"] = os.path.join(os.environ[_SESSION_CACHE], "classifiers")


def pytest_sessionfinish(session):
    if _MADE_HERE:
        shutil.rmtree(os.environ[_SESSION_CACHE], ignore_errors=True)


@pytest.fixture
def refused(capsys):
    """``refused(argv, expected)``: the CLI exits 2 with a one-line ``error:`` message that
    contains ``expected`` and no traceback (the bad-input tests' one check)."""
    from anogan_jax import cli

    def check(argv, expected: str) -> None:
        capsys.readouterr()
        out = Path(argv[argv.index("--out") + 1]) if "--out" in argv else None
        new = out is not None and not out.exists()
        assert cli.main(argv) == 2, argv
        # A refused command changes nothing: not even an empty output folder is left.
        assert not (new and out.exists()), f"{out} was created by a refused command"
        err = capsys.readouterr().err
        assert err.startswith("error: "), err
        assert expected in err, err
        assert "Traceback" not in err

    return check
