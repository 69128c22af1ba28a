# Two commands on a fresh clone: `make demo` (example run against the bundled emulator, writes a PNG)
# and `make test` (ruff, mypy, pytest incl. real Airflow runs). Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONSTRAINTS := constraints/constraints-3.3.2-py3.11.txt
STAMP := $(VENV)/.installed-stamp

.PHONY: venv lint test demo docs docs-code bench dist clean test-ha

# uv installs from the same constraints as pip would, in seconds instead of minutes.
UV_VERSION := 0.13.9
UV := $(BIN)/uv
# pytest workers: a test module runs on one worker, and all of tests/e2e (one real Airflow deployment)
# on one (tests/conftest.py). test-compat has no deployment and its `dags test` runs wait on jobs
# part of the time, so it uses more workers than cores (measured: 4 workers took 186 s where 2 took 262 s).
TEST_WORKERS ?= 2
COMPAT_WORKERS ?= 4
PYTEST := -m pytest -q --dist loadfile

$(STAMP): setup.cfg pyproject.toml $(CONSTRAINTS) requirements-dev.txt requirements-test.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	$(UV) pip install -q --python $(BIN)/python -c $(CONSTRAINTS) -e . -r requirements-dev.txt
	# The editable install leaves <name>.egg-info in the working tree; processes started here would
	# then see the package's entry points twice, and Airflow 3.3.2 stops loading plugins at the first
	# duplicate name (OpenLineage's hook-lineage reader among them). The installed metadata suffices.
	rm -rf *.egg-info
	touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python $(PYTEST) -n $(TEST_WORKERS)

# `make demo DAG=example_pictory_image_to_video` runs another DAG of example_dags/ the same way.
DAG ?= example_pictory_image
demo: venv
	$(BIN)/python scripts/demo.py $(DAG)

docs: venv
	$(BIN)/mkdocs build --strict --site-dir site

# The code blocks of docs/*.md are copies of tested files (example DAGs, docs/snippets/), so the pages
# read as plain Markdown on the repository host; this rewrites them after such a file changed
# (tests/test_docs.py fails while one is stale).
docs-code: venv
	$(BIN)/python scripts/docs_code.py

bench: venv
	$(BIN)/python benchmarks/run_all.py

# `make test-ha`: a release check, not in CI (it takes minutes): Airflow's HA setup for real. PostgreSQL
# (Debian's package, installed when missing), a scheduler and two triggerers, a sensor mapped over 60
# jobs of one key, one triggerer killed with SIGKILL mid-wait (tests/e2e/test_ha.py). The latest
# result is in docs/reliability.md.
PSYCOPG := psycopg[binary]==3.3.6

test-ha: venv
	@ls /usr/lib/postgresql/*/bin/initdb > /dev/null 2>&1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql > /dev/null; }
	$(UV) pip install -q --python $(BIN)/python "$(PSYCOPG)"
	PICTORY_TEST_HA=1 $(BIN)/python -m pytest -q -p no:xdist -s tests/e2e/test_ha.py

# The sdist and wheel into dist/, checked like PyPI would (`twine check --strict`); the contents are
# tested by tests/test_packaging.py.
dist: venv
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	rm -rf *.egg-info build  # see the venv target
	$(BIN)/twine check --strict dist/*

clean:
	rm -rf $(VENV) .venv-* output build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache

# `make test-compat`: the suite on older Airflow too (unit tests and the `dags test` runs), each version
# in its own venv (.venv-2.11, .venv-3.0, ...), created from constraints/ when missing and refreshed when
# setup.cfg, requirements-test.txt or the constraints change. Tests that do not touch Airflow (the API
# contract, the emulator, the MP4 writer, docs, packaging, the pytest plugin's user project, the demo
# script) and the real-deployment suite run once, in `make test` (Airflow 3.3.2).
COMPAT_AIRFLOW := 2.11.2 3.0.6 3.1.8 3.2.2
COMPAT_PYTEST := --ignore=tests/e2e --ignore=tests/test_docs.py --ignore=tests/test_packaging.py \
	--ignore=tests/test_pytest_plugin.py --ignore=tests/test_demo.py --ignore=tests/test_api.py \
	--ignore=tests/test_emulator.py --ignore=tests/test_emulator_list.py --ignore=tests/test_video_api.py \
	--ignore=tests/test_video_media.py --ignore=tests/test_video_docs.py --ignore=tests/test_reconcile_properties.py \
	--ignore=tests/test_contract.py
.PHONY: test-compat

test-compat: venv
	@failed=""; summary=""; \
	for v in $(COMPAT_AIRFLOW); do \
	  venv=.venv-$${v%.*}; cons=constraints/constraints-$$v-py3.11.txt; t0=$$(date +%s); \
	  if [ ! -x $$venv/bin/python ] || [ setup.cfg -nt $$venv/.installed-stamp ] || [ requirements-test.txt -nt $$venv/.installed-stamp ] || [ $$cons -nt $$venv/.installed-stamp ]; then \
	    echo "== Airflow $$v: installing $$venv"; \
	    { [ -x $$venv/bin/python ] || $(PYTHON) -m venv $$venv; } && \
	    $(UV) pip install -q --python $$venv/bin/python -c $$cons "apache-airflow==$$v" -e . -r requirements-test.txt && \
	    rm -rf *.egg-info && touch $$venv/.installed-stamp || { failed="$$failed $$v:venv"; continue; }; \
	  fi; t1=$$(date +%s); \
	  echo "== Airflow $$v: tests"; \
	  $$venv/bin/python $(PYTEST) -n $(COMPAT_WORKERS) $(COMPAT_PYTEST) || failed="$$failed $$v"; \
	  t2=$$(date +%s); \
	  summary="$$summary\n  Airflow $$v: venv $$((t1 - t0)) s, tests $$((t2 - t1)) s"; \
	done; \
	printf "== test-compat timings:$$summary\n"; \
	if [ -n "$$failed" ]; then echo "== test-compat FAILED:$$failed"; exit 1; fi; echo "== test-compat passed"

# `make test-minimums`: the lower bounds of setup.cfg's install_requires, tested. uv installs the oldest
# versions they allow (--resolution lowest-direct) beside Airflow 3.3.2 into .venv-min, then the tests
# of the code that uses them: requests/urllib3 (sync path), aiohttp/yarl (triggerer, emulator),
# tenacity, asgiref. The test tools themselves come from the constraints.
MIN_TESTS := tests/test_api.py tests/test_hook.py tests/test_emulator.py tests/test_emulator_list.py \
	tests/test_trigger.py tests/test_trigger_network.py tests/test_status_scan.py tests/test_reliability_io.py \
	tests/test_operator.py tests/test_sensor.py tests/test_bad_inputs.py tests/test_submission.py tests/test_credits.py
.PHONY: test-minimums

test-minimums: venv
	rm -rf .venv-min
	$(PYTHON) -m venv .venv-min
	$(UV) pip install -q --python .venv-min/bin/python --resolution lowest-direct -e . "apache-airflow==3.3.2"
	$(UV) pip install -q --python .venv-min/bin/python -c $(CONSTRAINTS) -r requirements-test.txt
	rm -rf *.egg-info
	@$(UV) pip list --python .venv-min/bin/python 2>/dev/null | grep -i -E "^(requests|urllib3|aiohttp|yarl|asgiref|tenacity|pendulum|fsspec|apache-airflow-providers-common-compat) "
	.venv-min/bin/python $(PYTEST) -n $(COMPAT_WORKERS) $(MIN_TESTS)
