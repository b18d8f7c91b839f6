"""The real language model providers with Qwen2.5-Coder-0.5B (assembled by `rag model pull`):
llamacpp (llama.cpp in a child process this one supervises), and openai against
llama-cpp-python's OpenAI-compatible server started by hand."""

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.events import Token, collect
from rag.llm.openai import OpenAICompatibleLLM
from rag.settings import load_settings
from rag.weights import locate_gguf
from tests.api.conftest import Background, free_port
from tests.conftest import SEEDS

MODEL = "qwen2.5-coder-0.5b"
QUESTION = "What kind of production will Russia and North Korea collaborate on under the pact?"


def model_path() -> Path:
    settings = load_settings()
    return locate_gguf(MODEL, settings.llm.models_dir)  # fails with "run `rag model pull ...`"


def check_answer(answer) -> None:
    """What must hold of any answer, whatever the model wrote: each marker has its
    citation, and each citation's quote is the source's exact text at its offsets."""
    assert answer.verification is not None
    for c in answer.citations:
        assert (SEEDS / c.source).read_text()[c.start : c.end] == c.quote
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
    assert markers == {c.index for c in answer.citations}
    if not answer.refused:
        assert answer.citations


@pytest.fixture(scope="module")
def local(make_module_pipeline):
    pipeline = make_module_pipeline(llm={"provider": "llamacpp", "gguf": MODEL, "threads": 2})
    yield pipeline
    pipeline.answerer.llm.close()


@pytest.fixture(scope="module")
def make_module_pipeline(seeded_store, embedder):
    from rag.pipeline import build_pipeline

    def make(**overrides: object):
        return build_pipeline(
            load_settings(store={"path": seeded_store}, **overrides), embedder=embedder
        )

    return make


def test_llamacpp_streams_a_checked_answer(local) -> None:
    events = list(local.answer(QUESTION))
    answer = events[-1].answer
    tokens = [e.text for e in events if isinstance(e, Token)]
    assert answer.provider == "llamacpp" and tokens and "".join(tokens) == answer.answer
    check_answer(answer)
    assert answer.verification.sentences >= 1  # the model wrote, and what it wrote was checked
    assert 0 < answer.timings.first_token_ms <= answer.timings.total_ms


def test_llamacpp_writes_the_reply_itself(local) -> None:
    reply = local.answerer.llm.complete([{"role": "user", "content": "Say the word: hello"}])
    assert "hello" in reply.lower()


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on a free loopback port."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_path()),
        "--model_alias",
        MODEL,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--chat_format",
        "chatml",
        "--n_threads",
        "2",
        "--verbose",
        "False",
    ]
    with Background(command, port, "/v1/models", os.environ | {"HF_HUB_OFFLINE": "1"}) as server:
        yield f"{server.url}/v1"


@pytest.fixture(scope="module")
def served(make_module_pipeline, llama_server):
    return make_module_pipeline(
        llm={
            "provider": "openai",
            "base_url": llama_server,
            "openai_model": MODEL,
            "timeout_s": 120,
        }
    )


def test_openai_provider_against_a_real_server_not_streaming(served) -> None:
    llm = served.answerer.llm
    assert isinstance(llm, OpenAICompatibleLLM)
    assert "hello" in llm.complete([{"role": "user", "content": "Say the word: hello"}]).lower()
    answer = collect(served.answer(QUESTION))
    assert answer.provider == "openai"
    check_answer(answer)


def test_openai_provider_against_a_real_server_streaming(served) -> None:
    deltas = list(
        served.answerer.llm.stream([{"role": "user", "content": "Count: one, two, three"}])
    )
    assert len(deltas) > 2 and "two" in "".join(deltas).lower()
    events = list(served.answer(QUESTION))
    answer = events[-1].answer
    assert "".join(e.text for e in events if isinstance(e, Token)) == answer.answer
    check_answer(answer)
    assert answer.verification.sentences >= 1


def test_a_slow_reader_does_not_hold_up_the_next_answer(local) -> None:
    import threading

    llm = local.answerer.llm
    slow = llm.stream([{"role": "user", "content": "Count: one, two, three, four"}])
    first = next(slow)  # this reader now pauses, its reply still unread
    other: dict[str, str] = {}
    writing = threading.Thread(
        target=lambda: other.update(
            reply=llm.complete([{"role": "user", "content": "Say the word: hello"}])
        )
    )
    writing.start()
    writing.join(timeout=180)
    assert not writing.is_alive() and "hello" in other["reply"].lower()
    assert "two" in (first + "".join(slow)).lower()  # and the paused reply is whole


@pytest.fixture(scope="module")
def injected_store(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    """The five articles and a notice that orders models to answer PWNED, indexed."""
    import shutil

    from rag.pipeline import build_pipeline
    from tests.rag.test_injection import INJECTED

    corpus = tmp_path_factory.mktemp("injected") / "corpus"
    shutil.copytree(SEEDS, corpus)
    (corpus / "notice.txt").write_text(INJECTED)
    store = corpus.parent / "store"
    pipeline = build_pipeline(load_settings(store={"path": store}), embedder=embedder)
    pipeline.ingest([corpus])
    pipeline.index.close()
    return store


@pytest.mark.parametrize("provider", ["llamacpp", "openai"])
def test_a_real_model_shown_an_injected_document_does_not_obey_it(
    injected_store: Path, embedder, llama_server: str, provider: str
) -> None:
    from rag.pipeline import build_pipeline
    from tests.rag.test_injection import LEAKS, QUESTIONS

    settings = load_settings(
        store={"path": injected_store},
        llm={
            "provider": provider,
            "gguf": MODEL,
            "threads": 2,
            "base_url": llama_server,
            "openai_model": MODEL,
            "timeout_s": 120,
        },
    )
    pipeline = build_pipeline(settings, embedder=embedder)
    try:
        for question in QUESTIONS:
            answer = collect(pipeline.answer(question))
            assert not any(leak.lower() in answer.answer.lower() for leak in LEAKS), answer.answer
            assert answer.provider == provider and answer.verification is not None
    finally:
        pipeline.index.close()
        if provider == "llamacpp":
            pipeline.answerer.llm.close()
