"""The composition root: settings in, a Pipeline that ingests, searches and answers out."""

import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rag.answering import make_answerer
from rag.answering.draft import Answerer
from rag.chunking import Chunker
from rag.conversation import Turn, standalone_question
from rag.embedding import Embedder, make_embedder
from rag.errors import InvalidQuestion, Overloaded, ReaderOff, SourceError, UnknownDocument
from rag.events import AnswerEvent, Cited, Finished, Token
from rag.filters import Filters, matching_sources
from rag.index import Index, make_index
from rag.ingest import (
    FileDone,
    index_document,
    ingest,
    ingest_feed,
    ingest_pages,
    remove_document,
)
from rag.loading import check_source_name, parse
from rag.models import Answer, IngestReport, SearchHit, Timings
from rag.records import DocumentRecord
from rag.retrieval import Retrieved, Retriever
from rag.settings import Settings
from rag.sources import as_hits, in_context
from rag.timing import Stages

if TYPE_CHECKING:
    from rag.answering.evidence import BudgetedReader
    from rag.llm.llamacpp import ModelState


@dataclass
class Pipeline:
    """Everything a question needs, built once and passed in explicitly."""

    settings: Settings
    embedder: Embedder
    index: Index
    retriever: Retriever
    answerer: Answerer
    reader: "BudgetedReader | None" = None  # reads for the answerers and re-ranking (RAG_READER__*)
    _answerers: dict[str, Answerer] = field(default_factory=dict)
    _writing: threading.Lock = field(default_factory=threading.Lock)
    _building: threading.Lock = field(default_factory=threading.Lock)
    _answering: threading.BoundedSemaphore = field(init=False)

    def __post_init__(self) -> None:
        self._answering = threading.BoundedSemaphore(self.settings.llm.max_concurrent)

    def answerer_for(self, provider: str | None) -> Answerer:
        """The configured answerer, or another provider's, built once on first use (once
        however many requests ask for it at the same moment: a local model is large)."""
        if not provider or provider == self.answerer.name:
            return self.answerer
        with self._building:
            if provider not in self._answerers:
                self._answerers[provider] = make_answerer(
                    provider, self.settings.llm, self.embedder, self.reader
                )
            return self._answerers[provider]

    def ingest(
        self,
        paths: Iterable[Path],
        progress: FileDone | None = None,
        rebuild: bool = False,
        stop: threading.Event | None = None,
        stages: Stages | None = None,
    ) -> IngestReport:
        """Index files and folders; with rebuild, drop the old index first. Once `stop` is
        set, the file at hand is finished and the run ends (rag/ingest.py)."""
        with self._writing:
            return ingest(
                paths,
                index=self.index,
                embedder=self.embedder,
                chunker=self.chunker(),
                progress=progress,
                rebuild=rebuild,
                stop=stop,
                stages=stages,
            )

    def ingest_pages(self, urls: list[str], progress: FileDone | None = None) -> IngestReport:
        """Fetch and index the article at each URL (rag/web.py); other writers wait only
        while a page is written, not while it is fetched."""
        return ingest_pages(
            urls,
            index=self.index,
            embedder=self.embedder,
            chunker=self.chunker(),
            settings=self.settings.ingest,
            progress=progress,
            writing=self._writing,
        )

    def ingest_feed(self, feed: str, progress: FileDone | None = None) -> IngestReport:
        """Index an RSS or Atom feed's new entries (a file or a URL); other writers wait
        only while an entry is written, not while it is fetched."""
        return ingest_feed(
            feed,
            index=self.index,
            embedder=self.embedder,
            chunker=self.chunker(),
            settings=self.settings.ingest,
            progress=progress,
            writing=self._writing,
        )

    def chunker(self) -> Chunker:
        """The chunker the settings describe, measuring in this embedder's word pieces."""
        return Chunker(self.settings.chunking, self.embedder.count_tokens)

    def add_document(self, source: str, raw: bytes) -> tuple[str, int]:
        """Index one uploaded file (or text) under a plain file name; an unchanged one
        changes nothing, a changed one replaces its chunks at once. Returns (outcome, chunks)."""
        return self.add_documents([(source, raw)])[0]

    def add_documents(self, files: list[tuple[str, bytes]]) -> list[tuple[str, int]]:
        """Index uploaded files, all of them checked first: one bad name or body refuses
        the upload before anything is written. Returns (outcome, chunks) per file."""
        documents = [parse(check_source_name(name), raw) for name, raw in files]
        repeated = sorted(n for n, k in Counter(d.source for d in documents).items() if k > 1)
        if repeated:
            raise SourceError(
                f"the upload names {', '.join(repeated)} more than once", path=repeated[0]
            )
        results = []
        with self._writing:
            self.index.open(create=True)
            for document in documents:
                outcome, _, _ = index_document(
                    document, index=self.index, embedder=self.embedder, chunker=self.chunker()
                )
                results.append((outcome, int(self.index.store.document(document.source)["chunks"])))
        return results

    def document(self, source: str) -> DocumentRecord:
        """One indexed document's record; UnknownDocument if there is none."""
        record = self.index.open(create=True).store.document(source)
        if record is None:
            raise unknown(source)
        return record

    def document_text(self, source: str) -> tuple[DocumentRecord, str]:
        """One indexed document's record and the text its citations index into;
        UnknownDocument if there is none (or it was deleted between the two reads)."""
        record = self.document(source)
        text = self.source_text(source)
        if text is None:
            raise unknown(source)
        return record, text

    def delete_document(self, source: str) -> int:
        """Forget a document; returns how many chunks went with it."""
        self.document(source)
        with self._writing:
            return remove_document(source, index=self.index)

    def search(
        self,
        query: str,
        *,
        top_k: int | None = None,
        filters: Filters | None = None,
        rerank: bool | None = None,
    ) -> list[SearchHit]:
        """The chunks that best match the query (in the documents the filters allow, if
        any), best first; re-ranked by the reader when asked (RAG_READER__RERANK when not
        said)."""
        query = self.check_query(query)
        retrieved = self.retrieve(query, top_k, self.sources_for(filters), rerank=rerank)
        return as_hits(retrieved.chunks, retrieved.reader_scores)

    def retrieve(
        self,
        query: str,
        top_k: int | None,
        sources: list[str] | None,
        focus: str | None = None,
        rerank: bool | None = None,
    ) -> Retrieved:
        """The retriever's top_k chunks; with rerank, the reader reads the first
        RAG_READER__PASSAGES (or top_k, if more) whole with the query (in a follow-up, with
        what the turn itself asked) and the best top_k by its score are kept, in its order."""
        top_k = top_k or self.settings.retrieval.top_k
        if not (self.settings.reader.rerank if rerank is None else rerank):
            return self.retriever.retrieve(query, top_k, sources, focus)
        if self.reader is None:
            raise ReaderOff(
                "rerank needs the reader, and this service runs without it "
                "(RAG_READER__ENABLED=false)"
            )
        retrieved = self.retriever.retrieve(
            query, max(top_k, self.settings.reader.passages), sources, focus
        )
        order = self.reader.rank(
            focus or query, [c.text for c, _ in retrieved.chunks], pairs=len(retrieved.chunks)
        )[:top_k]
        retrieved.chunks = [retrieved.chunks[i] for i, _ in order]
        retrieved.reader_scores = [logit for _, logit in order]
        return retrieved

    def answer(
        self,
        question: str,
        *,
        history: Sequence[Turn] = (),
        top_k: int | None = None,
        filters: Filters | None = None,
        provider: str | None = None,
    ) -> Iterator[AnswerEvent]:
        """The answer as it is written: tokens, then the citations, then the whole Answer
        (`rag.events.collect` waits for it). Given the earlier turns, the question is a
        follow-up, made standalone from them before it is searched, and what it asks itself
        is weighed above the conversation it leans on. Work stops when the consumer stops
        reading. Nothing runs until the first event is asked for; then InvalidQuestion, or
        Overloaded when RAG_LLM__MAX_CONCURRENT answers are being written already."""
        question, focus = self.check_query(question), None
        if history:  # checked as typed: the rewrite may add the question it follows
            rewrite = standalone_question([*history, Turn("user", question)])
            question, focus = rewrite.question, rewrite.focus
        if not self._answering.acquire(blocking=False):
            raise Overloaded(
                f"{self.settings.llm.max_concurrent} answers are being written "
                "already: try again in a moment"
            )
        try:  # the slot is given back when the stream ends, fails or is closed
            yield from self._answer_events(question, top_k, filters, provider, focus)
        finally:
            self._answering.release()

    def _answer_events(
        self,
        question: str,
        top_k: int | None,
        filters: Filters | None,
        provider: str | None,
        focus: str | None,
    ) -> Iterator[AnswerEvent]:
        """answer()'s events, once a slot is held."""
        answerer = self.answerer_for(provider)
        began = time.perf_counter()
        retrieved = self.retrieve(question, top_k, self.sources_for(filters), focus)
        retrieved_at = time.perf_counter()
        stream, first = answerer.stream(question, retrieved), None
        while True:
            try:
                token = next(stream)
            except StopIteration as finished:
                draft = finished.value
                break
            first = first or time.perf_counter()
            yield Token(token)
        done = time.perf_counter()
        citations = in_context(draft.citations, [c for c, _ in retrieved.chunks], self.source_text)
        yield Cited(citations)
        yield Finished(
            Answer(
                question=question,
                answer=draft.text,
                citations=citations,
                refused=draft.refused,
                provider=answerer.name,
                verification=draft.verification,
                passages=as_hits(retrieved.chunks, retrieved.reader_scores),
                timings=Timings(
                    retrieve_ms=ms(retrieved_at - began),
                    first_token_ms=ms((first or done) - began),
                    answer_ms=ms(done - retrieved_at),
                    total_ms=ms(done - began),
                ),
            )
        )

    def sources_for(self, filters: Filters | None) -> list[str] | None:
        """The documents the filters allow (None: every document)."""
        if filters is None or filters.empty:
            return None
        return matching_sources(filters, self.documents())

    def warm_up(self, answering: bool = True) -> None:
        """Load the models now, so the first question's timings measure answering only and
        a missing one fails here: the embedder, and the reader unless only ingesting or
        searching (ModelUnavailable naming `rag model pull ms-marco-minilm-l12`)."""
        self.embedder.embed(["warm up"])
        if answering and self.reader is not None:
            self.reader.load()

    def model_state(self) -> "ModelState | None":
        """The state of the local model's process (llamacpp), or None when there is none."""
        llm = getattr(self.answerer, "llm", None)
        return llm.state() if hasattr(llm, "state") else None

    def shutdown(self) -> None:
        """Stop what the pipeline started: a local model's process."""
        for answerer in [self.answerer, *self._answerers.values()]:
            if hasattr(llm := getattr(answerer, "llm", None), "close"):
                llm.close()

    def documents(self) -> list[DocumentRecord]:
        """The indexed documents."""
        return self.index.open(create=False).store.documents()

    def source_text(self, source: str) -> str | None:
        """The text a citation's offsets index into."""
        return self.index.open(create=False).store.document_text(source)

    def check_query(self, query: str) -> str:
        """The query without surrounding space; InvalidQuestion if empty or too long."""
        limit = self.settings.retrieval.max_query_chars
        if not isinstance(query, str) or not query.strip():
            raise InvalidQuestion("the question is empty")
        if len(query) > limit:
            raise InvalidQuestion(
                f"the question is {len(query)} characters long; the limit is {limit}"
            )
        return query.strip()


def unknown(source: str) -> UnknownDocument:
    """The error for a source that is not indexed."""
    return UnknownDocument(f"no indexed document named {source!r}")


def ms(seconds: float) -> float:
    """Seconds as milliseconds, rounded for reports."""
    return round(seconds * 1000, 1)


def build_pipeline(
    settings: Settings, embedder: Embedder | None = None, reader: "BudgetedReader | None" = None
) -> Pipeline:
    """Wire the parts the settings choose; an embedder and a reader may be shared between
    pipelines (tests, evals). Each loads its weights on first use, or at warm_up()."""
    embedder = embedder or make_embedder(settings.embedder)
    index = make_index(settings.store, embedder.name, embedder.dimension)
    reader = reader or chosen_by(settings)
    return Pipeline(
        settings=settings,
        embedder=embedder,
        index=index,
        retriever=Retriever(embedder, index, settings.retrieval),
        answerer=make_answerer(settings.llm.provider, settings.llm, embedder, reader),
        reader=reader,
    )


def chosen_by(settings: Settings) -> "BudgetedReader | None":
    """The reader the settings ask for, not loaded yet (None when RAG_READER__ENABLED is
    false)."""
    from rag.answering.evidence import BudgetedReader

    return (
        BudgetedReader(settings.reader, settings.llm.models_dir)
        if settings.reader.enabled
        else None
    )


def ready_pipeline(settings: Settings) -> Pipeline:
    """A pipeline ready to serve: its weights loaded now, not on the first request, and
    its store opened (EmbedderMismatch now if another model built it)."""
    pipeline = build_pipeline(settings)
    pipeline.warm_up()
    pipeline.index.open(create=True)
    return pipeline


def check_serving(settings: Settings) -> None:
    """What every server process will need, checked once without loading a model: the
    embedder's weights, a store built by that embedder, the reader, and a local model's
    file and build."""
    index_for(settings).open(create=True)
    if reader := chosen_by(settings):
        from rag.reader import verify

        verify(reader.folder())
    if settings.llm.provider == "llamacpp":
        from rag.llm.build import check
        from rag.weights import locate_gguf

        locate_gguf(settings.llm.gguf, settings.llm.models_dir)
        check()


def index_for(settings: Settings) -> Index:
    """The store the settings name, for its embedder, without loading any model."""
    embedder = make_embedder(settings.embedder)
    return make_index(settings.store, embedder.name, embedder.dimension)
