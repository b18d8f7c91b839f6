"""Answers from the seeded store: cited, exact, short, and refused when the articles are silent."""

import re

import pytest

from rag.errors import InvalidQuestion
from rag.events import collect
from tests.conftest import SEEDS

QUESTIONS = [
    "Which article of the UN Charter does the defence clause invoke?",
    "Who accompanied Putin on his trip to North Korea?",
    "When was the 1961 treaty's military intervention clause scrapped?",
    "What did Russia and Vietnam sign?",
    "How much did bilateral trade between Russia and North Korea grow in 2023?",
]


def test_the_defence_clause_question_cites_article_51(seeded) -> None:
    answer = collect(seeded.answer(QUESTIONS[0]))
    assert not answer.refused
    assert "Article 51" in answer.answer
    assert any(
        c.source == "001_1346c328f81362a0.txt" and "Article 51" in c.quote for c in answer.citations
    )


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_sentence_cites_an_exact_passage(seeded, question: str) -> None:
    answer = collect(seeded.answer(question))
    assert not answer.refused and 1 <= len(answer.citations) <= 3
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)]
    assert sorted(markers) == [c.index for c in answer.citations]
    assert re.fullmatch(r"(?:[^\[\]]+ \[\d+\]\s*)+", answer.answer)  # each sentence ends with [n]
    for c in answer.citations:
        source_text = (SEEDS / c.source).read_bytes().decode("utf-8")
        assert source_text[c.start : c.end] == c.quote
        assert seeded.source_text(c.source) == source_text


@pytest.mark.parametrize(
    "question",
    [
        "What is the population of Pyongyang?",
        "What was the final score of the 2022 World Cup final?",
    ],
)
def test_questions_the_articles_cannot_answer_are_refused(seeded, question: str) -> None:
    answer = collect(seeded.answer(question))
    assert answer.refused and answer.citations == []
    assert answer.answer.startswith("The indexed articles do not say")


@pytest.mark.parametrize(
    "question, message", [("", "empty"), ("  \n\t ", "empty"), ("why? " * 401, "limit is 2000")]
)
def test_empty_or_overlong_questions_are_rejected(seeded, question: str, message: str) -> None:
    with pytest.raises(InvalidQuestion, match=message):
        collect(seeded.answer(question))


def test_search_returns_ranked_chunks_with_exact_spans(seeded) -> None:
    hits = seeded.search("bamboo diplomacy", top_k=3)
    assert len(hits) == 3 and hits[0].score >= hits[1].score >= hits[2].score
    assert "bamboo diplomacy" in hits[0].text
    source_text = (SEEDS / hits[0].source).read_text(encoding="utf-8")
    assert source_text[hits[0].start : hits[0].end] == hits[0].text


def test_an_answer_past_the_cap_is_refused_until_a_slot_is_free(make_pipeline, store) -> None:
    from rag.errors import Overloaded

    pipeline = make_pipeline(store, llm={"max_concurrent": 1})
    question = "Which article of the UN Charter does the defence clause invoke?"
    writing = pipeline.answer(question)
    next(writing)  # the one slot is taken while this answer is being read
    with pytest.raises(Overloaded, match="1 answers are being written"):
        collect(pipeline.answer(question))
    writing.close()  # a reader that leaves gives its slot back
    assert "Article 51" in collect(pipeline.answer(question)).answer
    with pytest.raises(InvalidQuestion):
        collect(pipeline.answer(""))
    assert (
        "Article 51" in collect(pipeline.answer(question)).answer
    )  # a refused question held no slot


def test_a_provider_asked_for_at_once_is_built_once(make_pipeline) -> None:
    from concurrent.futures import ThreadPoolExecutor

    pipeline = make_pipeline()
    with ThreadPoolExecutor(8) as pool:
        built = list(pool.map(lambda _: pipeline.answerer_for("fake"), range(8)))
    assert len({id(a) for a in built}) == 1
