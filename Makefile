# fcn-notebooks: `make lab` to learn, `make test` to check everything.
# Both create the virtual environment .venv on first use (Python 3.10-3.13).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.fcnlib-installed
PYTEST := $(BIN)/python -m pytest
NBVAL  := --nbval-lax --nbval-sanitize-with notebooks/sanitize.cfg --nbval-cell-timeout=900
PORT   ?= 8888
VENV77 ?= build/venv-widgets77
VENVCOLAB ?= build/venv-colab

.PHONY: setup lab site lint test test-unit test-notebooks translations test-ui test-full-smoke test-widgets77 test-colab run bench gpu-check notebooks-sync notebooks-execute readme-figure clean

setup: $(STAMP)

# One install step for everything: fcnlib (editable) with the lab and test extras, then d2l,
# the reference we compare against, without its hard pins (d2l 1.0.3 pins numpy==1.23.5,
# which cannot install on Python 3.12+); its torch module needs only what the extras bring.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[lab,test,bench]"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps "d2l==1.0.3"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (fcnlib)" >/dev/null
	@touch $(STAMP)

# JupyterLab refuses to start as root (containers, cloud machines, WSL) unless told --allow-root.
lab: setup
	$(BIN)/jupyter lab --notebook-dir=notebooks --port=$(PORT)$(if $(filter 0,$(shell id -u)), --allow-root)

# The course website from the chapters' stored outputs (nothing is re-run) into build/site/, the Chinese
# edition into build/site/zh/: open build/site/index.html, or serve it with `python3 -m http.server -d build/site`.
site: setup
	$(BIN)/python -m tools.site

# Every test: fcnlib's unit tests, the browser tests of the explorers (skipped, with the
# reason, where Chromium is missing) and every chapter under nbval, the Chinese ones in notebooks/zh/ too.
test: setup lint
	$(PYTEST) tests notebooks $(NBVAL) -rs

# ruff (configured in pyproject.toml) over fcnlib, tools, tests, benchmarks and the chapters' code cells.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test-unit: setup
	$(PYTEST) tests -m "not browser and not slow" -rs

test-notebooks: setup
	$(PYTEST) notebooks $(NBVAL)

test-ui: setup
	$(PYTEST) tests -m browser -rs

# Every chapter in the full profile on the CPU (320x480, batch 32, FCNLIB_MAX_STEPS=1 batch per epoch),
# VOC-format data downloaded from a mirror on 127.0.0.1; part of `make test`.
test-full-smoke: setup
	$(PYTEST) tests/test_full_profile_smoke.py -v -rs

# The explorers' unit tests under ipywidgets 7.7 (what Colab ships), on Python 3.13 if present.
test-widgets77:
	tests/widgets77/run.sh "$(COLAB_PYTHON)" $(VENV77)

# Every chapter under nbval plus the explorers' unit tests, in a venv like Google Colab's:
# Python 3.13, torch 2.11, torchvision 0.26, ipywidgets 7.7 (tests/colab/run.sh says more).
# COLAB_PYTHON=/path/to/python3.13 picks the interpreter; CHAPTERS="01 02" runs some chapters.
test-colab:
	tests/colab/run.sh "$(COLAB_PYTHON)" $(VENVCOLAB) $(CHAPTERS)

# Execute every chapter headless into build/ as HTML.
run: setup
	@mkdir -p build
	$(BIN)/jupyter nbconvert --to html --execute --output-dir build notebooks/*.ipynb

bench: setup
	$(BIN)/python benchmarks/run_all.py

# No `setup` here: a GPU machine may be offline. It uses .venv when there is one, else the
# machine's python3, and installs missing test packages from ./wheels (benchmarks/wheels.sh).
gpu-check:
	$$(test -x $(BIN)/python && echo $(BIN)/python || echo python3) benchmarks/gpu_check.py $(ARGS)

# Rewrite every chapter's Colab badge and install cell from tools/repo.py (after a fork).
notebooks-sync: setup
	$(BIN)/python -m tools.notebook_setup notebooks

# Re-run chapters in place (quick profile, CPU) to refresh their stored outputs:
# `make notebooks-execute` for all, `make notebooks-execute CHAPTERS="04 05"` for some.
notebooks-execute: setup
	$(BIN)/python -m tools.notebook_setup execute $(if $(CHAPTERS),$(foreach c,$(CHAPTERS),$(wildcard notebooks/$(c)_*.ipynb)),$(wildcard notebooks/[0-9][0-9]_*.ipynb))

# The Chinese chapters notebooks/zh/NN_*.ipynb from the English ones and notebooks/zh/NN.yml (run it after
# editing a chapter or `make notebooks-execute`); it names every cell whose translation is missing or stale,
# and `$(BIN)/python -m tools.translate todo` lists them with their English text.
translations: setup
	$(BIN)/python -m tools.translate build

# The README's picture, from chapter 5's stored outputs (run after `make notebooks-execute CHAPTERS=05`).
readme-figure: setup
	$(BIN)/python -m tools.notebook_setup readme-figure notebooks/05_prediction.ipynb

clean:
	rm -rf build .pytest_cache
