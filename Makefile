# Two commands for a newcomer: `make run` starts the bot (without a token: the local
# sandbox on http://127.0.0.1:8080), `make test` runs the tests: all of them (storage
# tests on SQLite and PostgreSQL), then the integration tests once more on PostgreSQL
# (SAFETYBOT_TEST_POSTGRES_URL, default the database `test` at 127.0.0.1:5432); that
# second run is skipped, with the reason printed, when PostgreSQL does not answer.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run sandbox test test-postgres tgserver clean

$(BIN)/safetybot: pyproject.toml
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/safetybot

install: $(BIN)/safetybot

run: install
	$(BIN)/safetybot run

sandbox: install
	$(BIN)/safetybot sandbox

test: install
	$(BIN)/ruff check .
	$(BIN)/mypy bot handlers domain scheduler services storage content tgserver
	$(BIN)/pytest -q
	@$(MAKE) --no-print-directory test-postgres

test-postgres: install
	@if why=$$($(BIN)/python -m tests.postgres_reachable); then \
	  echo "integration tests again, on PostgreSQL:"; \
	  SAFETYBOT_TEST_INTEGRATION_DB=postgresql $(BIN)/pytest -q tests/integration; \
	else \
	  echo "skipped: the integration tests on PostgreSQL ($$why)"; \
	fi

tgserver: install
	$(BIN)/python -m tgserver --demo

clean:
	rm -rf $(VENV) build *.egg-info
