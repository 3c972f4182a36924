# MusicGAN Lab. Everything installs into a project-local virtual environment (.venv).
#   make course   install, then run the whole book headless (papermill) into runs/course
#   make test     install (with test extras and system packages), then lint (ruff) and run the tests
#   make lab      install, then open JupyterLab on the course
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PROFILE ?= quick
OUT    ?= runs/course
PYTEST_ARGS ?=

.PHONY: install system-deps course test lab notebooks bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# jsonschema's format extra pulls rfc3987-syntax, which makes every nbformat import ~3 s slower.
	$(BIN)/python -m pip uninstall --quiet -y rfc3987-syntax
	$(BIN)/python -m pip check
	@# torchaudio's wheels ask only for torch>=2.11, but each is built against one torch release (2.11.1
	@# does not load with torch 2.11.0): pyproject pins the pair, and a pair that cannot load stops here.
	$(BIN)/python -c "import torch, torchaudio" || { echo "torchaudio $$($(BIN)/python -m pip show torchaudio | sed -n s/^Version:.//p) does not load with torch $$($(BIN)/python -m pip show torch | sed -n s/^Version:.//p): install the pair pyproject.toml pins (rm -rf $(VENV), then make again)"; exit 1; }
	touch $(STAMP)

install: $(STAMP)

system-deps:
	bash scripts/install-system-deps.sh

course: install system-deps
	$(BIN)/musicgan course --profile $(PROFILE) --out $(OUT)

test: install system-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lab: install system-deps
	@# Live widgets need a kernel that is not in batch mode; the venv's python3 kernel first.
	env -u MUSICGAN_BATCH -u CI -u MPLBACKEND JUPYTER_PREFER_ENV_PATH=1 \
	  JUPYTER_CONFIG_PATH="$(CURDIR)/scripts/lab_config$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
	  $(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)/notebooks"

notebooks: install system-deps
	$(BIN)/python scripts/build_notebooks.py $(NB)

bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs test-artifacts
