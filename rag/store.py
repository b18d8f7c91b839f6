"""The vector store behind one protocol: chunks, documents and sentence vectors.

A document's record is written after its chunks and sentences and is the commit point:
retrieval only returns chunks whose content hash matches their document's record, so a
reader never sees a half-replaced document, and an interrupted ingest leaves the store
usable. Retrieval and ingest speak to `VectorStore`; `make_store` picks the backend.
"""

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.models import Chunk, SourceDocument
from rag.settings import StoreSettings
from rag.text import Span


class DocumentRecord(dict):
    """A stored document's metadata: source, title, content_hash, chunker, chunks,
    ingested_at, and author and date where the article states them."""


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


class VectorStore(Protocol):
    """Where chunks, their vectors, documents and sentence vectors live."""

    path: Path
    where: str  # the folder or server, for messages

    @property
    def exists(self) -> bool:
        """Whether anything was ever written here."""
        ...

    def open(self, *, create: bool) -> "VectorStore":
        """Open (or create) the store; EmbedderMismatch if built with another model."""
        ...

    def reset(self) -> None:
        """Drop everything (for --rebuild)."""
        ...

    def close(self) -> None:
        """Let go of the store until its next use."""
        ...

    def document(self, source: str) -> DocumentRecord | None:
        """The committed record of one source, or None."""
        ...

    def document_text(self, source: str) -> str | None:
        """The text that a citation's offsets index into."""
        ...

    def documents(self) -> list[DocumentRecord]:
        """Every committed document, by source."""
        ...

    def committed_hashes(self, sources: set[str]) -> dict[str, str]:
        """The committed content hash of each of these sources that has a record."""
        ...

    def commit_document(self, document: SourceDocument, chunker: str, chunk_count: int,
                        vector: np.ndarray, spans: list[Span]) -> None:
        """Write the record that makes the document's current chunks visible."""
        ...

    def delete_document(self, source: str) -> None:
        """Remove the record: the document's chunks are hidden at once."""
        ...

    def chunk_ids(self, source: str | None = None) -> set[str]:
        """Ids of every chunk stored (for one source, if given), committed or not."""
        ...

    def chunks(self, ids: list[str]) -> list[Chunk]:
        """The stored chunks with these ids, with their content hashes."""
        ...

    def chunk_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """The stored vectors of these chunks, by id."""
        ...

    def source_chunks(self, sources: list[str]) -> list[Chunk]:
        """Every stored chunk of these sources, committed or not."""
        ...

    def vectors_by_text(self, source: str) -> dict[str, np.ndarray]:
        """Stored chunk vectors of a source by their text, to reuse for unchanged text."""
        ...

    def put_chunks(self, chunks: list[Chunk], vectors: np.ndarray) -> None:
        """Upsert chunks with their spans and vectors."""
        ...

    def delete_chunks(self, ids: set[str]) -> None:
        """Remove chunks (and nothing else)."""
        ...

    def query(self, vector: np.ndarray, n: int,
              sources: list[str] | None = None) -> list[tuple[Chunk, float]]:
        """The n nearest stored chunks (committed or not), best first, with cosine
        similarity."""
        ...

    def sentence_ids(self, source: str) -> set[str]:
        """Ids of every sentence vector stored for a source."""
        ...

    def row_versions(self) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
        """Every chunk row's and every sentence row's (source, content hash), by id."""
        ...

    def sentence_vectors_by_text(self, source: str) -> dict[str, np.ndarray]:
        """Stored sentence vectors of a source by their text."""
        ...

    def put_sentences(self, document: SourceDocument, spans: list[Span],
                      vectors: np.ndarray) -> None:
        """Upsert a document version's sentences with their vectors."""
        ...

    def delete_sentences(self, ids: set[str]) -> None:
        """Remove sentence vectors."""
        ...

    def sentences(self, wanted: dict[tuple[str, str], list[tuple[int, int]]],
                  ) -> dict[tuple[str, str], Sentences]:
        """For each committed document version, (source, content hash): its text, its
        sentences, and the vectors of those overlapping the character ranges given."""
        ...

    def count(self) -> int:
        """How many documents are committed."""
        ...

    def chunk_count(self) -> int:
        """How many chunks are stored."""
        ...


def make_store(settings: StoreSettings, embedder_name: str, dimension: int) -> VectorStore:
    """The vector store the settings describe."""
    from rag.chroma import ChromaStore

    return ChromaStore(settings, embedder_name, dimension)


def index_exists(path: Path) -> bool:
    """Whether a store was ever written at path (cheap: imports nothing)."""
    return (Path(path) / "chroma.sqlite3").is_file()


def doc_id(source: str) -> str:
    """A document record's id."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:32]


def sentence_id(source: str, content_hash: str, start: int, end: int) -> str:
    """A sentence vector's id: one per document version and position (so a reader that
    knows where a version's sentences lie can name their rows without a search)."""
    key = f"{source}\x00{content_hash}\x00{start}\x00{end}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def chunk_metadata(chunk: Chunk) -> dict[str, Any]:
    """A chunk's metadata as stores keep it (no None values: Chroma stores none)."""
    meta = {"source": chunk.source, "title": chunk.title, "start": chunk.start,
            "end": chunk.end, "content_hash": chunk.content_hash}
    return meta | {k: v for k in ("author", "date") if (v := getattr(chunk, k))}


def chunk_from(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    """A Chunk back from a stored row."""
    return Chunk(id=chunk_id, text=text, source=meta["source"], title=meta["title"],
                 start=meta["start"], end=meta["end"], author=meta.get("author"),
                 date=meta.get("date"), content_hash=meta.get("content_hash", ""))
