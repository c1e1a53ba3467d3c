# ksmlab development tasks. Everything runs inside $(VENV), through explicit paths.

PYTHON ?= python3
VENV ?= .venv

BIN := $(VENV)/bin
# Re-created whenever pyproject.toml (and with it the pins) changes.
STAMP := $(VENV)/.ksmlab-installed
# JupyterLab refuses to run as root without this flag.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
NOTEBOOKS = $(wildcard notebooks/*.ipynb notebooks/app/*.ipynb)
APP := notebooks/app/classroom.ipynb
# The learner's copy of the notebooks, without outputs (python -m ksmlab workspace): the
# reference notebooks keep theirs for nbval and the book, and would show every answer.
# A notebook already there is the learner's work and is kept.
WORKSPACE ?= workspace
APP_PORT ?= 8866
# Every page load starts a kernel (about 140 MB) and closing the tab stops none: kernels
# with no page connected are culled after APP_CULL_IDLE seconds of idleness, checked every
# APP_CULL_INTERVAL seconds (an open page keeps its kernel). docs/classroom.md has the
# same options for a hub.
APP_CULL_IDLE ?= 60
APP_CULL_INTERVAL ?= 10
# The ksmlab Voila template: the lab template without its Font Awesome requests to a CDN.
APP_TEMPLATES := $(CURDIR)/notebooks/app/share/jupyter
# Voila loads every JupyterLab extension installed; Notebook 7's interface switcher is
# built for JupyterLab 4.6, fails to load on Voila's 4.2 page and is of no use there.
# (one --...extension_denylist=NAME per item: the "[...]" form is deprecated in traitlets 5)
APP_DENY := @jupyter-notebook/lab-extension
APP_OPTIONS = --template=ksmlab \
	--VoilaConfiguration.extension_denylist=$(APP_DENY) \
	--MappingKernelManager.cull_idle_timeout=$(APP_CULL_IDLE) \
	--MappingKernelManager.cull_interval=$(APP_CULL_INTERVAL) \
	--MappingKernelManager.cull_connected=False
export FIND_KSMLAB := import importlib.util, sys; sys.exit(importlib.util.find_spec('ksmlab') is None)

.DEFAULT_GOAL := help
.PHONY: help venv lab app test bench notebooks clean book notebook

help: ## List the targets
	@echo "Targets:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z_-]*:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# rfc3987-syntax is an optional dependency of jsonschema; importing it costs ~2 s in every
# process that imports nbformat (so every pytest run), and nothing here needs it.
# An editable install made before ksmlab/ existed cannot import it later, so the stamp is
# only written once the package is importable from outside the repository.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -e '.[lab,test]'
	$(BIN)/python -m pip uninstall --disable-pip-version-check -y rfc3987-syntax
	$(BIN)/python -m pip check --disable-pip-version-check
	@if (cd / && $(abspath $(BIN))/python -c "$$FIND_KSMLAB"); then touch $@; \
	else echo "ksmlab is not importable yet: the install will be redone next time"; fi

venv: $(STAMP) ## Create the virtualenv and install ksmlab with the lab and test extras

lab: $(STAMP) ## Open the notebook suite in JupyterLab (your copy in workspace/, no outputs)
	$(BIN)/python -m ksmlab workspace notebooks $(WORKSPACE)
	$(BIN)/jupyter lab $(ALLOW_ROOT) $(WORKSPACE)/00_index.ipynb

notebook: $(STAMP) ## Open the notebook suite in Notebook 7, the simpler interface
	$(BIN)/python -m ksmlab workspace notebooks $(WORKSPACE)
	$(BIN)/jupyter notebook $(ALLOW_ROOT) $(WORKSPACE)/00_index.ipynb

app: $(STAMP) ## Serve the classroom app (widgets only, no code) with Voila on 127.0.0.1 (port 8866)
	JUPYTER_PATH=$(APP_TEMPLATES) $(BIN)/voila $(APP) --no-browser --Voila.ip=127.0.0.1 \
		--port=$(APP_PORT) $(APP_OPTIONS)

test: $(STAMP) ## Lint, build the book, run the unit and browser tests, then check the reference notebooks with nbval
	$(BIN)/ruff check .
	$(BIN)/python docs/book/build.py
	$(BIN)/pytest
	PYTHONHASHSEED=0 $(BIN)/pytest --nbval notebooks/

bench: $(STAMP) ## Run the benchmarks (python -m ksmlab.bench)
	$(BIN)/python -m ksmlab.bench

notebooks: $(STAMP) ## Re-execute every notebook in place (the outputs nbval compares against)
	$(BIN)/python tests/execute_notebooks.py $(NOTEBOOKS)

book: $(STAMP) ## Build the static book from the stored outputs (nothing runs) in build/book/html
	$(BIN)/python docs/book/build.py

clean: ## Remove the virtualenv and all caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build
	find . -path ./.git -prune -o \( -name __pycache__ -o -name '*.egg-info' \
		-o -name .ipynb_checkpoints \) -type d -prune -exec rm -rf {} +
