"""The two indexes a question searches, kept in step: the vector store (chunks by meaning,
documents, sentence vectors) and the keyword index beside it (chunks by their words)."""

import threading
from dataclasses import dataclass, field

from rag.keywords import KeywordIndex, KeywordMirror, KeywordStore
from rag.models import Chunk
from rag.settings import StoreSettings
from rag.store import VectorStore, make_store

Ranked = list[tuple[Chunk, float]]  # chunks with their scores, best first


@dataclass
class Index:
    """A vector store and its keyword index; opening brings the keyword index in step."""

    store: VectorStore
    keywords: KeywordStore
    _synced: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def exists(self) -> bool:
        """Whether anything was ever indexed here."""
        return self.store.exists

    def open(self, *, create: bool) -> "Index":
        """Open the vector store (EmptyStore or EmbedderMismatch as it says), and once per
        process rebuild the keyword index from it where it is missing or out of step."""
        self.store.open(create=create)
        with self._lock:
            if not self._synced:
                self.keywords.sync(self.store)
                self._synced = True
        return self

    def current(self, *ranked: Ranked) -> list[Ranked]:
        """Each ranking with only the chunks of their document's committed version (a
        half-replaced document's new chunks, and an interrupted ingest's, are never seen);
        one look-up of the committed versions serves every ranking."""
        committed = self.store.committed_hashes({c.source for found in ranked for c, _ in found})
        return [
            [(c, s) for c, s in found if committed.get(c.source) == c.content_hash]
            for found in ranked
        ]

    def reset(self) -> None:
        """Drop both indexes (for --rebuild)."""
        self.store.reset()
        self.keywords.reset()
        self._synced = False

    def close(self) -> None:
        """Let go of the store (an embedded folder's lock with it); it opens again on the
        next use."""
        self.store.close()
        with self._lock:
            self._synced = False


def make_index(settings: StoreSettings, embedder_name: str, dimension: int) -> Index:
    """The vector store the settings describe, with its keyword index: in its folder, or
    with a Chroma server, this process's own copy following the server."""
    store = make_store(settings, embedder_name, dimension)
    if settings.url:
        return Index(store, KeywordMirror(store))
    return Index(store, KeywordIndex(settings.path))
