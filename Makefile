# Two commands on a fresh clone: `make demo` (example run against the bundled emulator, writes a PNG)
# and `make test` (ruff, mypy, pytest incl. real Airflow runs). Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONSTRAINTS := constraints/constraints-3.3.2-py3.11.txt
STAMP := $(VENV)/.installed-stamp

.PHONY: venv lint test demo docs clean

$(STAMP): setup.cfg pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) -e ".[test]"
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

clean:
	rm -rf $(VENV) output build *.egg-info .pytest_cache .mypy_cache .ruff_cache
