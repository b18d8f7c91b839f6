"""The Chroma store on disk: a chunk collection and a document collection beside it.

A document's record is written after its chunks and is the commit point: retrieval only
returns chunks whose content hash matches their document's record, so a reader never sees
a half-replaced document, and an interrupted ingest leaves the store usable.
"""

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import EmbedderMismatch, EmptyStore
from rag.models import Chunk, SourceDocument
from rag.settings import StoreSettings


class DocumentRecord(dict):
    """A stored document's metadata: source, title, content_hash, chunker, chunks, ingested_at."""


class ChromaStore:
    """Chunks and documents in a Chroma PersistentClient folder."""

    def __init__(self, settings: StoreSettings, embedder_name: str, dimension: int) -> None:
        self.path = Path(settings.path)
        self.name = settings.collection
        self.embedder_name = embedder_name
        self.dimension = dimension
        self._chunks = self._documents = None

    @property
    def exists(self) -> bool:
        """Whether anything was ever written here."""
        return index_exists(self.path)

    def open(self, *, create: bool) -> "ChromaStore":
        """Open (or create) both collections; EmbedderMismatch if built with another model."""
        if self._chunks is not None:
            return self
        if not create and not self.exists:
            raise EmptyStore(f"no index at {self.path}: run `rag ingest seeds/` first")
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        client = chromadb.PersistentClient(
            path=str(self.path), settings=ChromaSettings(anonymized_telemetry=False)
        )
        wanted = {"hnsw:space": "cosine", "embedder": self.embedder_name, "dimension": self.dimension}
        chunks = client.get_or_create_collection(self.name, metadata=wanted, embedding_function=None)
        stored = chunks.metadata or {}
        if (stored.get("embedder"), stored.get("dimension")) != (self.embedder_name, self.dimension):
            raise EmbedderMismatch(
                f"{self.path} was indexed with {stored.get('embedder')} "
                f"(dimension {stored.get('dimension')}), not {self.embedder_name} "
                f"(dimension {self.dimension}): re-index with `rag ingest --rebuild`",
                stored=str(stored.get("embedder")), current=self.embedder_name,
            )
        self._client = client
        self._chunks = chunks
        self._documents = client.get_or_create_collection(
            f"{self.name}-documents", metadata=wanted, embedding_function=None
        )
        return self

    def reset(self) -> None:
        """Drop both collections (for --rebuild): every document is indexed again."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        client = chromadb.PersistentClient(
            path=str(self.path), settings=ChromaSettings(anonymized_telemetry=False)
        )
        for name in (self.name, f"{self.name}-documents"):
            if name in {c.name for c in client.list_collections()}:
                client.delete_collection(name)
        self._chunks = self._documents = None

    # -- documents -------------------------------------------------------------------------

    def document(self, source: str) -> DocumentRecord | None:
        """The committed record of one source, or None."""
        got = self._documents.get(ids=[doc_id(source)], include=["metadatas"])
        return DocumentRecord(got["metadatas"][0]) if got["ids"] else None

    def document_text(self, source: str) -> str | None:
        """The text that a citation's offsets index into."""
        got = self._documents.get(ids=[doc_id(source)], include=["documents"])
        return got["documents"][0] if got["ids"] else None

    def documents(self) -> list[DocumentRecord]:
        """Every committed document, by source."""
        got = self._documents.get(include=["metadatas"])
        return sorted((DocumentRecord(m) for m in got["metadatas"]), key=lambda r: r["source"])

    def commit_document(self, document: SourceDocument, chunker: str, chunk_count: int,
                        vector: np.ndarray) -> None:
        """Write the record that makes the document's current chunks visible."""
        metadata = {
            "source": document.source, "title": document.title,
            "content_hash": document.content_hash, "chunker": chunker,
            "chunks": chunk_count, "ingested_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        metadata |= {k: v for k in ("author", "date") if (v := getattr(document, k))}
        self._documents.upsert(
            ids=[doc_id(document.source)], embeddings=[vector.tolist()],
            documents=[document.text], metadatas=[metadata],
        )

    # -- chunks ----------------------------------------------------------------------------

    def chunk_ids(self, source: str) -> set[str]:
        """Ids of every chunk stored for a source, committed or not."""
        return set(self._chunks.get(where={"source": source}, include=[])["ids"])

    def vectors_by_text(self, source: str) -> dict[str, np.ndarray]:
        """Stored embeddings of a source's chunks by their text, to reuse for unchanged text."""
        got = self._chunks.get(where={"source": source}, include=["documents", "embeddings"])
        return {t: np.asarray(v, dtype=np.float32) for t, v in zip(got["documents"], got["embeddings"])}

    def put_chunks(self, chunks: list[Chunk], vectors: np.ndarray, content_hash: str) -> None:
        """Upsert chunks with their spans; metadata is refreshed even when the text is not."""
        if not chunks:
            return
        self._chunks.upsert(
            ids=[c.id for c in chunks], embeddings=vectors.tolist(),
            documents=[c.text for c in chunks],
            metadatas=[chunk_metadata(c, content_hash) for c in chunks],
        )

    def delete_chunks(self, ids: set[str]) -> None:
        """Remove chunks that no longer belong to their document."""
        if ids:
            self._chunks.delete(ids=sorted(ids))

    def delete_document(self, source: str) -> int:
        """Forget a source: its record first (hiding it at once), then its chunks."""
        self._documents.delete(ids=[doc_id(source)])
        stale = self.chunk_ids(source)
        self.delete_chunks(stale)
        return len(stale)

    def count(self) -> int:
        """How many documents are committed."""
        return self._documents.count()

    def chunk_count(self) -> int:
        """How many chunks are stored."""
        return self._chunks.count()

    def query(self, vector: np.ndarray, n: int,
              sources: list[str] | None = None) -> list[tuple[Chunk, float]]:
        """The n nearest committed chunks (of the given sources only, if any), best first,
        with cosine similarity."""
        total = self._chunks.count()
        if total == 0 or self.count() == 0:
            raise EmptyStore(f"no documents indexed at {self.path}: run `rag ingest seeds/` first")
        where = {"source": {"$in": sources}} if sources else None
        got = self._chunks.query(
            query_embeddings=[vector.tolist()], n_results=min(n, total), where=where,
            include=["documents", "metadatas", "distances"],
        )
        rows = list(zip(got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0]))
        current = self._current_hashes({m["source"] for _, _, m, _ in rows})
        return [
            (chunk_from(i, text, meta), 1.0 - distance)
            for i, text, meta, distance in rows
            if current.get(meta["source"]) == meta["content_hash"]
        ]

    def _current_hashes(self, sources: set[str]) -> dict[str, str]:
        """Committed content hash per source."""
        if not sources:
            return {}
        got = self._documents.get(ids=[doc_id(s) for s in sources], include=["metadatas"])
        return {m["source"]: m["content_hash"] for m in got["metadatas"]}


def index_exists(path: Path) -> bool:
    """Whether a Chroma store was ever written at path (cheap: imports nothing)."""
    return (Path(path) / "chroma.sqlite3").is_file()


def doc_id(source: str) -> str:
    """A document record's id."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:32]


def chunk_metadata(chunk: Chunk, content_hash: str) -> dict[str, Any]:
    """Chroma metadata for a chunk (Chroma stores no None values)."""
    meta = {"source": chunk.source, "title": chunk.title, "start": chunk.start,
            "end": chunk.end, "content_hash": content_hash}
    return meta | {k: v for k in ("author", "date") if (v := getattr(chunk, k))}


def chunk_from(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    """A Chunk back from Chroma's row."""
    return Chunk(id=chunk_id, text=text, source=meta["source"], title=meta["title"],
                 start=meta["start"], end=meta["end"], author=meta.get("author"),
                 date=meta.get("date"))
