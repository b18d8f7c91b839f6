"""The keyword index beside the vector store: BM25 over chunk text in SQLite FTS5, in the
store's folder. It holds the same chunk ids as the vector store, written in the same
commit sequence, and is brought back in step from the vector store when it is missing or
differs (`sync`)."""

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.models import Chunk
from rag.store import VectorStore, chunk_from
from rag.text import STOPWORDS, words

FILE_NAME = "keywords.sqlite3"
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
        rows = [(c.id, c.source, c.content_hash, c.title, c.start, c.end, c.author, c.date, c.text)
                for c in chunks]
        db = self.connection()
        with transaction(db):
            db.executemany("DELETE FROM chunks WHERE id = ?", [(r[0],) for r in rows])
            db.executemany(f"INSERT INTO chunks ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)", rows)

    def delete(self, ids: set[str]) -> None:
        """Remove chunks by id."""
        db = self.connection()
        with transaction(db):
            db.executemany("DELETE FROM chunks WHERE id = ?", [(i,) for i in sorted(ids)])

    def ids(self, source: str | None = None) -> set[str]:
        """Every chunk id held (for one source, if given)."""
        if source is None:
            return {i for (i,) in self.connection().execute("SELECT id FROM chunks")}
        return {i for (i,) in self.connection().execute(
            "SELECT id FROM chunks WHERE source = ?", (source,))}

    def search(self, query: str, n: int,
               sources: list[str] | None = None) -> list[tuple[Chunk, float]]:
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
                "ORDER BY bm25(terms) LIMIT ?", [expression, *sources, n])
        else:  # rank first, then read only the n rows kept (a third faster)
            rows = self.connection().execute(
                f"SELECT {columns}, t.score FROM (SELECT rowid, bm25(terms) AS score FROM terms "
                "WHERE terms MATCH ? ORDER BY score LIMIT ?) t JOIN chunks c ON c.rowid = t.rowid "
                "ORDER BY t.score", [expression, n])
        return [(row_chunk(row), -row[-1]) for row in rows]

    def sync(self, store: VectorStore, say: Callable[[str], None] = lambda _: None) -> int:
        """Make this index hold exactly the vector store's chunks; returns how many rows
        were added or removed (0 when already in step)."""
        held, stored = self.ids(), store.chunk_ids()
        missing, extra = sorted(stored - held), held - stored
        if missing or extra:
            say(f"keyword index out of step ({len(missing)} missing, {len(extra)} extra): "
                "bringing it in step from the vector store")
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
    terms = dict.fromkeys(w for w in words(query) if w not in STOPWORDS and (len(w) > 1 or w.isdigit()))
    return " OR ".join(f'"{t.replace(chr(34), "")}"' for t in list(terms)[:MAX_TERMS])


def row_chunk(row: tuple) -> Chunk:
    """A Chunk from a row of COLUMNS."""
    names = COLUMNS.split(", ")
    meta = dict(zip(names[1:8], row[1:8]))
    return chunk_from(row[0], row[8], meta)

