# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test lint dbt-build bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.stamp-runtime: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.stamp-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.stamp-runtime $@

## run: create .venv, install, start the app on http://localhost:$(PORT)
run: $(VENV)/.stamp-runtime
	$(BIN)/streamlit run streamlit_app.py --server.port $(PORT)

## test: install the dev requirements into .venv and run the whole suite
test: $(VENV)/.stamp-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check .
	cd dbt_project && ../$(BIN)/sqlfluff lint models analyses

## dbt-build: the plain dbt CLI on the bundled sample, no app involved
dbt-build: $(VENV)/.stamp-runtime
	cd dbt_project && ../$(BIN)/dbt build

bench: $(VENV)/.stamp-dev
	$(BIN)/python -m bench

clean:
	rm -rf workspace dbt_project/target dbt_project/logs dbt_project/*.duckdb
