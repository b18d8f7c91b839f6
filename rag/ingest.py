"""Index files into the store: only new or changed text is embedded, nothing is duplicated."""

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from rag.chunking import Chunker
from rag.embedding import Embedder
from rag.errors import SourceError
from rag.loading import discover, load
from rag.models import IngestReport, SourceDocument
from rag.store import ChromaStore

# Called after each file: (files done, files in all, path, what happened to it).
Progress = Callable[[int, int, Path, str], None]


def ingest(paths: Iterable[Path], *, store: ChromaStore, embedder: Embedder, chunker: Chunker,
           progress: Progress | None = None) -> IngestReport:
    """Index every supported file under paths; a bad file in a folder is skipped, not fatal."""
    report, files, explicit = IngestReport(), [], set()
    for path in paths:
        found, passed_over = discover(Path(path))  # raises before anything is written
        files += found
        report.skipped |= passed_over
        if Path(path).is_file():
            explicit.add(Path(path))
    store.open(create=True)
    seen: dict[str, Path] = {}
    for done, file in enumerate(files, 1):
        outcome = ingest_file(file, store=store, embedder=embedder, chunker=chunker,
                              report=report, seen=seen, explicit=file in explicit)
        if progress:
            progress(done, len(files), file, outcome)
    if not report.indexed and not report.unchanged:
        reasons = "; ".join(f"{Path(p).name}: {r}" for p, r in report.skipped.items())
        raise SourceError(f"nothing could be indexed ({reasons})", path=str(files[0]))
    return report


def ingest_file(file: Path, *, store: ChromaStore, embedder: Embedder, chunker: Chunker,
                report: IngestReport, seen: dict[str, Path], explicit: bool) -> str:
    """Index one file and record the outcome in the report; returns a word for progress."""
    try:
        document = load(file)
    except SourceError as exc:
        if explicit:
            raise
        report.skipped[str(file)] = str(exc).removeprefix(f"{file}: ")
        return "skipped"
    if document.source in seen:
        report.skipped[str(file)] = f"same file name as {seen[document.source]}"
        return "skipped"
    seen[document.source] = file
    outcome, embedded, removed = index_document(document, store=store, embedder=embedder,
                                                chunker=chunker)
    (report.indexed if outcome == "indexed" else report.unchanged).append(document.source)
    report.chunks_embedded += embedded
    report.chunks_removed += removed
    return outcome


def index_document(document: SourceDocument, *, store: ChromaStore, embedder: Embedder,
                   chunker: Chunker) -> tuple[str, int, int]:
    """Index one loaded document unless it is already there as it is.

    Returns ("indexed" or "unchanged", chunks embedded, chunks removed).
    """
    record = store.document(document.source)
    if record and (record["content_hash"], record["chunker"]) == (document.content_hash,
                                                                  chunker.signature):
        return "unchanged", 0, 0
    embedded, removed = replace_document(document, store=store, embedder=embedder, chunker=chunker)
    return "indexed", embedded, removed


def replace_document(document: SourceDocument, *, store: ChromaStore, embedder: Embedder,
                     chunker: Chunker) -> tuple[int, int]:
    """Write the new chunks, commit the document, then drop the old chunks.

    Text that was embedded before (in an earlier version, or by an interrupted run) reuses
    its stored vector. Returns (chunks embedded, chunks removed).
    """
    chunks = chunker.split(document)
    known = store.vectors_by_text(document.source)
    before = store.chunk_ids(document.source)
    fresh = [c.text for c in chunks if c.text not in known]
    known |= dict(zip(fresh, embedder.embed(fresh)))
    vectors = np.stack([known[c.text] for c in chunks])
    store.put_chunks(chunks, vectors, document.content_hash)
    centroid = vectors.mean(axis=0)
    store.commit_document(document, chunker.signature, len(chunks),
                          centroid / (np.linalg.norm(centroid) or 1.0))
    stale = before - {c.id for c in chunks}
    store.delete_chunks(stale)
    return len(fresh), len(stale)
