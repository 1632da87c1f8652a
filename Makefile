# `make run` and `make test` set up on first use (idempotent) and reuse an
# installed torch: the venv sees system site-packages, and torch is only
# installed when no torch is importable at all.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: setup run test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install torch==2.13.0 || $(PYTHON) -m pip install torch
	@test -d $(VENV) || $(PYTHON) -m venv --system-site-packages $(VENV)
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

run: setup
	$(VENV)/bin/freq-tui

test: setup
	$(VENV)/bin/python -m pytest -q

clean:
	rm -rf $(VENV) *.egg-info
