# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test bench validate clean ui mlflow-ui

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m pip check
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/thunderline demo

test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider

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
