# Two commands on a fresh machine:
#   make run    install everything, build the SQLite database with units, the five plans, the demo users and the
#               living demo plan, then start the web server and the scheduler together (Procfile; Ctrl-C stops both)
#   make test   install everything and run the whole test suite (TEST_DATABASE_URL selects PostgreSQL)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := app
HOST ?= 127.0.0.1
PORT ?= 5000
# pip-compile's resolver, for `make lock` only
PIP_TOOLS := pip-tools==7.6.2

.PHONY: run test lint setup setup-test deps deps-test assets translations db lock

run: setup db
	HOST=$(HOST) $(BIN)/honcho start --procfile Procfile --port $(PORT)

test: setup-test
	$(BIN)/pytest $(PYTEST_ARGS)

lint: deps-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

setup: deps assets translations
setup-test: deps-test assets translations

# The runtime alone (production installs only this lock), then the test tools on top of it.
deps: $(VENV)/.installed
$(VENV)/.installed: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	touch $@

deps-test: $(VENV)/.installed-test
$(VENV)/.installed-test: $(VENV)/.installed requirements-test.lock
	$(BIN)/pip install --quiet --require-hashes -r requirements-test.lock
	touch $@

# Every transitive version pinned and hashed, from requirements.txt / requirements-test.txt.
lock:
	test -x $(BIN)/pip || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(PIP_TOOLS)
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	  --no-emit-find-links --pip-args "--isolated" -o requirements.lock requirements.txt
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	  --no-emit-find-links --pip-args "--isolated" -o requirements-test.lock requirements-test.txt

# Front-end packages from npm, and the ECharts bundle of the parts the pages use.
assets: node_modules/.installed node_modules/.build/echarts.min.js
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@
node_modules/.build/echarts.min.js: node_modules/.installed tracker/static/src/echarts.js
	node_modules/.bin/esbuild tracker/static/src/echarts.js --bundle --minify --format=iife \
	  --legal-comments=none --log-level=warning --outfile=$@

translations: deps
	$(BIN)/pybabel compile --use-fuzzy -d tracker/translations

db: deps
	$(BIN)/flask db upgrade heads
	$(BIN)/flask seed load
	$(BIN)/flask demo users
	$(BIN)/flask demo plan
