"""Dense retrieval from the store, with the query's vector kept for the answerer."""

from dataclasses import dataclass

import numpy as np

from rag.embedding import Embedder
from rag.models import Chunk
from rag.store import ChromaStore


@dataclass
class Retrieved:
    """The chunks found for a query, best first, and the query's own vector."""

    query: str
    vector: np.ndarray
    chunks: list[tuple[Chunk, float]]
    focus: str | None = None  # in a follow-up, what this turn itself asked


class Retriever:
    """Embeds the query and asks the store for its nearest chunks."""

    def __init__(self, embedder: Embedder, store: ChromaStore) -> None:
        self.embedder = embedder
        self.store = store

    def retrieve(self, query: str, top_k: int, sources: list[str] | None = None,
                 focus: str | None = None) -> Retrieved:
        """The top_k committed chunks nearest to the query, from the given sources if any."""
        vector = self.embedder.embed([query])[0]
        chunks = self.store.open(create=False).query(vector, top_k, sources)
        return Retrieved(query, vector, chunks, focus if focus != query else None)
