# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install lock lint demo test fuzz bench validate clean ui mlflow-ui docs-screenshots

LOCK := requirements.lock

# Dependencies come from the lock (exact versions, sha256 hashes); the project itself is installed without
# resolving anything. After adding or changing a dependency in pyproject.toml: `make lock`, then commit both.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

install: $(STAMP)

# Re-resolve pyproject.toml (with the dev extra) into the lock, keeping every pin that still fits;
# `make lock UPGRADE=1` moves everything to the newest versions the ranges allow.
lock:
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q uv==0.13.9
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --python $(BIN)/python --python-platform linux \
	  --no-strip-extras --no-emit-index-url $(if $(UPGRADE),--upgrade,) -o $(LOCK)

# ruff (lint + import order; never `ruff format`) and the import contracts in .importlinter.
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

demo: install
	$(BIN)/thunderline demo

# --durations: the slowest tests are printed every run, so the suite's time is watched where it is spent.
# -n: one pytest-xdist worker per core (TEST_WORKERS=0 runs in this process, serially); --dist loadscope: a module
# runs on one worker (its module-scoped fixtures once; the one Celery deployment on the broker's one queue).
# Not loadgroup: pytest-xdist 3.8 tags grouped tests through Node._nodeid, which pytest 9 no longer reads
# (nodeid comes from Node._id), so the groups tests/conftest.py assigns were silently ignored.
TEST_WORKERS ?= auto
test: lint
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadscope --durations=25

# The fuzz tests of tests/hardening with a larger budget and fresh randomness (make test runs them with a
# fixed seed and THUNDERLINE_FUZZ_EXAMPLES=40). FUZZ_EXAMPLES=5000 make fuzz for a long session.
FUZZ_EXAMPLES ?= 1000
fuzz: install
	THUNDERLINE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) THUNDERLINE_FUZZ_RANDOM=1 $(BIN)/python -m pytest -q -p no:cacheprovider -m fuzz tests/hardening

validate: install
	$(BIN)/dagster definitions validate -w workspace.yaml

bench: install
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

ui: install
	DAGSTER_HOME=$${DAGSTER_HOME:-$(CURDIR)/.thunderline/dagster} $(BIN)/dagster dev -w workspace.yaml

mlflow-ui: install
	$(BIN)/mlflow ui --backend-store-uri $${MLFLOW_TRACKING_URI:-sqlite:///$(CURDIR)/.thunderline/mlflow.db} --host 127.0.0.1 --port 5000

clean:
	rm -rf .thunderline

# docs/screenshots/: the browser test photographs a fresh demo (run by the test session in a temporary home;
# THUNDERLINE_DEMO_HOME=<home of a finished demo> photographs that one instead)
docs-screenshots: install
	THUNDERLINE_DOCS_SCREENSHOTS=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/ui/test_docs_screenshots.py
