"""ChromaStore's rows: how chunks and document records sit in Chroma's metadata, the reads
several of its collections share, and the thread-safe caches in front of them."""

import threading
from typing import Any

import numpy as np
from cachetools import LRUCache

from rag.models import Chunk, SourceDocument
from rag.records import DocumentRecord, chunk_from

BATCH = 4000  # rows per Chroma read or write (its limit is about 5,000)
SPANS = "sentence_spans"  # the document record's key for where its sentences lie
NO_BOUNDS = np.zeros((0, 2), dtype=np.int64)


class SharedLRU:
    """The `maxsize` most recently used entries of a mapping whose values never go stale,
    safe to share between threads (an LRUCache alone is not: a read reorders it)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._entries: LRUCache = LRUCache(maxsize)
        self._lock = threading.Lock()

    def get(self, keys: list) -> dict:
        """The entries held for these keys, now counted as the most recently used."""
        with self._lock:
            return {k: self._entries[k] for k in keys if k in self._entries}

    def put(self, entries: dict) -> None:
        """Keep these entries, dropping the least recently used past maxsize."""
        with self._lock:
            self._entries.update(entries)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()


def chunk_metadata(chunk: Chunk) -> dict[str, Any]:
    """A chunk's metadata as Chroma keeps it (no None values: Chroma stores none)."""
    meta = {
        "source": chunk.source,
        "title": chunk.title,
        "start": chunk.start,
        "end": chunk.end,
        "content_hash": chunk.content_hash,
    }
    return meta | {k: v for k in ("author", "date") if (v := getattr(chunk, k))}


def record_metadata(
    document: SourceDocument, chunker: str, chunk_count: int, bounds: np.ndarray, ingested_at: str
) -> dict[str, Any]:
    """A document record's metadata, with where its sentences lie (so a search need not
    cut the text again)."""
    metadata = {
        "source": document.source,
        "title": document.title,
        "content_hash": document.content_hash,
        "chunker": chunker,
        "chunks": chunk_count,
        "ingested_at": ingested_at,
        SPANS: encode_bounds(bounds),
    }
    return metadata | {k: v for k in ("author", "date", "url") if (v := getattr(document, k))}


def record_of(metadata: dict) -> DocumentRecord:
    """A document's record as callers see it (without its sentence bounds)."""
    return DocumentRecord({k: v for k, v in metadata.items() if k != SPANS})


def record_bounds(metadata: dict) -> np.ndarray | None:
    """Where a record's sentences lie, or None for a record written before that was kept
    (`rag doctor` rewrites those)."""
    return decode_bounds(metadata[SPANS]) if SPANS in metadata else None


def encode_bounds(bounds: np.ndarray) -> str:
    """Where sentences lie, as Chroma can keep it in metadata: "start end start end ..."."""
    return " ".join(str(b) for b in bounds.ravel().tolist())


def decode_bounds(encoded: str) -> np.ndarray:
    """The bounds that encode_bounds wrote, a row of start and end per sentence."""
    return np.array(encoded.split(), dtype=np.int64).reshape(-1, 2)


def rows_bounds(metadatas: list[dict]) -> np.ndarray:
    """Where sentence rows lie, in order, from their metadata."""
    pairs = sorted((m["start"], m["end"]) for m in metadatas)
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def version_where(source: str, content_hash: str) -> dict:
    """The filter for one document version's rows."""
    return {"$and": [{"source": source}, {"content_hash": content_hash}]}


def chunks_in(got: dict) -> list[Chunk]:
    """The chunks of a Chroma `get` that included their documents and metadatas."""
    return [chunk_from(i, t, m) for i, t, m in zip(got["ids"], got["documents"], got["metadatas"])]


def vectors_by_id(collection, held: SharedLRU, ids: list[str]) -> dict[str, np.ndarray]:  # noqa: ANN001
    """The stored vectors of these rows of a collection, by id: those held, and the rest in
    one read (then held too); ids with no row are left out."""
    found = held.get(ids)
    if missing := [i for i in ids if i not in found]:
        got = collection.get(ids=missing, include=["embeddings"])
        read = {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"])}
        held.put(read)
        found |= read
    return found


def by_text(collection, source: str) -> dict[str, np.ndarray]:  # noqa: ANN001 - a Chroma collection
    """A source's stored vectors in a collection, by their text."""
    got = collection.get(where={"source": source}, include=["documents", "embeddings"])
    return {t: np.asarray(v, dtype=np.float32) for t, v in zip(got["documents"], got["embeddings"])}


def versions_of(collection) -> dict[str, tuple[str, str]]:  # noqa: ANN001 - a Chroma collection
    """Each row's (source, content hash), by id, a page of BATCH rows at a time."""
    found, offset = {}, 0
    while True:
        page = collection.get(include=["metadatas"], limit=BATCH, offset=offset)
        if not page["ids"]:
            return found
        found |= {
            i: (m["source"], m["content_hash"]) for i, m in zip(page["ids"], page["metadatas"])
        }
        offset += len(page["ids"])
