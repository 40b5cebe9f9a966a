# The two commands of the README. Both create .venv and install lrox into it first.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup demo test benchmark clean

$(BIN)/lrox: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "lrox needs $(PYTHON) (Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $@

setup: $(BIN)/lrox

## The main job on the embedded default: enumerate Li2MnO3 dopant/vacancy configurations and their Li hops.
demo: setup
	$(BIN)/lrox enumerate li2mno3 --supercell 2x1x2 --dopant Al:tm --dopant Na:li-layer --vacancy O --pair-cutoff 4
	$(BIN)/lrox hops li2mno3

test: setup
	$(BIN)/python -m pytest

benchmark: setup
	$(BIN)/python benchmarks/enumeration_vs_structurematcher.py

clean:
	rm -rf $(VENV) *.egg-info
