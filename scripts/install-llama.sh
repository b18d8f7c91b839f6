#!/usr/bin/env bash
# llama-cpp-python for the llamacpp provider, built for this CPU's instruction sets by name
# instead of -march=native, with AMX and AVX-512 left out: the native build segfaults on CPUs
# with AMX (rag/llm/build.py, README "Local model"). The wheel is built once and kept in the
# user's cache under a name that holds its version and flags, never taken from pip's own
# cache (which may hold a native build). The installed build is checked after; a build that
# is not this one stops here with the fix. Usage: scripts/install-llama.sh [VENV_BIN]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-.venv/bin}"
PY="$BIN/python"

if "$PY" -m rag.llm.build check 2>/dev/null; then
    exit 0  # installed already, and the right build
fi
VERSION="$("$PY" -c 'from rag.llm.build import VERSION; print(VERSION)')"
ARGS="$("$PY" -m rag.llm.build cmake-args)"
KEY="$(printf '%s %s' "$VERSION" "$ARGS" | sha256sum | cut -c1-16)"
WHEELS="${XDG_CACHE_HOME:-$HOME/.cache}/rag-news/wheels/llama-cpp-python-$KEY"
if ! compgen -G "$WHEELS/llama_cpp_python-*.whl" >/dev/null; then
    echo "compiling llama-cpp-python $VERSION for this CPU (5-9 min on 2 cores)"
    echo "CMAKE_ARGS=$ARGS"
    SCRATCH="$(mktemp -d)"
    trap 'rm -rf "$SCRATCH"' EXIT
    CMAKE_ARGS="$ARGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
        "$BIN/pip" wheel --quiet --no-deps --no-cache-dir --no-binary llama-cpp-python \
        --wheel-dir "$SCRATCH" "llama-cpp-python==$VERSION"
    mkdir -p "$(dirname "$WHEELS")"
    rm -rf "$WHEELS"
    mv "$SCRATCH" "$WHEELS"  # whole or not there: an interrupted build is redone
fi
WHEEL="$(compgen -G "$WHEELS/llama_cpp_python-*.whl")"
"$BIN/pip" install --quiet --no-deps --force-reinstall "$WHEEL"
"$BIN/pip" install --quiet -c constraints.txt "$WHEEL[server]"  # what it needs, pinned
"$PY" -m rag.llm.build check
