"""What searches the articles: the library's Pipeline, or the client of a server that
holds the store (cli/remote.py). The terminal's Service and the LlamaIndex retriever both
take it."""

from typing import Protocol

from rag.filters import Filters
from rag.models import SearchHit


class Searcher(Protocol):
    """The best chunks for a query, as Pipeline.search finds them."""

    def search(
        self,
        query: str,
        *,
        top_k: int | None = None,
        filters: Filters | None = None,
        rerank: bool | None = None,
    ) -> list[SearchHit]:
        """The best chunks for the query, best first."""
        ...
