"""What the store keeps, whichever backend keeps it: a document's record, one version's
sentences, and the ids and rows that name chunks and sentence vectors."""

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from rag.models import Chunk
from rag.text import Span


class DocumentRecord(dict):
    """A stored document's metadata: source, title, content_hash, chunker, chunks,
    ingested_at, and author, date and url where the article states them (url: where a
    fetched page came from)."""


@dataclass(frozen=True, eq=False)
class Sentences:
    """One document version's text, where its sentences lie (a row of start and end per
    sentence, in order) and their stored vectors: a row per sentence, though a search reads
    only the rows of the sentences overlapping what it found (the others are zero)."""

    text: str
    bounds: np.ndarray
    vectors: np.ndarray

    @cached_property
    def spans(self) -> list[Span]:
        """The sentences themselves (made when first asked for: a search needs only bounds)."""
        return [Span(self.text[start:end], start, end) for start, end in self.bounds.tolist()]

    def overlapping(self, start: int, end: int) -> range:
        """Positions of the sentences that overlap text[start:end]."""
        return overlapping(self.bounds, start, end)


def bounds_of(spans: list[Span]) -> np.ndarray:
    """The start and end of each span, a row each."""
    return np.array([(s.start, s.end) for s in spans], dtype=np.int64).reshape(-1, 2)


def overlapping(bounds: np.ndarray, start: int, end: int) -> range:
    """Positions of the spans that overlap [start, end), given their bounds in order
    (spans that do not overlap each other, so their ends are in order too)."""
    first = int(np.searchsorted(bounds[:, 1], start, side="right"))  # the first to end after start
    last = int(np.searchsorted(bounds[:, 0], end, side="left"))  # past the last to start before end
    return range(first, max(first, last))


def doc_id(source: str) -> str:
    """A document record's id."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:32]


def sentence_id(source: str, content_hash: str, start: int, end: int) -> str:
    """A sentence vector's id: one per document version and position (so a reader that
    knows where a version's sentences lie can name their rows without a search)."""
    key = f"{source}\x00{content_hash}\x00{start}\x00{end}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def chunk_from(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    """A Chunk back from a stored row."""
    return Chunk(
        id=chunk_id,
        text=text,
        source=meta["source"],
        title=meta["title"],
        start=meta["start"],
        end=meta["end"],
        author=meta.get("author"),
        date=meta.get("date"),
        content_hash=meta.get("content_hash", ""),
    )
