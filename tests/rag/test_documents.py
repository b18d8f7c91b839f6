"""Documents added and removed one at a time, streamed answers, and source filters."""

import pytest

from rag.errors import SourceError, UnknownDocument
from rag.events import Cited, Finished, Token, collect
from rag.filters import Filters
from tests.conftest import SEEDS

NOTE = b"Harbour note\n\nThe icebreaker Kapitan Dranitsyn reached Rajin port on 3 March."


def test_add_replace_and_delete_a_document(make_pipeline) -> None:
    pipeline = make_pipeline()
    pipeline.ingest([SEEDS / "001_1346c328f81362a0.txt"])
    assert pipeline.add_document("harbour.txt", NOTE) == ("indexed", 1)
    assert pipeline.add_document("harbour.txt", NOTE) == ("unchanged", 1)
    answer = collect(pipeline.answer("Which icebreaker reached Rajin port?"))
    assert answer.citations[0].source == "harbour.txt" and "Kapitan Dranitsyn" in answer.answer
    assert pipeline.delete_document("harbour.txt") == 1
    assert all(h.source != "harbour.txt" for h in pipeline.search("icebreaker Rajin port"))
    with pytest.raises(UnknownDocument):
        pipeline.delete_document("harbour.txt")


@pytest.mark.parametrize(
    "name", ["../x.txt", "/etc/passwd", "a/b.txt", "notes.docx", "", ".hidden.txt"]
)
def test_a_source_name_must_be_a_plain_supported_file_name(make_pipeline, name: str) -> None:
    with pytest.raises(SourceError, match="plain file name"):
        make_pipeline().add_document(name, NOTE)


def test_a_streamed_answer_is_tokens_then_citations_then_the_answer(seeded) -> None:
    events = list(seeded.answer("Who accompanied Putin on his trip?"))
    kinds = [type(e) for e in events]
    assert kinds[-2:] == [Cited, Finished] and set(kinds[:-2]) == {Token}
    answer = events[-1].answer
    assert "".join(e.text for e in events[:-2]) == answer.answer
    assert events[-2].citations == answer.citations


def test_a_source_filter_keeps_retrieval_and_citations_inside_it(seeded) -> None:
    source = "002_5e06cd6f6b3b4cf9.txt"
    hits = seeded.search("treaty", top_k=10, filters=Filters(source=source))
    assert hits and {h.source for h in hits} == {source}
    assert seeded.search("treaty", filters=Filters(source=["no-such.txt"])) == []
    assert collect(
        seeded.answer("What is the treaty?", filters=Filters(source=["no-such.txt"]))
    ).refused
