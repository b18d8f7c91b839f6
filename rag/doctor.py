"""`rag doctor`: check that the store holds exactly its committed documents, whole, with a
keyword index in step, and repair what can be repaired without the source files.

What an interrupted ingest can leave (a kill at any moment; see rag/ingest.py): rows of a
version that was never committed or was replaced, and keyword rows out of step. Both are
hidden from searches already; the doctor removes them. A committed document missing
rows cannot come from an interrupted ingest; it is reported, to be ingested again. A
record in an older form than the one written now (one that does not say where its
sentences lie) is rewritten in the current form: searches read only that form.
"""

from collections import Counter
from dataclasses import dataclass, field

from rag.index import Index
from rag.pipeline import index_for
from rag.settings import Settings
from rag.text import sentences


@dataclass
class Checkup:
    """What the doctor found in a store."""

    documents: int = 0
    chunks: int = 0
    stale_chunks: set[str] = field(default_factory=set)  # rows of no committed version
    stale_sentences: set[str] = field(default_factory=set)
    keyword_missing: set[str] = field(default_factory=set)  # chunk rows the keyword index lacks
    keyword_extra: set[str] = field(default_factory=set)  # keyword rows of no chunk row
    outdated: list[str] = field(default_factory=list)  # records in an older form: rewritten
    incomplete: list[str] = field(default_factory=list)  # committed, rows missing: ingest again
    duplicated: list[str] = field(default_factory=list)  # two committed chunks at one span
    build_refused: bool = False  # the installed llama.cpp must not run on this CPU

    @property
    def repairable(self) -> int:
        """Rows the doctor can remove or restore, and records it can rewrite."""
        return (
            len(self.stale_chunks)
            + len(self.stale_sentences)
            + len(self.keyword_missing)
            + len(self.keyword_extra)
            + len(self.outdated)
        )

    @property
    def healthy(self) -> bool:
        """Nothing to repair and nothing to report."""
        return not (self.repairable or self.incomplete or self.duplicated)


def examine(index: Index) -> Checkup:
    """Compare every row with the committed documents; nothing is changed."""
    store = index.store.open(create=False)
    committed = {r["source"]: r for r in store.documents()}
    versions = {(s, r["content_hash"]) for s, r in committed.items()}
    chunk_rows, sentence_rows = store.row_versions()
    held = index.keywords.ids()
    checkup = Checkup(
        documents=len(committed),
        chunks=len(chunk_rows),
        stale_chunks={i for i, v in chunk_rows.items() if v not in versions},
        stale_sentences={i for i, v in sentence_rows.items() if v not in versions},
        keyword_missing=set(chunk_rows) - held,
        keyword_extra=held - set(chunk_rows),
        outdated=store.outdated_records(),
    )
    live_chunks = Counter(v for v in chunk_rows.values() if v in versions)
    live_sentences = Counter(v for v in sentence_rows.values() if v in versions)
    for source, record in committed.items():
        version = (source, record["content_hash"])
        text = store.document_text(source) or ""
        if live_chunks[version] < int(record["chunks"]) or live_sentences[version] < len(
            sentences(text)
        ):
            checkup.incomplete.append(source)
    live = store.chunks(sorted(set(chunk_rows) - checkup.stale_chunks))
    spans = Counter((c.source, c.start, c.end) for c in live)
    checkup.duplicated = sorted({s for (s, _, _), n in spans.items() if n > 1})
    return checkup


def doctor(settings: Settings, *, fix: bool) -> tuple[Checkup, list[str]]:
    """Examine the store the settings name (and repair it, with fix), and whether the
    installed llama.cpp may run on this CPU: the checkup as found, and the report's lines."""
    from rag.llm.build import verdict

    index = index_for(settings)
    checkup = examine(index)
    if fix and checkup.repairable:
        repair(index, checkup)
    build_ok, build_line = verdict()
    checkup.build_refused = not build_ok
    return checkup, [*report(checkup, repaired=fix), build_line]


def repair(index: Index, checkup: Checkup) -> None:
    """Remove the stale rows, bring the keyword index in step with the vector store, and
    rewrite outdated records in the current form."""
    store, keywords = index.store, index.keywords
    store.update_records(checkup.outdated)
    store.delete_chunks(checkup.stale_chunks)
    keywords.delete(checkup.stale_chunks | checkup.keyword_extra)
    store.delete_sentences(checkup.stale_sentences)
    keywords.sync(store)


def report(checkup: Checkup, repaired: bool) -> list[str]:
    """The checkup as lines for a person: what was found, and what was done about it."""
    done = "removed" if repaired else "found"
    lines = [f"{checkup.documents} document(s) committed, {checkup.chunks} chunk row(s)"]
    for count, what in (
        (len(checkup.stale_chunks), "chunk row(s) of no committed version"),
        (len(checkup.stale_sentences), "sentence row(s) of no committed version"),
        (len(checkup.keyword_extra), "keyword row(s) of no chunk"),
    ):
        if count:
            lines.append(f"{done} {count} {what}")
    if checkup.outdated:
        rewritten = "rewrote" if repaired else "found"
        lines.append(
            f"{rewritten} {len(checkup.outdated)} document record(s) in an older form "
            "(not saying where their sentences lie)"
        )
    if checkup.keyword_missing:
        restored = "restored" if repaired else "found missing"
        lines.append(f"{restored} {len(checkup.keyword_missing)} keyword row(s)")
    for source in checkup.incomplete:
        lines.append(f"incomplete: {source} (rows missing): ingest its file again")
    for source in checkup.duplicated:
        lines.append(f"duplicated: {source} (two chunks at one span): ingest its file again")
    if checkup.healthy:
        lines.append("ok: every committed document is whole and both indexes agree")
    return lines
