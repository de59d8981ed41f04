# Two commands matter: `make demo` (the whole pipeline on this machine) and `make test` (the test suite).
# Both create .venv and install what they need from this repository's own files.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test test-fast demo bench lint check-extras clean docker-ready

$(STAMP): pyproject.toml requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP) docker-ready
	$(PY) -m pytest

# Docker for the container tests: installs (apt, as root) and starts an engine where it can, builds the Debian base
# image; where Docker truly cannot run, the docker tests are skipped with the reason written here. Never fails.
docker-ready:
	@scripts/ensure_docker.sh --status-file .cache/docker-status || true

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not docker"

demo: $(STAMP)
	$(VENV)/bin/gr00t-sm local examples/so101_table_cleanup --runner $(or $(RUNNER),auto)

# The lint gate: ruff (pyflakes, pycodestyle, isort, bugbear, pyupgrade; configured in pyproject.toml), mypy with the
# boto3 stubs (files listed in pyproject.toml), and the layer contracts of .importlinter (docs/architecture.md).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# The extras resolved as a user installs them (clean throwaway venv, `pip install .[local,dev]`, pip check, smoke
# imports); `make test` uses the pinned requirements with --no-deps instead.
check-extras:
	scripts/check_extras.sh

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
