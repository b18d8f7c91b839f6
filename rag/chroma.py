"""The VectorStore in Chroma: three collections, for chunks, document records (the commit
points) and sentence vectors; in a folder this process opens itself (embedded, one process
at a time: rag/locking.py), or on a Chroma server that many processes share."""

import logging
import threading
import time
import weakref
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from rag import locking
from rag.chroma_rows import (
    BATCH,
    SPANS,
    SharedLRU,
    by_text,
    chunk_metadata,
    chunks_in,
    encode_bounds,
    record_metadata,
    record_of,
    rows_bounds,
    vectors_by_id,
    version_where,
    versions_of,
)
from rag.chroma_sentences import ChromaSentences
from rag.errors import EmbedderMismatch, EmptyStore, StoreUnavailable
from rag.models import Chunk, SourceDocument
from rag.records import (
    DocumentRecord,
    bounds_of,
    chunk_from,
    doc_id,
)
from rag.settings import StoreSettings
from rag.text import Span

log = logging.getLogger(__name__)

STORE_FILE = "chroma.sqlite3"  # what an embedded Chroma folder holds once written
CACHED_DOCUMENTS = 512  # document versions whose text and sentence bounds are kept in memory
CACHED_SENTENCES = 20_000  # sentence vectors kept in memory (an id names one version's span)
CACHED_VECTORS = 20_000  # chunk vectors kept in memory (an id names one text: never stale)
# How long a document's committed version is taken as known without asking Chroma again:
# a commit by another process is seen this much later at most (this process's own commits
# at once). A look-up costs about 3 ms of every search.
COMMITTED_TTL = 1.0


class ChromaStore(ChromaSentences):
    """Chunks, documents and sentences in one Chroma folder, or on a Chroma server."""

    def __init__(self, settings: StoreSettings, embedder_name: str, dimension: int) -> None:
        self.path = Path(settings.path)
        self.url = settings.url.rstrip("/") if settings.url else None
        self.headers = {k: v.get_secret_value() for k, v in settings.headers.items()}
        self.name = settings.collection
        self.embedder_name = embedder_name
        self.dimension = dimension
        self._chunks = self._documents = self._sentences = None
        self._documents_read = SharedLRU(CACHED_DOCUMENTS)  # (source, hash): (text, bounds)
        self._sentence_vectors = SharedLRU(CACHED_SENTENCES)  # sentence id: vector
        self._vectors = SharedLRU(CACHED_VECTORS)  # chunk id: vector
        self._committed_lock = threading.Lock()
        self._committed: dict[str, tuple[str | None, float]] = {}  # source: (hash, when read)
        self._client = None
        self._release = None  # drops this object's share of the folder's lock (embedded mode)

    @property
    def where(self) -> str:
        """The folder or the server, for messages."""
        return self.url or str(self.path)

    @property
    def exists(self) -> bool:
        """Whether anything was ever written here."""
        if self.url is None:
            return folder_holds_store(self.path)
        return self.collection_names()[0] in {c.name for c in self.client().list_collections()}

    def client(self):  # noqa: ANN201 - chromadb is imported lazily
        """This store's client: on the server, or on the folder once this process holds
        its lock (StoreBusy when another process does)."""
        if self._client is not None:
            return self._client
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        options = ChromaSettings(anonymized_telemetry=False)
        if self.url is None:
            held = locking.hold(self.path)
            try:
                self._client = chromadb.PersistentClient(path=str(self.path), settings=options)
            except BaseException:
                locking.release(held)
                raise
            self._release = weakref.finalize(self, let_go, self._client, held)
            return self._client
        address = urlsplit(self.url)
        try:
            self._client = chromadb.HttpClient(
                host=address.hostname,
                port=address.port or (443 if address.scheme == "https" else 80),
                ssl=address.scheme == "https",
                headers=self.headers,
                settings=options,
            )
        except Exception as exc:  # noqa: BLE001 - chromadb raises ValueError, httpx errors, ...
            raise StoreUnavailable(
                f"no Chroma server answers at {self.url} ({exc}): start "
                "one with `chroma run --path DIR` or check RAG_STORE__URL"
            ) from None
        return self._client

    def close(self) -> None:
        """Let go of the store (and of the folder's lock, once no other store object of
        this process holds it); it opens again on the next use, reading the folder afresh."""
        self._chunks = self._documents = self._sentences = self._client = None
        if self._release is not None:
            self._release()
            self._release = None

    def collection_names(self) -> tuple[str, str, str]:
        """The chunk, document and sentence collections' names."""
        return self.name, f"{self.name}-documents", f"{self.name}-sentences"

    def open(self, *, create: bool) -> "ChromaStore":
        """Open (or create) the collections; EmbedderMismatch if built with another model."""
        if self._chunks is not None:
            return self
        if not create and not self.exists:
            raise EmptyStore(f"no index at {self.where}: run `rag ingest seeds/` first")
        client = self.client()
        wanted = {
            "hnsw:space": "cosine",
            "embedder": self.embedder_name,
            "dimension": self.dimension,
        }
        chunks_name, documents_name, sentences_name = self.collection_names()
        chunks = client.get_or_create_collection(
            chunks_name, metadata=wanted, embedding_function=None
        )
        stored = chunks.metadata or {}
        if (stored.get("embedder"), stored.get("dimension")) != (
            self.embedder_name,
            self.dimension,
        ):
            raise EmbedderMismatch(
                f"{self.where} was indexed with {stored.get('embedder')} "
                f"(dimension {stored.get('dimension')}), not {self.embedder_name} "
                f"(dimension {self.dimension}): re-index with `rag ingest --rebuild`",
                stored=str(stored.get("embedder")),
                current=self.embedder_name,
            )
        self._documents = client.get_or_create_collection(
            documents_name, metadata=wanted, embedding_function=None
        )
        self._sentences = client.get_or_create_collection(
            sentences_name, metadata=wanted, embedding_function=None
        )
        self._chunks = chunks
        return self

    def reset(self) -> None:
        """Drop every collection (for --rebuild): every document is indexed again."""
        client = self.client()
        present = {c.name for c in client.list_collections()}
        for name in self.collection_names():
            if name in present:
                client.delete_collection(name)
        self._chunks = self._documents = self._sentences = None
        self._documents_read.clear()
        self._sentence_vectors.clear()
        self._vectors.clear()
        with self._committed_lock:
            self._committed.clear()

    # -- documents -------------------------------------------------------------------------

    def document(self, source: str) -> DocumentRecord | None:
        """The committed record of one source, or None."""
        got = self._documents.get(ids=[doc_id(source)], include=["metadatas"])
        return record_of(got["metadatas"][0]) if got["ids"] else None

    def document_text(self, source: str) -> str | None:
        """The text that a citation's offsets index into."""
        got = self._documents.get(ids=[doc_id(source)], include=["documents"])
        return got["documents"][0] if got["ids"] else None

    def documents(self) -> list[DocumentRecord]:
        """Every committed document, by source."""
        got = self._documents.get(include=["metadatas"])
        return sorted((record_of(m) for m in got["metadatas"]), key=lambda r: r["source"])

    def committed_hashes(self, sources: set[str]) -> dict[str, str]:
        """Committed content hash per source (as read at most COMMITTED_TTL ago)."""
        now = time.monotonic()
        with self._committed_lock:
            known = {s: self._committed.get(s, (None, -COMMITTED_TTL)) for s in sources}
        stale = [s for s, (_, when) in known.items() if now - when >= COMMITTED_TTL]
        if stale:
            got = self._documents.get(ids=[doc_id(s) for s in stale], include=["metadatas"])
            read = dict.fromkeys(stale) | {m["source"]: m["content_hash"] for m in got["metadatas"]}
            with self._committed_lock:
                self._committed |= {s: (h, now) for s, h in read.items()}
            known |= {s: (h, now) for s, h in read.items()}
        return {s: h for s, (h, _) in known.items() if h is not None}

    def forget_committed(self, source: str) -> None:
        """Drop what is known of a source's committed version (this process changed it)."""
        with self._committed_lock:
            self._committed.pop(source, None)

    def commit_document(
        self,
        document: SourceDocument,
        chunker: str,
        chunk_count: int,
        vector: np.ndarray,
        spans: list[Span],
    ) -> None:
        """Write the record that makes the document's current chunks visible, with where its
        sentences lie."""
        metadata = record_metadata(
            document,
            chunker,
            chunk_count,
            bounds_of(spans),
            datetime.now(UTC).isoformat(timespec="seconds"),
        )
        self._documents.upsert(
            ids=[doc_id(document.source)],
            embeddings=[vector.tolist()],
            documents=[document.text],
            metadatas=[metadata],
        )
        self.forget_committed(document.source)

    def delete_document(self, source: str) -> None:
        """Remove the record: the document's chunks are hidden at once."""
        self._documents.delete(ids=[doc_id(source)])
        self.forget_committed(source)

    def count(self) -> int:
        """How many documents are committed."""
        return self._documents.count()

    # -- chunks ----------------------------------------------------------------------------

    def chunk_ids(self, source: str | None = None) -> set[str]:
        """Ids of every chunk stored (for one source, if given), committed or not."""
        where = {"source": source} if source is not None else None
        return set(self._chunks.get(where=where, include=[])["ids"])

    def chunks(self, ids: list[str]) -> list[Chunk]:
        """The stored chunks with these ids."""
        found = []
        for at in range(0, len(ids), BATCH):
            found += chunks_in(
                self._chunks.get(ids=ids[at : at + BATCH], include=["documents", "metadatas"])
            )
        return found

    def chunk_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """The stored vectors of these chunks, by id (the CACHED_VECTORS last read are
        kept: the same chunks come back question after question)."""
        return vectors_by_id(self._chunks, self._vectors, ids)

    def source_chunks(self, sources: list[str]) -> list[Chunk]:
        """Every stored chunk of these sources, committed or not."""
        return chunks_in(
            self._chunks.get(where={"source": {"$in": sources}}, include=["documents", "metadatas"])
        )

    def vectors_by_text(self, source: str) -> dict[str, np.ndarray]:
        """Stored embeddings of a source's chunks by their text, to reuse for unchanged text."""
        return by_text(self._chunks, source)

    def put_chunks(self, chunks: list[Chunk], vectors: np.ndarray) -> None:
        """Upsert chunks with their spans; metadata is refreshed even when the text is not."""
        for at in range(0, len(chunks), BATCH):
            part = chunks[at : at + BATCH]
            self._chunks.upsert(
                ids=[c.id for c in part],
                embeddings=vectors[at : at + BATCH],
                documents=[c.text for c in part],
                metadatas=[chunk_metadata(c) for c in part],
            )

    def delete_chunks(self, ids: set[str]) -> None:
        """Remove chunks that no longer belong to their document."""
        if ids:
            self._chunks.delete(ids=sorted(ids))

    def chunk_count(self) -> int:
        """How many chunks are stored."""
        return self._chunks.count()

    def query(
        self, vector: np.ndarray, n: int, sources: list[str] | None = None
    ) -> list[tuple[Chunk, float]]:
        """The n nearest stored chunks (of the given sources only, if any), best first,
        with cosine similarity; committed or not (the caller filters). EmptyStore when
        nothing is indexed (counted only then: a count costs as much as the query)."""
        where = {"source": {"$in": sources}} if sources else None
        got = self._chunks.query(
            query_embeddings=[vector.tolist()],
            n_results=n,
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        if not got["ids"][0] and self.count() == 0:
            raise EmptyStore(f"no documents indexed at {self.where}: run `rag ingest seeds/` first")
        return [
            (chunk_from(i, text, meta), 1.0 - distance)
            for i, text, meta, distance in zip(
                got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0]
            )
        ]

    def row_versions(self) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
        """Every chunk row's and every sentence row's (source, content hash), by id, read a
        page at a time (for `rag doctor`)."""
        return versions_of(self._chunks), versions_of(self._sentences)

    def outdated_records(self) -> list[str]:
        """The sources whose record does not say where its sentences lie (written before
        that was kept)."""
        got = self._documents.get(include=["metadatas"])
        return sorted(m["source"] for m in got["metadatas"] if SPANS not in m)

    def update_records(self, sources: list[str]) -> None:
        """Add to these records where their version's sentences lie, as its stored sentence
        rows place them (the bounds a search then reads those rows by)."""
        for source in sources:
            if (record := self.document(source)) is not None:
                got = self._sentences.get(
                    where=version_where(source, record["content_hash"]), include=["metadatas"]
                )
                self._documents.update(
                    ids=[doc_id(source)],
                    metadatas=[{SPANS: encode_bounds(rows_bounds(got["metadatas"]))}],
                )


def let_go(client, held: locking.Hold) -> None:  # noqa: ANN001 - a chromadb client
    """Close an embedded store's client, then its folder's lock (on close, or when the store
    object is collected). Chroma keeps a folder's segments loaded per process until its last
    client closes; kept, they would hide (or break on) what another process wrote since."""
    client.close()
    locking.release(held)


def claim(settings: StoreSettings) -> None:
    """Fail at once, before any work, if the store cannot be had: take an embedded folder's
    lock for the rest of this process (StoreBusy when another process has it), or check
    that the Chroma server answers (StoreUnavailable)."""
    store = ChromaStore(settings, "", 0)
    if settings.url:
        store.client().heartbeat()
    else:
        locking.hold(store.path)


def folder_holds_store(path: Path) -> bool:
    """Whether an embedded store was ever written in this folder (cheap: no client)."""
    return (Path(path) / STORE_FILE).is_file()
