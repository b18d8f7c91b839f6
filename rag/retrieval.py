"""Hybrid retrieval: candidates by meaning (the vector store) and by words (the keyword
index), fused, re-scored, near-duplicates collapsed; a capital the query names also stands
for its country (rag/places.py). The query's vector and the stored sentence vectors of
what was found are handed on, so answering needs no second embedding pass. Every weight
here was chosen on the public sets as a whole (evals/README.md)."""

import math
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from rag.embedding import Embedder
from rag.index import Index, Ranked
from rag.models import Chunk
from rag.places import alternatives, as_countries, expansion_words
from rag.records import Sentences
from rag.settings import RetrievalSettings
from rag.store import ChunkRows
from rag.text import content_terms, text_terms, words

# Weights of a candidate's signals; swept on squad-dev-48 and the golden set together
# (evals/README.md, `rag eval sweep`).
W_COSINE, W_KEYWORD, W_WORDS, W_SENTENCE = 1.0, 0.2, 0.3, 1.0
DUPLICATE = 0.6  # word-trigram Jaccard at or above which a chunk repeats a better one


@dataclass
class Retrieved:
    """The chunks found for a query, best first, the query's own vector, and the stored
    sentences of each document version found."""

    query: str
    vector: np.ndarray
    chunks: list[tuple[Chunk, float]]
    focus: str | None = None  # in a follow-up, what this turn itself asked
    sentences: dict[tuple[str, str], Sentences] = field(default_factory=dict)
    agreement: float = 0.0  # how both indexes ranked the best chunk (1: first in both)
    reader_scores: list[float] | None = None  # the reader's, when it ordered the chunks


class Retriever:
    """Embeds the query, gathers candidates from both indexes, and ranks their union."""

    def __init__(
        self, embedder: Embedder, index: Index, settings: RetrievalSettings | None = None
    ) -> None:
        self.embedder = embedder
        self.index = index
        self.settings = settings or RetrievalSettings()

    def retrieve(
        self, query: str, top_k: int, sources: list[str] | None = None, focus: str | None = None
    ) -> Retrieved:
        """The top_k committed chunks (of the given sources, if any) that best match the
        query, each with its fused score."""
        vector = self.query_vector(query)
        focus = focus if focus != query else None
        if sources == []:  # a filter that matched no document
            return Retrieved(query, vector, [], focus)
        dense, lexical, documents = self.candidates(
            query, vector, max(top_k, self.settings.candidates), sources
        )
        signals = Signals.of(
            query, vector, dense, lexical, self.index.store, documents, self.synonyms(query)
        )
        found = collapse_duplicates(signals.ranked(self.settings.keyword_weight), top_k)
        return Retrieved(
            query,
            vector,
            found,
            focus,
            {k: documents[k] for k in {(c.source, c.content_hash) for c, _ in found}},
            agreement(found[0][0].id, dense, lexical) if found else 0.0,
        )

    def candidates(
        self,
        query: str,
        vector: np.ndarray,
        n: int,
        sources: list[str] | None = None,
    ) -> tuple[Ranked, Ranked, dict[tuple[str, str], Sentences]]:
        """The n best committed chunks by meaning and by words, and the sentences of every
        document version among them (with the vectors of those the chunks overlap)."""
        index = self.index.open(create=False)
        asked = " ".join([query, *expansion_words(query)]) if self.settings.capitals else query
        dense, lexical = index.current(
            index.store.query(vector, n, sources), index.keywords.search(asked, n, sources)
        )
        wanted: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for chunk, _ in dense + lexical:
            wanted.setdefault((chunk.source, chunk.content_hash), []).append(
                (chunk.start, chunk.end)
            )
        return dense, lexical, index.store.sentences(wanted)

    def query_vector(self, query: str) -> np.ndarray:
        """The query's vector; for a query naming a capital, the mean direction of it and
        of the query with the capital's country in its place."""
        countries = as_countries(query) if self.settings.capitals else None
        if countries is None:
            return self.embedder.embed([query])[0]
        both = self.embedder.embed([query, countries]).sum(axis=0)
        return both / np.linalg.norm(both)

    def synonyms(self, query: str) -> dict[str, list[frozenset[str]]]:
        """What else may stand for a query term in a text (a capital's country)."""
        return alternatives(query) if self.settings.capitals else {}


@dataclass
class Signals:
    """What each candidate chunk has going for it, from both indexes."""

    chunks: dict[str, Chunk]
    cosine: dict[str, float]  # the chunk's vector against the query's
    keyword: dict[str, float]  # BM25 over the best BM25 among the candidates (0 if unmatched)
    words: dict[str, float]  # IDF-weighted share of the query's content words it holds
    sentence: dict[str, float]  # its best sentence's vector against the query's

    @classmethod
    def of(
        cls,
        query: str,
        vector: np.ndarray,
        dense: list[tuple[Chunk, float]],
        lexical: list[tuple[Chunk, float]],
        store: ChunkRows,
        documents: dict[tuple[str, str], Sentences],
        synonyms: dict[str, list[frozenset[str]]] | None = None,
    ) -> "Signals":
        """Signals for the union of both candidate lists (a query term also counts as
        held where a text holds every term of one of its synonyms)."""
        chunks = {c.id: c for c, _ in dense + lexical}
        cosine = {c.id: s for c, s in dense}
        unseen = [i for i in chunks if i not in cosine]
        cosine |= {i: float(v @ vector) for i, v in store.chunk_vectors(unseen).items()}
        top = max((s for _, s in lexical), default=0.0) or 1.0
        return cls(
            chunks,
            cosine,
            {c.id: s / top for c, s in lexical},
            word_overlap(query, list(chunks.values()), synonyms or {}),
            {
                i: best_sentence(c, documents[(c.source, c.content_hash)], vector)
                for i, c in chunks.items()
            },
        )

    def ranked(self, keyword_weight: float) -> list[tuple[Chunk, float]]:
        """Every candidate, best first, by the weighted sum of its signals (scaled so that
        a chunk best on every signal scores 1)."""
        weights = (W_COSINE, keyword_weight * W_KEYWORD, W_WORDS, W_SENTENCE)
        total = sum(weights)
        scored = [
            (
                chunk,
                sum(
                    w * signal.get(i, 0.0)
                    for w, signal in zip(
                        weights, (self.cosine, self.keyword, self.words, self.sentence)
                    )
                )
                / total,
            )
            for i, chunk in self.chunks.items()
        ]
        return sorted(scored, key=lambda pair: -pair[1])


def agreement(chunk_id: str, dense: Ranked, lexical: Ranked) -> float:
    """The mean of 1/rank of a chunk in both candidate lists (0 where it is absent)."""
    ranks = [
        next((1 / r for r, (c, _) in enumerate(found, 1) if c.id == chunk_id), 0.0)
        for found in (dense, lexical)
    ]
    return sum(ranks) / 2


def best_sentence(chunk: Chunk, document: Sentences, vector: np.ndarray) -> float:
    """The best cosine similarity between the query and a sentence of the chunk."""
    inside = document.overlapping(chunk.start, chunk.end)
    return float((document.vectors[inside.start : inside.stop] @ vector).max()) if inside else 0.0


def word_overlap(
    query: str, chunks: list[Chunk], synonyms: dict[str, list[frozenset[str]]] | None = None
) -> dict[str, float]:
    """Each chunk's IDF-weighted share of the query's content words (IDF among the
    candidates: a word every candidate has tells little); a word counts as held where a
    chunk holds it or every term of one of its synonyms."""
    wanted = content_terms(query)
    held = {c.id: holds(text_terms(c.text), wanted, synonyms or {}) for c in chunks}
    df = Counter(t for terms in held.values() for t in terms)
    weights = {t: math.log((len(chunks) + 1) / (df[t] + 0.5)) for t in wanted}
    total = sum(weights.values()) or 1.0
    return {i: sum(weights[t] for t in terms) / total for i, terms in held.items()}


def holds(
    terms: frozenset[str], wanted: set[str], synonyms: dict[str, list[frozenset[str]]]
) -> set[str]:
    """The wanted terms a text with these terms holds, itself or by a synonym."""
    return {t for t in wanted if t in terms or any(other <= terms for other in synonyms.get(t, ()))}


def collapse_duplicates(
    ranked: list[tuple[Chunk, float]], limit: int | None = None
) -> list[tuple[Chunk, float]]:
    """The ranking (its first `limit`, if given) without chunks that mostly repeat a
    better-ranked one (the articles quote each other): a result list should not be three
    copies of one passage."""
    kept: list[tuple[Chunk, float]] = []
    shingles: list[frozenset[tuple[str, ...]]] = []
    for chunk, score in ranked:
        if limit is not None and len(kept) == limit:
            break
        mine = trigrams(chunk.text)
        if any(jaccard(mine, theirs) >= DUPLICATE for theirs in shingles):
            continue
        kept.append((chunk, score))
        shingles.append(mine)
    return kept


@lru_cache(maxsize=8192)
def trigrams(text: str) -> frozenset[tuple[str, ...]]:
    """The text's word trigrams (chunks recur across questions, so they are kept)."""
    tokens = words(text)
    return frozenset(tuple(tokens[i : i + 3]) for i in range(max(len(tokens) - 2, 1)))


def jaccard(a: set, b: set) -> float:
    """|a ∩ b| / |a ∪ b|."""
    return len(a & b) / (len(a | b) or 1)
