# Two entry points for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install run test index clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

index: $(STAMP)
	$(BIN)/rag ingest seeds/

run: index
	$(BIN)/rag serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest
	$(BIN)/rag eval
	$(BIN)/rag eval --dataset evals/squad-dev-48/questions.jsonl \
	    --corpus evals/squad-dev-48/corpus --limit 500

clean:
	rm -rf $(VENV) vectorstore/* evals/reports
