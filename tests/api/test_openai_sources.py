"""The numbered sources in the text of /v1/chat/completions replies, for OpenAI clients that
show only the text, as the official openai client receives them from a real server."""

import re
from pathlib import Path

import httpx
import openai
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from rag.models import Answer, Citation
from rag.pipeline import Pipeline
from rag.settings import load_settings
from rag.sources import leading_sentences, sources_block
from tests.api.conftest import Server

QUESTION = "What did the treaty promise?"  # two or more cited sentences on mutual assistance
SOURCE_LINE = re.compile(r"^- \[(\d+)\] (.+) — (\S+): “(.+)”$")


@pytest.fixture
def openai_client(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)


def ask(openai_client: openai.OpenAI, question: str, **options: object):
    """A non-streamed completion for one question."""
    return openai_client.chat.completions.create(
        model="rag-news", messages=[{"role": "user", "content": question}], **options
    )


def listed_sources(content: str) -> tuple[str, list[tuple]]:
    """The answer before the Sources block, and (index, title, file, quote) for each line."""
    answer, heading, block = content.rpartition("\n\nSources:\n")
    assert heading, f"no Sources block in {content!r}"
    rows = [SOURCE_LINE.match(line) for line in block.split("\n")]
    assert all(rows), block
    return answer, [(int(r[1]), r[2], r[3], r[4]) for r in rows]


def cited(citations: list[dict]) -> list[tuple]:
    return [(c["index"], c["title"], c["source"], c["quote"]) for c in citations]


def test_the_text_ends_with_the_numbered_sources_the_citations_hold(openai_client) -> None:
    completion = ask(openai_client, QUESTION)
    citations = completion.model_extra["rag_citations"]
    answer, sources = listed_sources(completion.choices[0].message.content)
    assert len(citations) >= 2 and f"[{len(citations)}]" in answer
    assert "mutual" in answer and "Sources" not in answer
    assert sources == cited(citations)  # quotes word for word


def test_the_stream_sends_the_sources_as_one_delta_before_the_last_chunk(openai_client) -> None:
    chunks = list(
        openai_client.chat.completions.create(
            model="rag-news", stream=True, messages=[{"role": "user", "content": QUESTION}]
        )
    )
    block = chunks[-2].choices[0].delta.content
    answer = "".join(c.choices[0].delta.content or "" for c in chunks[:-2])
    assert "mutual" in answer and "Sources" not in answer
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert listed_sources(answer + block)[1] == cited(chunks[-1].model_extra["rag_citations"])
    assert answer + block == ask(openai_client, QUESTION).choices[0].message.content


def test_sources_in_text_false_gives_the_bare_answer_and_the_citations(openai_client) -> None:
    bare = ask(openai_client, QUESTION, extra_body={"sources_in_text": False})
    content = bare.choices[0].message.content
    assert "Sources:" not in content and "[2]" in content and "mutual" in content
    shown = ask(openai_client, QUESTION)
    assert listed_sources(shown.choices[0].message.content)[0] == content  # then its sources
    assert bare.model_extra["rag_citations"] == shown.model_extra["rag_citations"]


def test_a_refusal_has_no_sources_block(openai_client) -> None:
    refusal = ask(openai_client, "What is the population of Pyongyang?")
    assert refusal.model_extra["refused"] is True and refusal.model_extra["rag_citations"] == []
    assert "Sources:" not in refusal.choices[0].message.content


def test_the_setting_turns_it_off_and_a_request_back_on(
    seeded: Pipeline, seeded_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_API__SOURCES_IN_TEXT", "false")
    app = create_app(load_settings(store={"path": seeded_store}), seeded)
    body = {"model": "rag-news", "messages": [{"role": "user", "content": QUESTION}]}
    with TestClient(app) as api:
        default = api.post("/v1/chat/completions", json=body).json()
        asked = api.post("/v1/chat/completions", json=body | {"sources_in_text": True}).json()
    assert "Sources:" not in default["choices"][0]["message"]["content"]
    assert (
        default["rag_citations"]
        and listed_sources(asked["choices"][0]["message"]["content"])[0]
        == default["choices"][0]["message"]["content"]
    )
    shown = asked["choices"][0]["message"]["content"]
    assert listed_sources(shown)[1] == cited(asked["rag_citations"])


def test_an_earlier_answer_sent_back_with_its_sources_changes_no_follow_up(
    client: httpx.Client,
) -> None:
    # "President": the bare "Who is To Lam?" sits at the refusal threshold, answered on a CPU
    # with AVX-512 VNNI and refused on one without (the int8 reader's sums differ a little)
    def follow_up(earlier_answer: str) -> dict:
        return client.post(
            "/v1/chat/completions",
            json={
                "model": "rag-news",
                "messages": [
                    {"role": "user", "content": "Who is President To Lam?"},
                    {"role": "assistant", "content": earlier_answer},
                    {"role": "user", "content": "and when did he meet Putin?"},
                ],
            },
        ).json()

    first = client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "Who is President To Lam?"}]},
    ).json()
    shown = first["choices"][0]["message"]["content"]
    assert "\n\nSources:\n- [1] " in shown
    with_block, without = follow_up(shown), follow_up(listed_sources(shown)[0])
    assert (
        with_block["rewritten_question"]
        == without["rewritten_question"]
        == "When did President To Lam meet Putin?"
    )
    assert with_block["choices"] == without["choices"]


def citation(index: int, quote: str) -> Citation:
    return Citation(
        index=index,
        source="briefing.txt",
        title="Summit briefing",
        quote=quote,
        start=0,
        end=len(quote),
        score=1.0,
    )


def test_a_very_long_quote_is_cut_at_a_word() -> None:
    long_quote = "The delegation " + "met again and again " * 40 + "in Hanoi."
    answer = Answer(
        question="q",
        answer="They met twice. [1] In Hanoi. [2]",
        citations=[citation(1, "The leaders met twice."), citation(2, long_quote)],
    )
    block = sources_block(answer)
    shortened = SOURCE_LINE.match(block.split("\n")[-1])[4]
    assert len(shortened) <= 400 and shortened.endswith(" …")
    assert long_quote.startswith(shortened.removesuffix(" …") + " ")
    assert listed_sources(answer.answer + block)[0] == answer.answer
    assert sources_block(answer.model_copy(update={"refused": True, "citations": []})) == ""


def test_an_answer_is_cut_between_sentences_keeping_the_citations_it_still_marks() -> None:
    answer = Answer(
        question="q",
        answer="They met twice. [1][2] In Hanoi. [3] Then they left.",
        citations=[citation(n, quote) for n, quote in enumerate(("a", "b", "c"), 1)],
    )

    def within(limit: int) -> Answer:
        return leading_sentences(answer, lambda cut: len(cut.answer) <= limit)

    assert within(len(answer.answer)) == answer
    assert within(len(answer.answer) - 1).answer == "They met twice. [1][2] In Hanoi. [3]"
    two = within(len("They met twice. [1][2] In Hanoi. [3]") - 1)
    assert two.answer == "They met twice. [1][2]" and [c.index for c in two.citations] == [1, 2]
    nothing = within(len("They met twice. [1][2]") - 1)
    assert nothing.answer == "" and nothing.citations == []
