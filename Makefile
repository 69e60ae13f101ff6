# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint format bench bench-peers bench-check clean install browser protos

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## demo: create the venv, install lanza, train, register, deploy and serve on 127.0.0.1:8000
## (DEMO_FLAGS=--no-serve stops after deploying)
demo: $(STAMP)
	$(VENV)/bin/lanza quickstart $(DEMO_FLAGS)

## browser: headless Chromium for the dashboard's tests (Playwright drives /usr/bin/chromium)
browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium chromium-driver)

## test: install what the tests need and run the whole suite (slow tests included), in
## TEST_WORKERS processes (pytest-xdist; each test file stays in one process)
TEST_WORKERS ?= 2
test: $(STAMP) browser
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_FLAGS)

## test-fast: the suite without the slow integration tests
test-fast: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not slow" $(PYTEST_FLAGS)

## lint: ruff (lint and format check) and mypy strict on src/
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench tools
	$(VENV)/bin/ruff format --check src tests bench tools
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix src tests bench
	$(VENV)/bin/ruff format src tests bench

## bench: the benchmarks against named peers (not part of the tests)
bench: $(STAMP)
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

## bench-peers: the peers of bench/realtime.py (LitServe, BentoML, MLServer), each in its own
## virtualenv under bench/.peers, never in the project's
bench-peers: $(STAMP)
	$(PY) bench/realtime.py --install-peers

## bench-check: the quick real-time benchmark; fails when lanza's share of the bare HTTP
## ceiling falls more than 20 % below the one recorded in bench/baseline.json (not in `test`)
bench-check: $(STAMP)
	$(PY) bench/realtime.py --quick --check bench/baseline.json

## protos: regenerate the gRPC messages of Open Inference v2 from their .proto
protos: $(STAMP)
	$(PY) -m grpc_tools.protoc -Isrc/lanza/serving/faces/grpc --python_out=src/lanza/serving/faces/grpc \
		--pyi_out=src/lanza/serving/faces/grpc src/lanza/serving/faces/grpc/open_inference.proto

clean:
	rm -rf $(VENV) .lanza .pytest_cache .mypy_cache .ruff_cache
