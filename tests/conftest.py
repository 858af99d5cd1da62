import os

# Tests run on CPU with deterministic, single-device defaults; the multi-device tests start
# their own subprocesses with XLA_FLAGS set before jax is imported.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
