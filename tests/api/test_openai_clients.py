"""GET /v1/models and POST /v1/chat/completions as the clients people use read them: the
official openai client and simonw/llm's `llm` CLI, against a real `rag serve` behind a key;
usage, max_tokens, the fields we accept without using, and Perplexity's citation fields."""

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from rag.ingest import index_document
from rag.loading import parse
from rag.models import Answer, Citation
from rag.sources import sources_block
from tests.api.conftest import Server

LLM = str(Path(sys.executable).with_name("llm"))
KEY = "openai-clients-key"
QUESTION = "What did the treaty promise?"  # two or more cited sentences on mutual assistance
CHAT = [{"role": "user", "content": QUESTION}]


@pytest.fixture(scope="module")
def keyed(served_store: Path) -> Iterator[Server]:
    with Server(served_store, RAG_API__KEYS=KEY) as running:
        yield running


@pytest.fixture
def openai_client(keyed: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{keyed.url}/v1", api_key=KEY, max_retries=0)


def ask(client: openai.OpenAI, **options: object):
    return client.chat.completions.create(model="rag-news", messages=CHAT, **options)


def streamed_text(chunks: list) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_the_model_is_listed_and_read_by_its_id(keyed: Server, openai_client) -> None:
    listed = openai_client.models.list()
    assert [m.id for m in listed.data] == ["rag-news"]
    assert listed.data[0].object == "model" and listed.data[0].created > 0
    assert openai_client.models.retrieve("rag-news") == listed.data[0]
    with pytest.raises(openai.NotFoundError, match="GET /v1/models lists 'rag-news'"):
        openai_client.models.retrieve("gpt-4o")
    stranger = openai.OpenAI(base_url=f"{keyed.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        stranger.models.list()


def test_usage_counts_the_word_pieces_read_and_sent(openai_client, embedder) -> None:
    whole = ask(openai_client)
    content = whole.choices[0].message.content
    usage = whole.usage
    assert usage.completion_tokens == embedder.count_tokens(content)
    assert usage.prompt_tokens > 10 * embedder.count_tokens(QUESTION)  # and the passages
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens

    chunks = list(ask(openai_client, stream=True, stream_options={"include_usage": True}))
    assert streamed_text(chunks) == content
    assert chunks[-1].choices == [] and chunks[-1].usage == usage
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in ask(openai_client, stream=True))  # not asked for


def test_max_tokens_keeps_whole_sentences_with_their_sources(openai_client, embedder) -> None:
    whole = ask(openai_client)
    ours = whole.model_extra["rag_citations"]
    assert len(ours) >= 2
    first = whole.choices[0].message.content.split("[1]")[0] + "[1]"
    kept = Answer(question=QUESTION, answer=first, citations=[Citation(**ours[0])])
    expected = first + sources_block(kept)
    budget = embedder.count_tokens(expected)

    cut = ask(openai_client, max_tokens=budget)
    assert cut.choices[0].message.content == expected
    assert cut.choices[0].finish_reason == "length"
    assert cut.usage.completion_tokens == budget
    assert cut.model_extra["rag_citations"] == ours[:1]
    assert cut.model_extra["citations"] == [ours[0]["source"]]

    chunks = list(ask(openai_client, stream=True, max_completion_tokens=budget))
    assert streamed_text(chunks) == expected and chunks[-1].choices[0].finish_reason == "length"

    nothing = ask(openai_client, max_tokens=budget - 1, extra_body={"sources_in_text": True})
    assert nothing.choices[0].message.content == "" and nothing.model_extra["citations"] == []
    roomy = ask(openai_client, max_tokens=whole.usage.completion_tokens)
    assert roomy.choices[0].message.content == whole.choices[0].message.content
    assert roomy.choices[0].finish_reason == "stop"


def test_temperature_and_user_are_accepted_and_what_we_cannot_do_is_refused(
    openai_client,
) -> None:
    plain = ask(openai_client).choices[0].message.content
    warm = ask(openai_client, temperature=1.3, user="reader-42")
    assert warm.choices[0].message.content == plain  # quoted from the articles either way
    for options, field in (
        ({"temperature": 2.5}, "temperature"),
        ({"n": 2}, "n"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"user": "x" * 300}, "user"),
    ):
        with pytest.raises(openai.UnprocessableEntityError, match=f"{field}: "):
            ask(openai_client, **options)


def test_perplexity_citations_name_each_markers_document(openai_client) -> None:
    completion = ask(openai_client)
    extra = completion.model_extra
    ours = extra["rag_citations"]
    assert extra["citations"] == [c["source"] for c in ours]  # no article here came from a URL
    assert [r["title"] for r in extra["search_results"]] == [c["title"] for c in ours]
    for n in {int(n) for n in re.findall(r"\[(\d+)\]", completion.choices[0].message.content)}:
        assert ours[n - 1]["index"] == n


def test_a_fetched_articles_url_is_its_citation_and_the_user_is_logged(
    make_pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline = make_pipeline()
    pipeline.index.open(create=True)
    url = "https://news.example/2024/06/arktika"
    page = b"Arktika summit\n\nThe Arktika summit opened in Murmansk on Monday with nine ministers."
    index_document(
        parse("arktika.txt", page, url=url),
        index=pipeline.index,
        embedder=pipeline.embedder,
        chunker=pipeline.chunker(),
    )
    asking = {"messages": [{"role": "user", "content": "Where did the Arktika summit open?"}]}
    with TestClient(create_app(pipeline.settings, pipeline)) as api:
        with caplog.at_level(logging.INFO, logger="api.openai_compat"):
            reply = api.post("/v1/chat/completions", json=asking | {"user": "reader-42"}).json()
    assert "Murmansk" in reply["choices"][0]["message"]["content"]
    assert reply["citations"] == [url]
    assert reply["search_results"][0] == {"title": "Arktika summit", "url": url, "date": None}
    assert any("'reader-42'" in r.getMessage() for r in caplog.records)


def test_the_llm_cli_asks_streamed_and_not_and_logs_the_usage(keyed: Server, tmp_path) -> None:
    home = tmp_path / "llm"
    home.mkdir()
    (home / "extra-openai-models.yaml").write_text(
        f"- model_id: rag-news\n  model_name: rag-news\n"
        f"  api_base: {keyed.url}/v1\n  api_key_name: rag-news\n"
    )
    env = os.environ | {"LLM_USER_PATH": str(home)}

    def llm(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [LLM, *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    assert llm("keys", "set", "rag-news", "--value", KEY).returncode == 0
    assert "rag-news" in llm("models", "list").stdout
    streamed = llm("-m", "rag-news", QUESTION)
    plain = llm("-m", "rag-news", "--no-stream", QUESTION)
    assert streamed.returncode == 0 and plain.returncode == 0, streamed.stderr + plain.stderr
    assert streamed.stdout == plain.stdout
    assert "mutual" in plain.stdout and "\n\nSources:\n- [1] " in plain.stdout

    logged = json.loads(llm("logs", "--json", "-n", "2").stdout)
    assert [log["response"] for log in logged] == [plain.stdout.rstrip("\n")] * 2
    assert all(log["input_tokens"] > 0 and log["output_tokens"] > 0 for log in logged)

    refused = llm("-m", "rag-news", "--key", "wrong", QUESTION)
    assert refused.returncode != 0 and "401 - missing or wrong API key" in refused.stderr
    assert "Traceback" not in refused.stderr
