# Two commands on a fresh machine: `make run` serves the API, `make test` tests it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run worker dev keys test test-fast node-deps lint format bench bench-hooks clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

## run: install, create and migrate the database, serve with gunicorn on $PORT,
## with the webhooks worker beside it (stopped with the server)
run: $(VENV)/.installed
	$(BIN)/flask --app wsgi deploy
	$(BIN)/flask --app wsgi webhooks worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT; \
	PORT=$(PORT) PYTHONOPTIMIZE=$${PYTHONOPTIMIZE:-2} $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

## worker: the webhooks worker alone (for a server started some other way)
worker: $(VENV)/.installed
	exec $(BIN)/flask --app wsgi webhooks worker

## dev: the Flask development server with reload
dev: $(VENV)/.installed
	$(BIN)/flask --app wsgi deploy
	$(BIN)/flask --app wsgi run --debug --port $(PORT)

## keys: append four fresh RS256 key variables and an MFA key to .env (production, compose)
keys: $(VENV)/.installed
	$(BIN)/flask --app wsgi keys generate >> .env
	$(BIN)/flask --app wsgi keys mfa >> .env
	@echo "appended ACCESS_/REFRESH_TOKEN_* keys and MFA_ENCRYPTION_KEY to .env"

## test: lint, format check, then the whole test suite against real PostgreSQL and Redis
test: $(VENV)/.installed-dev node-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

## test-fast: the inner loop: lint, then every test that starts no other program, no
## browser and no Redis Cluster/Sentinel (pytest markers; make test runs them all)
FAST := not redis_cluster and not redis_sentinel and not browser and not subprocess
test-fast: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -m "$(FAST)"

## bench: wrk scenarios against gunicorn in production mode, then the hook's cost (docs/performance.md)
bench: $(VENV)/.installed-dev
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/hooks.py

## bench-hooks: token issue with and without the custom-access-token hook (docs/performance.md)
bench-hooks: $(VENV)/.installed-dev
	$(BIN)/python bench/hooks.py

## node-deps: the npm tools some tests run (tests/node/*), installed with npm ci
node-deps:
	@bash .ci/install-node-deps.sh

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
