"""The keyword index beside the vector store: BM25 over chunk text in SQLite FTS5.

Embedded, it lives in the store's folder, holds the same chunk ids as the vector store,
written in the same commit sequence, and is brought back in step from the vector store
when it is missing or differs (`sync`). With a Chroma server, every process keeps its own
copy in a temporary folder, following the documents committed on the server
(`KeywordMirror`): nothing but Chroma needs to be shared between machines.
"""

import logging
import shutil
import sqlite3
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from rag.models import Chunk
from rag.records import chunk_from
from rag.store import ChunkRows, VectorStore
from rag.text import STOPWORDS, words

log = logging.getLogger(__name__)

FILE_NAME = "keywords.sqlite3"
# How often a KeywordMirror asks the server which document versions are committed (one
# read of every document record): a commit is searchable by its words this much later at
# most, plus the time to copy its chunks.
FOLLOW_EVERY = 1.0
SOURCES_PER_READ = 100
MAX_TERMS = 64  # a question's distinct words searched for (a long one is cut here)
SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, source TEXT NOT NULL,
    content_hash TEXT NOT NULL, title TEXT NOT NULL, start INTEGER NOT NULL,
    end INTEGER NOT NULL, author TEXT, date TEXT, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks (source);
CREATE VIRTUAL TABLE IF NOT EXISTS terms USING fts5 (
    text, content='chunks', content_rowid='rowid', tokenize='porter unicode61');
CREATE TRIGGER IF NOT EXISTS chunks_added AFTER INSERT ON chunks BEGIN
    INSERT INTO terms (rowid, text) VALUES (new.rowid, new.text); END;
CREATE TRIGGER IF NOT EXISTS chunks_removed AFTER DELETE ON chunks BEGIN
    INSERT INTO terms (terms, rowid, text) VALUES ('delete', old.rowid, old.text); END;
"""
COLUMNS = "id, source, content_hash, title, start, end, author, date, text"
INSERT = f"INSERT INTO chunks ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)"


class KeywordStore(Protocol):
    """The keyword index as its callers use it, in a folder or following a server."""

    def put(self, chunks: list[Chunk]) -> None:
        """Add chunks (replacing any with the same id)."""
        ...

    def delete(self, ids: set[str]) -> None:
        """Remove chunks by id."""
        ...

    def ids(self, source: str | None = None) -> set[str]:
        """Every chunk id held (for one source, if given)."""
        ...

    def search(
        self, query: str, n: int, sources: list[str] | None = None
    ) -> list[tuple[Chunk, float]]:
        """The n chunks that best match the query's words, best first, with their score."""
        ...

    def sync(self, store: ChunkRows) -> int:
        """Bring this index in step with the vector store; returns how much it changed."""
        ...

    def reset(self) -> None:
        """Forget every row (the vector store was dropped)."""
        ...


class KeywordIndex:
    """Chunks searchable by their words, ranked by FTS5's bm25()."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / FILE_NAME
        self._local = threading.local()  # one connection per thread; SQLite is process-safe

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, creating the schema on first use."""
        db = getattr(self._local, "db", None)
        if db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(SCHEMA)
            self._local.db = db
        return db

    def put(self, chunks: list[Chunk]) -> None:
        """Add chunks (replacing any with the same id) in one transaction."""
        rows = chunk_rows(chunks)
        db = self.connection()
        with transaction(db):
            db.executemany("DELETE FROM chunks WHERE id = ?", [(r[0],) for r in rows])
            db.executemany(INSERT, rows)

    def replace_sources(self, sources: set[str], chunks: list[Chunk]) -> None:
        """Drop every row of these sources and add these chunks, in one transaction."""
        db = self.connection()
        with transaction(db):
            db.executemany("DELETE FROM chunks WHERE source = ?", [(s,) for s in sorted(sources)])
            db.executemany(INSERT, chunk_rows(chunks))

    def delete(self, ids: set[str]) -> None:
        """Remove chunks by id."""
        db = self.connection()
        with transaction(db):
            db.executemany("DELETE FROM chunks WHERE id = ?", [(i,) for i in sorted(ids)])

    def ids(self, source: str | None = None) -> set[str]:
        """Every chunk id held (for one source, if given)."""
        if source is None:
            return {i for (i,) in self.connection().execute("SELECT id FROM chunks")}
        return {
            i
            for (i,) in self.connection().execute(
                "SELECT id FROM chunks WHERE source = ?", (source,)
            )
        }

    def search(
        self, query: str, n: int, sources: list[str] | None = None
    ) -> list[tuple[Chunk, float]]:
        """The n chunks (of the given sources, if any) that best match the query's words
        by BM25, best first, with the BM25 score (higher is better; committed or not)."""
        expression = match_expression(query)
        if not expression:
            return []
        columns = ", ".join("c." + c for c in COLUMNS.split(", "))
        if sources:  # the filter must apply before the limit
            rows = self.connection().execute(
                f"SELECT {columns}, bm25(terms) FROM terms JOIN chunks c ON c.rowid = terms.rowid "
                f"WHERE terms MATCH ? AND c.source IN ({','.join('?' * len(sources))}) "
                "ORDER BY bm25(terms) LIMIT ?",
                [expression, *sources, n],
            )
        else:  # rank first, then read only the n rows kept (a third faster)
            rows = self.connection().execute(
                f"SELECT {columns}, t.score FROM (SELECT rowid, bm25(terms) AS score FROM terms "
                "WHERE terms MATCH ? ORDER BY score LIMIT ?) t JOIN chunks c ON c.rowid = t.rowid "
                "ORDER BY t.score",
                [expression, n],
            )
        return [(row_chunk(row), -row[-1]) for row in rows]

    def sync(self, store: ChunkRows) -> int:
        """Make this index hold exactly the vector store's chunks; returns how many rows
        were added or removed (0 when already in step)."""
        held, stored = self.ids(), store.chunk_ids()
        missing, extra = sorted(stored - held), held - stored
        if missing or extra:
            log.warning(
                "keyword index out of step (%d missing, %d extra): bringing it in "
                "step from the vector store",
                len(missing),
                len(extra),
            )
        if extra:
            self.delete(extra)
        if missing:
            self.put(store.chunks(missing))
        return len(missing) + len(extra)

    def reset(self) -> None:
        """Delete the index file (it is rebuilt from the vector store)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


class KeywordMirror:
    """Server mode: this process's own keyword index, holding each document's committed
    version as the server has it, at most FOLLOW_EVERY (plus the copy) behind.

    Ingest may write to it as to the embedded index (its rows are replaced by the
    committed version when that is next read); `ids(source)` first brings that source in
    step, so ingest's checks compare the store with its committed version.
    """

    def __init__(self, store: VectorStore) -> None:
        self.store = store
        folder = tempfile.mkdtemp(prefix="rag-keywords-")
        self.index = KeywordIndex(Path(folder))
        self._cleanup = weakref.finalize(self, shutil.rmtree, folder, True)
        self._held: dict[str, str] = {}  # source: the content hash copied here
        self._checked = -FOLLOW_EVERY  # when the committed versions were last read
        self._lock = threading.Lock()

    def follow(self, *, now: bool = False) -> None:
        """Copy every document version committed since the last look, and drop the
        documents deleted since; a look at most every FOLLOW_EVERY (or now)."""
        if not now and time.monotonic() - self._checked < FOLLOW_EVERY:
            return
        with self._lock:  # one thread copies; the others wait for its result
            began = time.monotonic()
            if not now and began - self._checked < FOLLOW_EVERY:
                return
            committed = {r["source"]: r["content_hash"] for r in self.store.documents()}
            self._copy(
                {s: h for s, h in committed.items() if self._held.get(s) != h},
                set(self._held) - set(committed),
            )
            self._checked = began

    def _copy(self, changed: dict[str, str], gone: set[str]) -> None:
        """Replace the rows of changed sources by their committed chunks; drop gone ones."""
        names = sorted(changed)
        for at in range(0, len(names), SOURCES_PER_READ):
            part = names[at : at + SOURCES_PER_READ]
            chunks = [
                c for c in self.store.source_chunks(part) if changed[c.source] == c.content_hash
            ]
            self.index.replace_sources(set(part), chunks)
            self._held |= {s: changed[s] for s in part}
        if gone:
            self.index.replace_sources(gone, [])
            for source in gone:
                self._held.pop(source, None)

    def search(
        self, query: str, n: int, sources: list[str] | None = None
    ) -> list[tuple[Chunk, float]]:
        """As KeywordIndex.search, over the committed documents as of FOLLOW_EVERY ago."""
        self.follow()
        return self.index.search(query, n, sources)

    def ids(self, source: str | None = None) -> set[str]:
        """The chunk ids of a source's committed version (read now), or of every
        document's as last followed."""
        if source is None:
            return self.index.ids()
        with self._lock:
            record = self.store.document(source)
            if record is None:
                self._copy({}, {source})
            else:
                self._copy({source: record["content_hash"]}, set())
        return self.index.ids(source)

    def put(self, chunks: list[Chunk]) -> None:
        """Add chunks here (the committed version replaces them when it is next read)."""
        self.index.put(chunks)

    def delete(self, ids: set[str]) -> None:
        """Remove chunks here."""
        self.index.delete(ids)

    def sync(self, store: ChunkRows) -> int:
        """Copy what the server has committed (at start-up); returns the documents held."""
        self.follow(now=True)
        return len(self._held)

    def reset(self) -> None:
        """Forget every row (the server's collections were dropped)."""
        with self._lock:
            self.index.delete(self.index.ids())
            self._held.clear()


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def match_expression(query: str) -> str:
    """An FTS5 query matching any of the question's content words (each quoted, so no
    word is read as an operator)."""
    terms = dict.fromkeys(
        w for w in words(query) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())
    )
    return " OR ".join(f'"{t.replace(chr(34), "")}"' for t in list(terms)[:MAX_TERMS])


def chunk_rows(chunks: list[Chunk]) -> list[tuple]:
    """Chunks as rows of COLUMNS."""
    return [
        (c.id, c.source, c.content_hash, c.title, c.start, c.end, c.author, c.date, c.text)
        for c in chunks
    ]


def row_chunk(row: tuple) -> Chunk:
    """A Chunk from a row of COLUMNS."""
    names = COLUMNS.split(", ")
    meta = dict(zip(names[1:8], row[1:8]))
    return chunk_from(row[0], row[8], meta)
