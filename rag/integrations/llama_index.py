"""Our hybrid retrieval as a LlamaIndex retriever: drop `RagNewsRetriever` into a
`RetrieverQueryEngine` (or anything that takes a `BaseRetriever`) and its source nodes are
our passages, each with its source, title and character offsets into the document's text.

    from llama_index.core.query_engine import RetrieverQueryEngine
    from rag.integrations.llama_index import RagNewsRetriever

    engine = RetrieverQueryEngine.from_args(RagNewsRetriever.from_settings(), llm=your_llm)
"""

from typing import Self

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import (
    NodeRelationship,
    NodeWithScore,
    QueryBundle,
    RelatedNodeInfo,
    TextNode,
)

from rag.filters import Filters
from rag.models import SearchHit
from rag.searching import Searcher
from rag.settings import Settings, load_settings

# Offsets help whoever checks a quote, not the model that reads the passage.
OFFSETS = ["start", "end"]


class RagNewsRetriever(BaseRetriever):
    """The chunks our hybrid retrieval finds (re-ranked by the reader when asked), as
    LlamaIndex nodes: `node.text == document_text[start:end]`, with `source`, `title`,
    `start` and `end` in the metadata and the document as the node's source. Scores are
    those the hits are ranked by."""

    def __init__(
        self,
        searcher: Searcher,
        *,
        top_k: int | None = None,
        filters: Filters | None = None,
        rerank: bool | None = None,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        super().__init__(callback_manager=callback_manager)
        self.searcher = searcher
        self.top_k, self.filters, self.rerank = top_k, filters, rerank

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **options: object) -> Self:
        """Over the store the settings (RAG_* variables when not given) name, its embedder
        loaded now."""
        from rag.pipeline import build_pipeline  # the models, only when asked for

        pipeline = build_pipeline(settings or load_settings())
        pipeline.warm_up(answering=bool(options.get("rerank")))
        return cls(pipeline, **options)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self.searcher.search(
            query_bundle.query_str, top_k=self.top_k, filters=self.filters, rerank=self.rerank
        )
        return [NodeWithScore(node=as_node(hit), score=ranked_by(hit)) for hit in hits]


def ranked_by(hit: SearchHit) -> float:
    """The score the hits are in order of: the reader's logit in a re-ranked search, else
    the retrieval score (rag/models.py, SearchHit)."""
    return hit.score if hit.reader_score is None else hit.reader_score


def as_node(hit: SearchHit) -> TextNode:
    """One passage as a node whose id names where it lies."""
    return TextNode(
        id_=f"{hit.source}:{hit.start}-{hit.end}",
        text=hit.text,
        start_char_idx=hit.start,
        end_char_idx=hit.end,
        metadata={"source": hit.source, "title": hit.title, "start": hit.start, "end": hit.end},
        excluded_llm_metadata_keys=OFFSETS,
        excluded_embed_metadata_keys=OFFSETS,
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=hit.source)},
    )
