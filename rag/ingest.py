"""Index files into the store: only new or changed text is embedded, nothing is duplicated."""

import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from pathlib import Path

import numpy as np

from rag.chunking import Chunker
from rag.embedding import Embedder
from rag.errors import SourceError
from rag.fetching import check_address
from rag.index import Index
from rag.loading import discover, load
from rag.models import IngestReport, SourceDocument
from rag.records import sentence_id
from rag.settings import IngestSettings
from rag.text import sentences
from rag.timing import Stages
from rag.vectors import embed_chunks, sentence_contexts
from rag.web import (
    FeedEntry,
    entry_document,
    feed_entries,
    page_document,
    read_feed_source,
    source_for,
)

# Called after each file or page: (done, in all, its path or URL, what happened to it).
FileDone = Callable[[int, int, Path | str, str], None]


def ingest(
    paths: Iterable[Path],
    *,
    index: Index,
    embedder: Embedder,
    chunker: Chunker,
    progress: FileDone | None = None,
    rebuild: bool = False,
    stages: Stages | None = None,
    stop: threading.Event | None = None,
) -> IngestReport:
    """Index every supported file under paths; a bad file in a folder is skipped, not fatal.
    With rebuild, both indexes are dropped first, once every path has been checked. Once
    `stop` is set, the file being indexed is finished and committed and the run ends there
    (the files left are counted in the report); a re-run goes on from there. The time of
    each step is added to `stages`."""
    stages = stages or Stages()
    report, folders = IngestReport(), {}  # each file: the folder it was found in, or None
    for path in paths:
        found, passed_over = discover(Path(path))  # raises before anything is written
        folders |= dict.fromkeys(found, None if Path(path).is_file() else Path(path))
        report.skipped |= passed_over
    files = list(folders)
    if rebuild and index.exists:
        index.reset()
    index.open(create=True)
    seen: dict[str, Path] = {}
    for done, file in enumerate(files, 1):
        if stop and stop.is_set():
            report.left = len(files) - done + 1
            return report
        outcome = ingest_file(
            file,
            index=index,
            embedder=embedder,
            chunker=chunker,
            report=report,
            seen=seen,
            folder=folders[file],
            stages=stages,
        )
        if progress:
            progress(done, len(files), file, outcome)
    if not report.indexed and not report.unchanged:
        reasons = "; ".join(f"{Path(p).name}: {r}" for p, r in report.skipped.items())
        raise SourceError(f"nothing could be indexed ({reasons})", path=str(files[0]))
    return report


def ingest_file(
    file: Path,
    *,
    index: Index,
    embedder: Embedder,
    chunker: Chunker,
    report: IngestReport,
    seen: dict[str, Path],
    folder: Path | None,
    stages: Stages,
) -> str:
    """Index one file (named itself, or found in a folder) and record the outcome in the
    report; returns a word for progress. A bad file named itself is an error."""
    try:
        with stages("reading"):
            document = load(file, folder)
    except SourceError as exc:
        if folder is None:
            raise
        report.skipped[str(file)] = str(exc).removeprefix(f"{file}: ")
        return "skipped"
    if document.source in seen:
        report.skipped[str(file)] = f"same file name as {seen[document.source]}"
        return "skipped"
    seen[document.source] = file
    outcome, embedded, removed = index_document(
        document, index=index, embedder=embedder, chunker=chunker, stages=stages
    )
    report.record(document.source, outcome, embedded, removed)
    return outcome


def index_document(
    document: SourceDocument,
    *,
    index: Index,
    embedder: Embedder,
    chunker: Chunker,
    stages: Stages | None = None,
) -> tuple[str, int, int]:
    """Index one loaded document unless it is already there as it is (and whole: an
    earlier run stopped before dropping old rows is finished here).

    Returns ("indexed" or "unchanged", chunks embedded, chunks removed).
    """
    stages = stages or Stages()
    store, keywords = index.store, index.keywords
    replace = partial(
        replace_document, document, index=index, embedder=embedder, chunker=chunker, stages=stages
    )
    with stages("chroma reads"):
        record = store.document(document.source)
        current = record and (record["content_hash"], record["chunker"]) == (
            document.content_hash,
            chunker.signature,
        )
        whole = current and (
            len(store.chunk_ids(document.source))
            == len(keywords.ids(document.source))
            == int(record["chunks"])
            and len(store.sentence_ids(document.source)) == len(sentences(document.text))
        )
    if whole:
        return "unchanged", 0, 0
    if current:
        _, removed = replace()
        return "unchanged", 0, removed
    embedded, removed = replace()
    return "indexed", embedded, removed


def replace_document(
    document: SourceDocument,
    *,
    index: Index,
    embedder: Embedder,
    chunker: Chunker,
    stages: Stages | None = None,
) -> tuple[int, int]:
    """Write the new chunks, their sentence vectors and keyword rows; commit the document;
    then drop the old version's rows. A kill at any point leaves the old version (or the
    new one, once committed) whole, and a re-run finishes the job.

    A chunk embedded before (in an earlier version, or by an interrupted run) reuses its
    stored vectors. Returns (chunks embedded, chunks removed).
    """
    stages = stages or Stages()
    store, keywords = index.store, index.keywords
    with stages("chunking"):
        chunks = chunker.split(document)
        spans = sentences(document.text)
        contexts = sentence_contexts(spans, chunks, chunker.settings.sentence_vectors == "pooled")
    with stages("chroma reads"):
        before = store.chunk_ids(document.source)
        old_sentences = store.sentence_ids(document.source)
        known = store.vectors_by_text(document.source)
        known_sentences = store.sentence_vectors_by_context(document.source)
    with stages("embedding"):
        vectors, sentence_vectors, embedded = embed_chunks(
            [c.text for c in chunks], contexts, known, known_sentences, embedder
        )
    with stages("chroma writes"):
        store.put_chunks(chunks, vectors)
        store.put_sentences(document, spans, sentence_vectors, [c.key for c in contexts])
    with stages("keyword index"):
        keywords.put(chunks)
    with stages("commit"):
        centroid = vectors.mean(axis=0)
        store.commit_document(
            document,
            chunker.signature,
            len(chunks),
            centroid / (np.linalg.norm(centroid) or 1.0),
            spans,
        )
        if (store.document(document.source) or {}).get("content_hash") != document.content_hash:
            # Another process (server mode) committed another version since: its rows stay;
            # the old ones are hidden, and the next ingest of this file drops them.
            return embedded, 0
        stale = (before | keywords.ids(document.source)) - {c.id for c in chunks}
        store.delete_chunks(stale)
        keywords.delete(stale)
        kept = {sentence_id(document.source, document.content_hash, s.start, s.end) for s in spans}
        store.delete_sentences(old_sentences - kept)
    return embedded, len(stale)


def ingest_pages(
    urls: list[str],
    *,
    index: Index,
    embedder: Embedder,
    chunker: Chunker,
    settings: IngestSettings,
    progress: FileDone | None = None,
    writing: AbstractContextManager | None = None,
) -> IngestReport:
    """Index the article at each URL, every URL checked before anything is fetched. Each
    was named itself, so the first that cannot be fetched or read stops the run (what was
    indexed before it stays). `writing` is held while a page is written, not while fetched."""
    for url in urls:
        check_address(url, settings)
    report = IngestReport()
    index.open(create=True)
    for done, url in enumerate(urls, 1):
        document = page_document(url, settings)
        with writing or nullcontext():
            outcome, embedded, removed = index_document(
                document, index=index, embedder=embedder, chunker=chunker
            )
        report.record(document.source, outcome, embedded, removed)
        if progress:
            progress(done, len(urls), url, outcome)
    return report


def ingest_feed(
    feed: str,
    *,
    index: Index,
    embedder: Embedder,
    chunker: Chunker,
    settings: IngestSettings,
    progress: FileDone | None = None,
    writing: AbstractContextManager | None = None,
) -> IngestReport:
    """Index a feed's new entries (a file or a URL): the feed is read whole first, so a
    malformed one writes nothing. An entry whose page is indexed already is not fetched
    again; one whose text is already indexed under another name is skipped; one that
    cannot be fetched or read is skipped with its reason, and the others go on. `writing`
    is held while an entry is written, not while fetched."""
    entries = feed_entries(read_feed_source(feed, settings), feed, settings.max_feed_entries)
    report = IngestReport()
    store = index.open(create=True).store
    records = store.documents()
    known = {r["source"] for r in records}
    texts = {r["content_hash"]: r["source"] for r in records}
    for done, entry in enumerate(entries, 1):
        outcome = index_entry(
            entry,
            index=index,
            embedder=embedder,
            chunker=chunker,
            settings=settings,
            report=report,
            known=known,
            texts=texts,
            writing=writing or nullcontext(),
        )
        if progress:
            progress(done, len(entries), entry.url, outcome)
    return report


def index_entry(
    entry: FeedEntry,
    *,
    index: Index,
    embedder: Embedder,
    chunker: Chunker,
    settings: IngestSettings,
    report: IngestReport,
    known: set[str],
    texts: dict[str, str],
    writing: AbstractContextManager,
) -> str:
    """Index one feed entry unless its page or its text is indexed already (`known`
    sources, `texts` by content hash, both kept up to date); the outcome goes into the
    report, and a word for it is returned."""
    if already := indexed_as(entry, known):
        report.unchanged.append(already)
        return "unchanged"
    try:
        document = entry_document(entry, settings)
    except SourceError as exc:
        report.skipped[entry.url] = str(exc).removeprefix(f"{exc.path}: ")
        return "skipped"
    if document.content_hash in texts:
        report.skipped[entry.url] = f"same text as {texts[document.content_hash]}"
        return "skipped"
    with writing:
        _, embedded, _ = index_document(document, index=index, embedder=embedder, chunker=chunker)
    report.record(document.source, "indexed", embedded)
    known.add(document.source)
    texts[document.content_hash] = document.source
    return "indexed"


def indexed_as(entry: FeedEntry, known: set[str]) -> str | None:
    """The source an entry's page is indexed under already (as a page or a PDF), if any."""
    return next(
        (s for s in (source_for(entry.url), source_for(entry.url, pdf=True)) if s in known), None
    )


def remove_document(source: str, *, index: Index) -> int:
    """Forget a source: its record first (hiding it at once), then its rows everywhere.
    Returns how many chunks went."""
    store, keywords = index.store, index.keywords
    store.delete_document(source)
    stale = store.chunk_ids(source) | keywords.ids(source)
    store.delete_chunks(stale)
    keywords.delete(stale)
    store.delete_sentences(store.sentence_ids(source))
    return len(stale)
