# Two commands do all set-up on a fresh machine (Python >= 3.11 with venv and pip):
#   make demo   - create .venv, install eoml, run the workflow on the embedded demo data
#   make test   - create .venv, install eoml, run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CORES ?= all
export PATH := $(BIN):$(PATH)

.PHONY: install demo test report lint dry-run clean clean-checkpoints benchmark

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/snakemake --profile profiles/default --cores $(CORES)

test: $(STAMP)
	$(BIN)/python -m pytest

report: $(STAMP)
	$(BIN)/snakemake --profile profiles/default --report report.html

lint: $(STAMP)
	$(BIN)/snakemake --lint

dry-run: $(STAMP)
	$(BIN)/snakemake -n --quiet rules

benchmark: $(STAMP)
	$(BIN)/python benchmarks/radbelt_ingest.py

# Keeps the resumable training checkpoints (results/<study>/checkpoints): a rerun with the same
# settings reuses finished trainings instead of training again. `make clean-checkpoints` removes them.
clean:
	@echo "removing results/ except the training checkpoints (results/*/checkpoints; make clean-checkpoints removes them)"
	@if [ -d results ]; then \
	  find results -mindepth 1 -maxdepth 1 ! -type d -delete; \
	  find results -mindepth 2 -maxdepth 2 ! -name checkpoints -exec rm -rf {} +; \
	fi
	rm -rf .snakemake report.html

clean-checkpoints:
	rm -rf results/*/checkpoints
