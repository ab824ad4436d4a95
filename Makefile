# One venv inside the repo; every target creates it when missing. The [test] extra includes
# [notebooks] and [analysis]: the whole suite, notebooks included, needs them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup build test lint report clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

setup: $(STAMP)

build: $(STAMP)
	$(BIN)/censorlab build

test: $(STAMP)
	$(BIN)/ruff check censorlab tests benchmarks
	$(BIN)/censorlab --log-level WARNING build
	MPLBACKEND=Agg $(BIN)/pytest tests
	MPLBACKEND=Agg $(BIN)/pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg notebooks

report: $(STAMP)
	$(BIN)/censorlab report

clean:
	rm -rf $(VENV) build dist reports/exports
	find data/processed -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
