"""Each cited quote placed in the passage around it: the retrieved chunk holding it, or
the document's lines around it when no retrieved chunk does."""

from rag.models import Chunk, Citation
from rag.sources import CONTEXT_CHARS, in_context, lines_around

TEXT = (
    "Title line\n\nFirst paragraph says one thing.\n"
    "Second paragraph says the quoted thing here.\nLast."
)


def citation_of(quote: str) -> Citation:
    start = TEXT.index(quote)
    return Citation(
        index=1,
        source="a.txt",
        title="A",
        quote=quote,
        start=start,
        end=start + len(quote),
        score=1.0,
    )


def test_a_quote_inside_a_retrieved_chunk_gets_the_rest_of_that_chunk() -> None:
    start = TEXT.index("First")
    chunk = Chunk(id="c", source="a.txt", title="A", text=TEXT[start:], start=start, end=len(TEXT))
    cited = citation_of("the quoted thing")
    [placed] = in_context([cited], [chunk], text_of=lambda _: None)  # never read
    assert placed.before + placed.quote + placed.after == chunk.text
    assert placed.before.endswith("paragraph says ") and placed.after.startswith(" here.")


def test_a_quote_no_chunk_holds_gets_the_documents_lines_around_it() -> None:
    other = Chunk(id="c", source="b.txt", title="B", text="x", start=0, end=1)
    [placed] = in_context([citation_of("quoted thing")], [other], text_of={"a.txt": TEXT}.get)
    assert placed.before + placed.quote + placed.after == TEXT  # short text: all its lines
    [gone] = in_context([citation_of("quoted thing")], [], text_of=lambda _: None)
    assert (gone.before, gone.after) == ("", "")  # the document was deleted meanwhile


def test_a_line_that_runs_on_is_cut_at_a_word_about_context_chars_away() -> None:
    text = " ".join(f"word{i:04d}" for i in range(1000))  # 9,000 characters, no newline
    start = text.index("word0500")
    first, last = lines_around(text, start, start + 8)
    assert start - first <= CONTEXT_CHARS and last - (start + 8) <= CONTEXT_CHARS
    assert text[first - 1] == " " and text[last] == " "  # whole words
    short = "One line.\nThe quote here.\nLast line."
    at = short.index("The quote")
    assert lines_around(short, at, at + 9) == (0, len(short))  # short lines: kept whole
