# Two commands on a fresh machine:
#   make run    install everything, build the SQLite database with units, the five plans and demo users, start the app
#   make test   install everything and run the whole test suite (TEST_DATABASE_URL selects PostgreSQL)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test setup deps assets translations db

run: setup db
	$(BIN)/flask run --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/pytest $(PYTEST_ARGS)

setup: deps assets translations

deps: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

assets: node_modules/.installed
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

translations: deps
	$(BIN)/pybabel compile --use-fuzzy -d tracker/translations

db: deps
	$(BIN)/flask db upgrade heads
	$(BIN)/flask seed load
	$(BIN)/flask demo users
