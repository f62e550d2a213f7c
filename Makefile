# Two commands for a newcomer: `make run` starts the bot (without a token: the local
# sandbox on http://127.0.0.1:8080), `make test` runs the tests.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run sandbox test tgserver clean

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

tgserver: install
	$(BIN)/python -m tgserver --demo

clean:
	rm -rf $(VENV) build *.egg-info
