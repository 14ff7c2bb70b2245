# Every target bootstraps .venv itself: on a fresh machine each is one command.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

STRESS_SECONDS ?= 60
REPORT_DIR     ?= reports/latest
ARGS           ?=

.PHONY: install stress test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@# PostgreSQL's server binaries: the local backend starts clusters from them.
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } || \
	  echo "note: no PostgreSQL server binaries found: install postgresql, or use --dsn / --backend docker"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## stress: the correct migrations must hold every property (CI budget)
stress: $(STAMP)
	$(PY) -m harness stress --time-budget $(STRESS_SECONDS) --report-dir $(REPORT_DIR) $(ARGS)

## test: the harness's own tests and the properties of the system under test
test: $(STAMP)
	$(PY) -m pytest -n auto -q $(ARGS)

bench: $(STAMP)
	$(PY) bench/run.py $(ARGS)

clean:
	rm -rf $(VENV) reports/latest reports/bench .hypothesis .pytest_cache *.egg-info
	rm -rf $${HARNESS_CACHE:-$$HOME/.cache/pg-harness}
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
