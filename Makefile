# The two commands of the README. Both create .venv and install lrox into it first.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin

SECANTUS := .venv-secantus/bin/secantusd-py

.PHONY: setup gpaw-libs system-packages demo test benchmark benchmark-scale clean

$(BIN)/lrox: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "lrox needs $(PYTHON) (Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@test -f /usr/include/xc.h -a -f /usr/include/fftw3.h || $(MAKE) --no-print-directory gpaw-libs
	$(BIN)/python -m pip install --quiet torch==2.13.0
	GPAW_CONFIG=$(abspath gpaw-siteconfig.py) $(BIN)/python -m pip install --quiet -e ".[test,mlip,bader,cluster,dft]"
	$(BIN)/python -m pip install --quiet --no-deps baderkit==0.10.2
	@touch $@

# The cluster tests' MongoDB-protocol server, in its own environment: its pymongo pin clashes
# with jobflow-remote's.
$(SECANTUS):
	$(PYTHON) -m venv .venv-secantus
	.venv-secantus/bin/python -m pip install --quiet secantusdb==0.7.0b3
	@touch $@

# GPAW (the open DFT backend) builds against Debian's libxc, OpenBLAS and FFTW.
gpaw-libs:
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libxc-dev libopenblas-dev libfftw3-dev >/dev/null; \
	else echo "GPAW needs: sudo apt-get install libxc-dev libopenblas-dev libfftw3-dev"; exit 1; fi

setup: $(BIN)/lrox

## The main job on the embedded default: the Li2MnO3 quick screen on the ML potential.
demo: setup
	$(BIN)/lrox run examples/li2mno3_quick.yaml

# What the tests need from Debian: PostgreSQL (the database tests run on a real server), a one-node
# SLURM with munge (the cluster tests) and Chromium (the report is checked in a real browser).
# Installed when run as root, named otherwise; the tests then never skip: `make test` is CI.
system-packages:
	@missing=""; \
	{ command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } || missing="$$missing postgresql"; \
	{ command -v slurmctld >/dev/null 2>&1 || [ -x /usr/sbin/slurmctld ]; } || missing="$$missing slurmctld slurmd slurm-client"; \
	{ command -v munged >/dev/null 2>&1 || [ -x /usr/sbin/munged ]; } || missing="$$missing munge"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else echo "the tests need: sudo apt-get install$$missing"; exit 1; fi; \
	fi

test: setup $(SECANTUS) system-packages
	LROX_REQUIRE_POSTGRES=1 LROX_REQUIRE_CLUSTER=1 LROX_REQUIRE_GPAW=1 LROX_REQUIRE_CHROMIUM=1 \
	LROX_SECANTUSD=$(abspath $(SECANTUS)) $(BIN)/python -m pytest

benchmark: setup
	$(BIN)/python benchmarks/enumeration_vs_structurematcher.py

# Issue 32's scale table: screens of 10, 100 and 1,000 configurations (enumeration, Flow build, dry
# run, submission to FireWorks and jobflow-remote), ingest of 100- and 1,000-configuration VASP trees,
# databases of 10 to 10,000 configurations on SQLite and PostgreSQL; JSON lines appended to
# benchmarks/results_scale.jsonl (about an hour on 2 cores). CI runs the 10- and 100-configuration
# sizes (tests/test_scale.py).
benchmark-scale: setup $(SECANTUS) system-packages
	LROX_SECANTUSD=$(abspath $(SECANTUS)) $(BIN)/python benchmarks/scale.py --postgres auto

clean:
	rm -rf $(VENV) .venv-secantus *.egg-info
