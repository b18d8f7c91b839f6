"""The composition root: settings in, a Pipeline that ingests, searches and answers out."""

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rag.answering import Answerer, make_answerer
from rag.chunking import Chunker
from rag.embedding import Embedder, make_embedder
from rag.errors import InvalidQuestion
from rag.ingest import Progress, ingest
from rag.models import Answer, IngestReport, SearchHit, Timings
from rag.retrieval import Retriever
from rag.settings import Settings
from rag.store import ChromaStore, DocumentRecord


@dataclass
class Pipeline:
    """Everything a question needs, built once and passed in explicitly."""

    settings: Settings
    embedder: Embedder
    store: ChromaStore
    retriever: Retriever
    answerer: Answerer

    def ingest(self, paths: Iterable[Path], progress: Progress | None = None,
               rebuild: bool = False) -> IngestReport:
        """Index files and folders; with rebuild, drop the old index first."""
        if rebuild and self.store.exists:
            self.store.reset()
        chunker = Chunker(self.settings.chunking, self.embedder.count_tokens)
        return ingest(paths, store=self.store, embedder=self.embedder, chunker=chunker,
                      progress=progress)

    def search(self, query: str, top_k: int | None = None) -> list[SearchHit]:
        """The chunks nearest to the query, best first."""
        query = self.check_query(query)
        retrieved = self.retriever.retrieve(query, top_k or self.settings.retrieval.top_k)
        return [
            SearchHit(source=c.source, title=c.title, text=c.text, start=c.start, end=c.end,
                      score=round(s, 4))
            for c, s in retrieved.chunks
        ]

    def ask(self, question: str, top_k: int | None = None) -> Answer:
        """A short answer whose every sentence cites its passage, or a plain refusal."""
        question = self.check_query(question)
        began = time.perf_counter()
        retrieved = self.retriever.retrieve(question, top_k or self.settings.retrieval.top_k)
        retrieved_at = time.perf_counter()
        draft = self.answerer.answer(question, retrieved)
        done = time.perf_counter()
        return Answer(
            question=question, answer=draft.text, citations=draft.citations,
            refused=draft.refused, provider=self.answerer.name,
            timings=Timings(retrieve_ms=ms(retrieved_at - began), answer_ms=ms(done - retrieved_at),
                            total_ms=ms(done - began)),
        )

    def warm_up(self) -> None:
        """Load the model now, so the first question's timings measure answering only."""
        self.embedder.embed(["warm up"])

    def documents(self) -> list[DocumentRecord]:
        """The indexed documents."""
        return self.store.open(create=False).documents()

    def source_text(self, source: str) -> str | None:
        """The text a citation's offsets index into."""
        return self.store.open(create=False).document_text(source)

    def check_query(self, query: str) -> str:
        """The query without surrounding space; InvalidQuestion if empty or too long."""
        limit = self.settings.retrieval.max_query_chars
        if not isinstance(query, str) or not query.strip():
            raise InvalidQuestion("the question is empty")
        if len(query) > limit:
            raise InvalidQuestion(f"the question is {len(query)} characters long; the limit is {limit}")
        return query.strip()


def ms(seconds: float) -> float:
    """Seconds as milliseconds, rounded for reports."""
    return round(seconds * 1000, 1)


def build_pipeline(settings: Settings, embedder: Embedder | None = None) -> Pipeline:
    """Wire the parts the settings choose; an embedder may be shared between pipelines
    (tests, evals). The embedder loads its weights on first use, or at warm_up()."""
    embedder = embedder or make_embedder(settings.embedder)
    store = ChromaStore(settings.store, embedder.name, embedder.dimension)
    return Pipeline(settings=settings, embedder=embedder, store=store,
                    retriever=Retriever(embedder, store),
                    answerer=make_answerer(settings.llm, embedder))
