# Two commands on a fresh clone: `make demo` (example run against the bundled emulator, writes a PNG)
# and `make test` (ruff, mypy, pytest incl. real Airflow runs). Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONSTRAINTS := constraints/constraints-3.3.2-py3.11.txt
STAMP := $(VENV)/.installed-stamp

.PHONY: venv lint test demo docs bench dist clean

$(STAMP): setup.cfg pyproject.toml $(CONSTRAINTS) requirements-dev.txt requirements-test.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) -e . -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

demo: venv
	$(BIN)/python scripts/demo.py

docs: venv
	$(BIN)/mkdocs build --strict --site-dir site

bench: venv
	$(BIN)/python benchmarks/run_all.py

# The sdist and wheel into dist/, checked like PyPI would (`twine check --strict`); the contents are
# tested by tests/test_packaging.py.
dist: venv
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

clean:
	rm -rf $(VENV) output build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache

# `make test-compat`: the unit and `dags test` suites on older Airflow too, each in its own venv
# (.venv-2.11, .venv-3.0, .venv-3.1), created from constraints/ when missing and refreshed when setup.cfg or
# requirements-test.txt change. Airflow 3.2.2 is left out: its `airflow dags test` fails inside Airflow's
# task API with our pinned packages (constraints/constraints-3.2.2-py3.11.txt is kept to investigate:
# `make test-compat COMPAT_AIRFLOW=3.2.2`). Tests that do not depend on the Airflow version (docs
# build, packaging, the pytest plugin's user project, the demo script) run once, in `make test`.
COMPAT_AIRFLOW := 2.11.2 3.0.6 3.1.8
COMPAT_PYTEST := --ignore=tests/e2e --ignore=tests/test_docs.py --ignore=tests/test_packaging.py \
	--ignore=tests/test_pytest_plugin.py --ignore=tests/test_demo.py
.PHONY: test-compat

test-compat:
	@failed=""; summary=""; \
	for v in $(COMPAT_AIRFLOW); do \
	  venv=.venv-$${v%.*}; cons=constraints/constraints-$$v-py3.11.txt; t0=$$(date +%s); \
	  if [ ! -x $$venv/bin/python ] || [ setup.cfg -nt $$venv/.installed-stamp ] || [ requirements-test.txt -nt $$venv/.installed-stamp ] || [ $$cons -nt $$venv/.installed-stamp ]; then \
	    echo "== Airflow $$v: installing $$venv"; \
	    { [ -x $$venv/bin/python ] || $(PYTHON) -m venv $$venv; } && \
	    $$venv/bin/python -m pip install -q -c $$cons "apache-airflow==$$v" -e . -r requirements-test.txt && \
	    touch $$venv/.installed-stamp || { failed="$$failed $$v:venv"; continue; }; \
	  fi; t1=$$(date +%s); \
	  echo "== Airflow $$v: unit tests"; \
	  $$venv/bin/python -m pytest -q $(COMPAT_PYTEST) --ignore=tests/test_dag_runs.py || failed="$$failed $$v:unit"; \
	  t2=$$(date +%s); \
	  echo "== Airflow $$v: dags test suite (tests/test_dag_runs.py)"; \
	  $$venv/bin/python -m pytest -q $(COMPAT_PYTEST) tests/test_dag_runs.py || failed="$$failed $$v:dag-runs"; \
	  t3=$$(date +%s); \
	  summary="$$summary\n  Airflow $$v: venv $$((t1 - t0)) s, unit tests $$((t2 - t1)) s, dags test suite $$((t3 - t2)) s"; \
	done; \
	printf "== test-compat timings:$$summary\n"; \
	if [ -n "$$failed" ]; then echo "== test-compat FAILED:$$failed"; exit 1; fi; echo "== test-compat passed"
