# `make run` and `make test` set up on first use (idempotent) and reuse an
# installed torch: the venv sees system site-packages, and torch is only
# installed when no torch is importable at all.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: setup run test test-avx2 bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install torch==2.13.0
	@test -d $(VENV) || $(PYTHON) -m venv --system-site-packages $(VENV)
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

run: setup
	$(VENV)/bin/freq-tui

# One pytest worker per core (at most 4): the tests train one torch thread each.
test: setup
	$(VENV)/bin/python -m pytest -q -n auto --maxprocesses=4

# The tests whose outcome depends on the CPU's instruction set, run again as
# on an x86 CPU without AVX-512/BF16/AMX (oneDNN then lacks a bfloat16 LSTM).
DEVICE_TESTS := tests/test_precision.py tests/test_speed.py tests/test_cuda.py

test-avx2: setup
	ONEDNN_MAX_CPU_ISA=AVX2 $(VENV)/bin/python -m pytest -q $(DEVICE_TESTS)

clean:
	rm -rf $(VENV) *.egg-info
