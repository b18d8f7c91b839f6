#!/usr/bin/env bash
# llama-cpp-python for the llamacpp provider, built for this CPU's instruction sets by name
# instead of -march=native: never AMX, whose native build segfaults on CPUs that have it, and
# on such a CPU only the AVX2 set (rag/llm/build.py, README "The local model's build and
# process"). The wheel is built once and kept in the user's cache in a folder whose name
# holds its version and flags, never taken from pip's own cache (which may hold a native
# build). The installed build is checked after; one that is not this one stops here with
# the fix. Usage: scripts/install-llama.sh [VENV_BIN]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-.venv/bin}"
PY="$BIN/python"

if WHY="$("$PY" -m rag.llm.build check 2>&1)"; then
    echo "$WHY"
    exit 0  # installed already, and the right build
fi
echo "installing llama-cpp-python: ${WHY#error: }"
VERSION="$("$PY" -c 'from rag.llm.build import VERSION; print(VERSION)')"
ARGS="$("$PY" -m rag.llm.build cmake-args)"
WHEELS="$("$PY" -m rag.llm.build wheel-dir)"
if ! compgen -G "$WHEELS/llama_cpp_python-*.whl" >/dev/null; then
    echo "compiling llama-cpp-python $VERSION for this CPU (5-9 min on 2 cores)"
    echo "CMAKE_ARGS=$ARGS"
    mkdir -p "$(dirname "$WHEELS")"
    SCRATCH="$(mktemp -d "$(dirname "$WHEELS")/.build.XXXXXX")"  # same disk: mv is a rename
    trap 'rm -rf "$SCRATCH"' EXIT
    CMAKE_ARGS="$ARGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
        "$BIN/pip" wheel --quiet --no-deps --no-cache-dir --no-binary llama-cpp-python \
        --wheel-dir "$SCRATCH" "llama-cpp-python==$VERSION"
    rm -rf "$WHEELS"
    mv "$SCRATCH" "$WHEELS"  # whole or not there: an interrupted build is redone
fi
WHEEL="$(compgen -G "$WHEELS/llama_cpp_python-*.whl")"
"$BIN/pip" install --quiet --no-deps --force-reinstall "$WHEEL"
"$BIN/pip" install --quiet -c constraints.txt "$WHEEL[server]"  # what it needs, pinned
if ! "$PY" -m rag.llm.build check; then
    rm -rf "$WHEELS"  # not what was asked for: the next run builds it again
    echo "removed $WHEELS" >&2
    exit 1
fi
