"""Capitals read as their countries: the rewrite the question's vector is also taken from,
and the terms its words may be held by."""

from rag.models import Chunk
from rag.places import alternatives, as_countries, expansion_words
from rag.retrieval import word_overlap
from rag.text import content_terms


def chunk(text: str, i: str) -> Chunk:
    return Chunk(
        id=i, text=text, source=f"{i}.txt", title=i, start=0, end=len(text), content_hash="h"
    )


def test_a_capital_is_rewritten_as_its_country_possessives_and_hyphens_kept() -> None:
    assert (
        as_countries("How is Beijing's attitude toward the Moscow-Pyongyang pact?")
        == "How is China's attitude toward the Russia-North Korea pact?"
    )
    assert as_countries("What did New Delhi and the Kremlin announce?") == (
        "What did India and the Russia announce?"
    )
    assert as_countries("Who played the male lead in Victoria?") is None  # left out: common words
    assert as_countries("Which Moscowite wrote it?") is None  # whole words only


def test_a_capital_term_is_held_by_its_country_or_its_adjective() -> None:
    question = "What did Beijing's envoy promise Hanoi?"
    synonyms = alternatives(question)
    assert set(synonyms) == content_terms("Beijing's Hanoi")
    assert expansion_words(question) == ["china", "chinese", "vietnam", "vietnamese"]
    texts = [
        chunk("The Chinese envoy promised Vietnam new credit lines.", "a"),
        chunk("The envoy promised nothing at all.", "b"),
    ]
    plain, read = word_overlap(question, texts), word_overlap(question, texts, synonyms)
    assert plain["a"] == plain["b"]  # by its own words the country's chunk is no better
    assert read["a"] > read["b"]


def test_a_question_naming_no_capital_is_left_alone() -> None:
    question = "How many troops were stationed in North Korea?"
    assert as_countries(question) is None
    assert alternatives(question) == {} and expansion_words(question) == []
