"""The baselines every report can show beside ours. The naive LlamaIndex pipeline:
VectorStoreIndex with its default 1024-token SentenceSplitter, the same embedder, top-k 5.
BM25 alone: our keyword index over our own chunks, nothing else. Neither has an answer
model: the answer is the best chunk, quoted whole and cited once."""

import time
from pathlib import Path

from llama_index.core import Document, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.node_parser import SentenceSplitter
from pydantic import PrivateAttr

from rag.answering.draft import REFUSAL
from rag.embedding import Embedder
from rag.loading import discover, load
from rag.models import Answer, Citation, SearchHit, Timings
from rag.pipeline import Pipeline
from rag.sources import as_hits

TOP_K = 5


class SharedEmbedding(BaseEmbedding):
    """Our embedder seen through LlamaIndex's embedding interface (so both use one model)."""

    _embedder: Embedder = PrivateAttr()

    def __init__(self, embedder: Embedder) -> None:
        super().__init__(model_name=embedder.name, embed_batch_size=32)
        self._embedder = embedder

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed([query])[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed(texts).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


class NaiveLlamaIndex:
    """Built in memory from the same corpus; answers and searches like our pipeline."""

    name = "llamaindex-naive"

    def __init__(self, corpus: Path, embedder: Embedder) -> None:
        files, _ = discover(corpus)
        documents = []
        for file in files:
            doc = load(file)
            documents.append(
                Document(
                    text=doc.text,
                    id_=doc.source,
                    metadata={"source": doc.source, "title": doc.title},
                )
            )
        self.index = VectorStoreIndex.from_documents(
            documents,
            embed_model=SharedEmbedding(embedder),
            transformations=[SentenceSplitter()],  # its defaults: 1024 tokens, 200 overlap
        )
        self.retriever = self.index.as_retriever(similarity_top_k=TOP_K)

    def search(self, query: str, top_k: int = TOP_K) -> list[SearchHit]:
        """The retriever's nodes as hits, with their character spans."""
        return [
            SearchHit(
                source=n.node.metadata["source"],
                title=n.node.metadata["title"],
                text=n.node.get_content(),
                start=n.node.start_char_idx or 0,
                end=n.node.end_char_idx or 0,
                score=round(n.score or 0.0, 4),
            )
            for n in self.retriever.retrieve(query)[:top_k]
        ]

    def ask(self, question: str) -> Answer:
        """The best chunk, quoted whole; never refuses."""
        return best_chunk_answer(self, question)


class Bm25Only:
    """Our keyword index alone, over the same chunks as our pipeline."""

    name = "bm25-only"

    def __init__(self, pipeline: Pipeline) -> None:
        self.index = pipeline.index.open(create=False)

    def search(self, query: str, top_k: int = TOP_K) -> list[SearchHit]:
        """The committed chunks with the best BM25 scores."""
        (found,) = self.index.current(self.index.keywords.search(query, top_k * 4))
        return as_hits(found[:top_k])

    def ask(self, question: str) -> Answer:
        """The best chunk, quoted whole; refuses only when no word matches."""
        return best_chunk_answer(self, question)


def best_chunk_answer(baseline: NaiveLlamaIndex | Bm25Only, question: str) -> Answer:
    """A baseline's answer: its best chunk quoted whole and cited once."""
    began = time.perf_counter()
    hits = baseline.search(question)
    elapsed = round((time.perf_counter() - began) * 1000, 1)
    timings = Timings(retrieve_ms=elapsed, total_ms=elapsed)
    if not hits:
        return Answer(
            question=question, answer=REFUSAL, refused=True, provider=baseline.name, timings=timings
        )
    best = hits[0]
    citation = Citation(
        index=1,
        source=best.source,
        title=best.title,
        quote=best.text,
        start=best.start,
        end=best.end,
        score=best.score,
    )
    return Answer(
        question=question,
        answer=f"{best.text} [1]",
        citations=[citation],
        provider=baseline.name,
        timings=timings,
    )
