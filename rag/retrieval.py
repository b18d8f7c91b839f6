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


class Retriever:
    """Embeds the query and asks the store for its nearest chunks."""

    def __init__(self, embedder: Embedder, store: ChromaStore) -> None:
        self.embedder = embedder
        self.store = store

    def retrieve(self, query: str, top_k: int) -> Retrieved:
        """The top_k committed chunks nearest to the query."""
        vector = self.embedder.embed([query])[0]
        return Retrieved(query, vector, self.store.open(create=False).query(vector, top_k))
