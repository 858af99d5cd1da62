# Each target creates .venv from scratch when it is missing, then runs.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow lint docs bench clean-venv

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m anogan_jax.demo --out runs/demo

test: $(STAMP)
	$(PY) -m pytest -q -x -n 2 -m "not slow" --durations=15

test-slow: $(STAMP)
	$(PY) -m pytest -q -x -n 2 --dist loadfile -m slow --durations=15

lint: $(STAMP)
	$(VENV)/bin/ruff check anogan_jax experiments tests docs
	$(VENV)/bin/ruff format --check anogan_jax experiments tests docs

# The docs site, strictly (a warning, such as a broken cross-reference, is an error), into site/.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

bench: $(STAMP)
	$(PY) -m experiments.bench_train
	$(PY) -m experiments.bench_latent_search

clean-venv:
	rm -rf $(VENV)
