# Two commands do everything on a fresh machine (see README):
#   make demo   - set up and run the demo campaign (scored, audited, gated, with its report)
#   make test   - set up and pass the tests
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP_RUN  := $(VENV)/.installed-run
STAMP_DEV  := $(VENV)/.installed-dev

.PHONY: demo test setup setup-dev bench clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml plugins/*/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,server,dask]'
	$(BIN)/pip install --quiet -e plugins/vbr-example
	$(BIN)/pip install --quiet -e 'plugins/vbr-greenhouse[test]'
	touch $@ $(STAMP_RUN)

setup: $(STAMP_RUN)
setup-dev: $(STAMP_DEV)

demo: $(STAMP_RUN)
	$(BIN)/vbr demo

browser:
	sh scripts/chromium.sh

test: $(STAMP_DEV) browser
	VBR_STRICT_PLUGINS=1 $(BIN)/python -m pytest tests plugins

bench: $(STAMP_DEV)
	$(BIN)/python benchmarks/scoring.py
	$(BIN)/python benchmarks/audit_vs_fairlearn.py

clean:
	rm -rf $(VENV) artifacts .pytest_cache
