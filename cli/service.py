"""What the terminal asks of the articles, and who answers: the library opening the store
itself, or, when a running server holds the store, that server over HTTP."""

import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from rag.conversation import Turn
from rag.events import AnswerEvent
from rag.filters import Filters
from rag.models import IngestReport
from rag.searching import Searcher
from rag.settings import Settings

if TYPE_CHECKING:
    from rag.ingest import FileDone  # rag.ingest loads llama_index: not for a thin client


class Service(Searcher, Protocol):
    """The library's Pipeline, or the HTTP client of a server that holds the store (its
    `search` is Searcher's)."""

    def answer(
        self,
        question: str,
        *,
        history: Sequence[Turn] = (),
        top_k: int | None = None,
        filters: Filters | None = None,
        provider: str | None = None,
    ) -> Iterator[AnswerEvent]:
        """The answer's events, as Pipeline.answer streams them."""
        ...

    def documents(self) -> list[dict]:
        """The indexed documents' records."""
        ...

    def document_text(self, source: str) -> tuple[dict, str]:
        """One document's record and the text its citations index into."""
        ...

    def ingest(
        self,
        paths: Iterable[Path],
        progress: "FileDone | None" = None,
        rebuild: bool = False,
        stop: threading.Event | None = None,
    ) -> IngestReport:
        """Index files and folders; once `stop` is set, the file at hand is the last."""
        ...

    def ingest_pages(self, urls: list[str], progress: "FileDone | None" = None) -> IngestReport:
        """Fetch and index the article at each URL."""
        ...

    def ingest_feed(self, feed: str, progress: "FileDone | None" = None) -> IngestReport:
        """Index an RSS or Atom feed's new entries."""
        ...

    def delete_document(self, source: str) -> int:
        """Forget a document; how many chunks went."""
        ...


def connect(
    settings: Settings, answering: bool = True, say: Callable[[str], None] | None = None
) -> Service:
    """The server holding the store, if one announced itself there (RAG_API__KEYS sent as
    the key), said in one dim line; otherwise the library over the store, its models
    loaded (the reader only when answering)."""
    from rag.locking import serving

    url = None if settings.store.url else serving(settings.store.path)
    if url:
        from cli.remote import Remote

        (say or dim)(f"(asking the server at {url}, which holds the store)")
        return Remote(url, settings.api.key_list[:1])
    from rag.pipeline import build_pipeline

    pipeline = build_pipeline(settings)
    pipeline.warm_up(answering)
    return pipeline


def dim(line: str) -> None:
    """A quiet line on standard error (dim on a terminal)."""
    print(f"\x1b[2m{line}\x1b[0m" if sys.stderr.isatty() else line, file=sys.stderr, flush=True)
