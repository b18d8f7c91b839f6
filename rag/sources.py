"""What an answer was built from, in one place for every adapter: each quote placed in the
passage around it and the passages retrieved (the web page, the chat's /open and /why, the
API), and the numbered Sources block for clients that show only text."""

import re
from collections.abc import Callable, Sequence

from rag.models import Answer, Chunk, Citation, SearchHit

CONTEXT_CHARS = 400  # either side of a quote, when no retrieved passage holds it
SOURCES_HEADING = "Sources:"
QUOTE_CHARS = 400  # longer than 98-99% of the sentences in seeds/ and the SQuAD corpora
MARKED = re.compile(r".*?(?:\s*\[\d+\])+|.+", re.S)  # a sentence with the markers ending it
MARKER = re.compile(r"\[(\d+)\]")


def as_hits(
    chunks: Sequence[tuple[Chunk, float]], reader_scores: Sequence[float] | None = None
) -> list[SearchHit]:
    """Retrieved chunks as search hits, best first, with the reader's scores if it read them."""
    scores = reader_scores or [None] * len(chunks)
    return [
        SearchHit(
            source=c.source,
            title=c.title,
            text=c.text,
            start=c.start,
            end=c.end,
            score=round(score, 4),
            reader_score=None if read is None else round(read, 4),
        )
        for (c, score), read in zip(chunks, scores)
    ]


def in_context(
    citations: Sequence[Citation], passages: Sequence[Chunk], text_of: Callable[[str], str | None]
) -> list[Citation]:
    """Each citation with the text before and after its quote: the rest of the retrieved
    passage holding it, or (a quote no passage holds) its document's text around it
    (lines_around); each document's text is read once."""
    placed, texts = [], {}
    for citation in citations:
        holder = next(
            (
                p
                for p in passages
                if p.source == citation.source
                and p.start <= citation.start
                and citation.end <= p.end
            ),
            None,
        )
        if holder is not None:
            text, start, end = holder.text, holder.start, holder.end
        else:
            if citation.source not in texts:
                texts[citation.source] = text_of(citation.source) or ""
            text = texts[citation.source]
            start, end = lines_around(text, citation.start, citation.end)
            text = text[start:end]
        placed.append(
            citation.model_copy(
                update={
                    "before": text[: citation.start - start],
                    "after": text[citation.end - start :],
                }
            )
        )
    return placed


def lines_around(text: str, start: int, end: int) -> tuple[int, int]:
    """Bounds of the whole lines within CONTEXT_CHARS of text[start:end]; where a line runs
    on past twice that, the word boundary about CONTEXT_CHARS away instead."""
    first = text.rfind("\n", 0, max(start - CONTEXT_CHARS, 0)) + 1
    if start - first > 2 * CONTEXT_CHARS:
        first = text.find(" ", start - CONTEXT_CHARS, start) + 1 or start - CONTEXT_CHARS
    last = text.find("\n", min(end + CONTEXT_CHARS, len(text)))
    last = len(text) if last < 0 else last
    if last - end > 2 * CONTEXT_CHARS:
        cut = text.rfind(" ", end, end + CONTEXT_CHARS)
        last = cut if cut >= 0 else end + CONTEXT_CHARS
    return first, last


def sources_block(answer: Answer) -> str:
    """The answer's numbered sources, to append to its text: a blank line, `Sources:` and
    one line per citation ("" for a refusal or an answer that cites nothing)."""
    if answer.refused or not answer.citations:
        return ""
    return "\n\n" + "\n".join([SOURCES_HEADING, *map(source_line, answer.citations)])


def source_line(citation: Citation) -> str:
    """`- [n] title — file: “quote”` on one line, a very long quote shortened."""
    quote = short_quote(" ".join(citation.quote.split()))
    return f"- [{citation.index}] {citation.title} — {citation.source}: “{quote}”"


def short_quote(quote: str, limit: int = QUOTE_CHARS) -> str:
    """The quote, or past `limit` characters its words up to the limit and " …"."""
    return quote if len(quote) <= limit else quote[: limit - 3].rsplit(" ", 1)[0] + " …"


def leading_sentences(answer: Answer, fits: Callable[[Answer], bool]) -> Answer:
    """The answer cut to the most leading sentences, each whole with the [n] markers that end
    it and only the citations they mark, that `fits` accepts: an empty answer if not even
    the first one fits (a sentence cut in two would lose its marker)."""
    sentences = MARKED.findall(answer.answer)
    for kept in range(len(sentences), 0, -1):
        text = "".join(sentences[:kept]).strip()
        marked = {int(n) for n in MARKER.findall(text)}
        cut = answer.model_copy(
            update={
                "answer": text,
                "citations": [c for c in answer.citations if c.index in marked],
            }
        )
        if fits(cut):
            return cut
    return answer.model_copy(update={"answer": "", "citations": []})
