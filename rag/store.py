"""The vector store behind small protocols, one per role: its lifecycle, the document
records, the chunks, the sentence vectors, and the upkeep `rag doctor` does.

A document's record is written after its chunks and sentences and is the commit point:
retrieval only returns chunks whose content hash matches their document's record, so a
reader never sees a half-replaced document, and an interrupted ingest leaves the store
usable. `make_store` builds the one backend there is, Chroma (in a folder, or on a server
when the settings name one); `claim` and `has_index` answer for it without opening it.
"""

from typing import Protocol

import numpy as np

from rag.models import Chunk, SourceDocument
from rag.records import DocumentRecord, Sentences
from rag.settings import StoreSettings
from rag.text import Span


class StoreLifecycle(Protocol):
    """Where the store is, and opening, dropping and closing it."""

    @property
    def where(self) -> str:
        """The folder or server, for messages."""
        ...

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


class DocumentRecords(Protocol):
    """The document records: the commit points that make a version's rows visible."""

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

    def commit_document(
        self,
        document: SourceDocument,
        chunker: str,
        chunk_count: int,
        vector: np.ndarray,
        spans: list[Span],
    ) -> None:
        """Write the record that makes the document's current chunks visible."""
        ...

    def delete_document(self, source: str) -> None:
        """Remove the record: the document's chunks are hidden at once."""
        ...

    def count(self) -> int:
        """How many documents are committed."""
        ...


class ChunkRows(Protocol):
    """Chunks with their vectors, committed or not (the caller checks the records)."""

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

    def query(
        self, vector: np.ndarray, n: int, sources: list[str] | None = None
    ) -> list[tuple[Chunk, float]]:
        """The n nearest stored chunks (committed or not), best first, with cosine
        similarity."""
        ...

    def chunk_count(self) -> int:
        """How many chunks are stored."""
        ...


class SentenceRows(Protocol):
    """Each document version's sentence vectors."""

    def sentence_ids(self, source: str) -> set[str]:
        """Ids of every sentence vector stored for a source."""
        ...

    def sentence_vectors_by_context(self, source: str) -> dict[str, np.ndarray]:
        """Stored sentence vectors of a source by the key of the text they were read in."""
        ...

    def put_sentences(
        self, document: SourceDocument, spans: list[Span], vectors: np.ndarray, contexts: list[str]
    ) -> None:
        """Upsert a document version's sentences with their vectors, each with the key of
        the text it was read in."""
        ...

    def delete_sentences(self, ids: set[str]) -> None:
        """Remove sentence vectors."""
        ...

    def sentences(
        self,
        wanted: dict[tuple[str, str], list[tuple[int, int]]],
    ) -> dict[tuple[str, str], Sentences]:
        """For each committed document version, (source, content hash): its text, its
        sentences, and the vectors of those overlapping the character ranges given."""
        ...


class StoreUpkeep(Protocol):
    """What `rag doctor` reads and rewrites beyond the roles above."""

    def row_versions(self) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
        """Every chunk row's and every sentence row's (source, content hash), by id."""
        ...

    def outdated_records(self) -> list[str]:
        """The sources whose committed record is in an older form than the one written now."""
        ...

    def update_records(self, sources: list[str]) -> None:
        """Rewrite these sources' records in the current form, from their stored rows."""
        ...


class VectorStore(StoreLifecycle, DocumentRecords, ChunkRows, SentenceRows, StoreUpkeep, Protocol):
    """Where chunks, their vectors, documents and sentence vectors live: every role."""


def make_store(settings: StoreSettings, embedder_name: str, dimension: int) -> VectorStore:
    """The vector store the settings describe: Chroma, in their folder or on their server."""
    from rag.chroma import ChromaStore

    return ChromaStore(settings, embedder_name, dimension)


def claim(settings: StoreSettings) -> None:
    """Fail at once, before any work, if the store cannot be had: StoreBusy when another
    process holds the folder (which this process then holds until it exits), or
    StoreUnavailable when the server is silent."""
    from rag.chroma import claim as claim_chroma

    claim_chroma(settings)


def has_index(settings: StoreSettings) -> bool:
    """Whether there may be an index to open without creating one (cheap: no client). On a
    server, always: opening it says so when the server holds nothing."""
    from rag.chroma import folder_holds_store

    return bool(settings.url) or folder_holds_store(settings.path)
