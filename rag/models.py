"""The data that crosses module boundaries: documents, chunks, hits, citations, answers."""

from pydantic import BaseModel, Field


class SourceDocument(BaseModel):
    """One article as loaded: `text` is what offsets index into."""

    source: str  # the file name; the article's id
    text: str
    title: str
    author: str | None = None
    date: str | None = None
    url: str | None = None  # where it was fetched from, for a page or feed entry
    content_hash: str


class Chunk(BaseModel):
    """A piece of a document with its exact span: `document.text[start:end] == text`."""

    id: str
    source: str
    title: str
    text: str
    start: int
    end: int
    author: str | None = None
    date: str | None = None
    content_hash: str = ""  # the document version it was cut from


class SearchHit(BaseModel):
    """A retrieved chunk and its retrieval score: the weighted mean (rag/retrieval.py) of its
    vector's cosine with the query's, its BM25 over the best candidate's, the IDF-weighted
    share of the query's content words it holds and its best sentence's cosine; higher is
    better, 1.0 at most. A re-ranked search keeps this score and orders hits by reader_score."""

    source: str
    title: str
    text: str
    start: int
    end: int
    score: float
    reader_score: float | None = None  # the reader's logit, in a re-ranked search


class Citation(BaseModel):
    """The passage behind one [index] marker: `source_text[start:end] == quote`, and
    `before + quote + after` the passage around it (rag/sources.py)."""

    index: int
    source: str
    title: str
    quote: str
    start: int
    end: int
    score: float
    before: str = ""
    after: str = ""


class Timings(BaseModel):
    """Where the time went, in milliseconds."""

    retrieve_ms: float = 0.0
    first_token_ms: float = 0.0  # from the question to the first word of the answer
    answer_ms: float = 0.0
    total_ms: float = 0.0


class Dropped(BaseModel):
    """A generated sentence that did not reach the reader, without its markers, and why."""

    text: str
    reason: str


class Verification(BaseModel):
    """What the citation check did to a generated answer."""

    sentences: int = 0  # sentences the model wrote
    kept: int = 0
    attributed: int = 0  # kept sentences the model left uncited, matched to their passage
    dropped: int = 0
    dropped_sentences: list[Dropped] = Field(default_factory=list)
    model_refused: bool = False  # the model said the sources do not answer the question
    fallback: str | None = None  # "extractive" or "refusal" when no sentence was kept


class Answer(BaseModel):
    """An answer whose every sentence ends with a [n] marker into `citations`."""

    question: str
    answer: str
    citations: list[Citation] = Field(default_factory=list)
    refused: bool = False
    provider: str = "extractive"
    verification: Verification | None = None  # for answers a language model wrote
    passages: list[SearchHit] = Field(default_factory=list)  # retrieved for it, best first
    timings: Timings = Field(default_factory=Timings)


class IngestReport(BaseModel):
    """What an ingest run did, file by file."""

    indexed: list[str] = Field(default_factory=list)  # new or changed, re-chunked
    unchanged: list[str] = Field(default_factory=list)
    skipped: dict[str, str] = Field(default_factory=dict)  # path -> reason
    chunks_embedded: int = 0  # through a server: the chunks of the files it indexed
    chunks_removed: int = 0
    through: str | None = None  # the server that indexed them, when a terminal asked one
    left: int = 0  # files not reached: the run was stopped (a re-run goes on from there)

    def record(self, source: str, outcome: str, embedded: int = 0, removed: int = 0) -> None:
        """One document's outcome ("indexed" or "unchanged") and the chunks it cost."""
        (self.indexed if outcome == "indexed" else self.unchanged).append(source)
        self.chunks_embedded += embedded
        self.chunks_removed += removed

    def add(self, other: "IngestReport") -> "IngestReport":
        """This report with another run's added to it."""
        self.indexed += other.indexed
        self.unchanged += other.unchanged
        self.skipped |= other.skipped
        self.chunks_embedded += other.chunks_embedded
        self.chunks_removed += other.chunks_removed
        self.through = self.through or other.through
        self.left += other.left
        return self
