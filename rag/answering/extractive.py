"""The answerer that writes nothing: quote the retrieved sentences that best answer the
question.

Each sentence is scored by meaning (cosine similarity with the question), by how much of
the question's weighted content words it and its neighbours contain, and by how well its
chunk was retrieved. When even the best is weak, the answer is a refusal instead of an
off-topic quote. Otherwise the reader (a cross-encoder, when there is one) reads the best
few with the question and its best few become the answer, each followed by its citation:
word overlap finds the passage, and also ranks high a sentence on the topic that does not
answer, which reading puts below the one that does.
"""

import math
import threading
from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.answering import REFUSAL, Draft, pieces
from rag.answering.answerability import (ASKS_QUANTITY, STATES_QUANTITY, AnswerabilityModel,
                                         Evidence, features)
from rag.embedding import Embedder
from rag.models import Citation
from rag.reader import MS_MARCO, Reader
from rag.retrieval import Retrieved
from rag.settings import LLMSettings, ReaderSettings
from rag.text import Span, content_terms, instruction_like, text_terms, words

# Weights of the three signals; chosen on the golden set and squad-dev-48 (evals/README.md).
W_MEANING, W_WORDS, W_CHUNK = 0.5, 0.35, 0.15
NEIGHBOUR_CREDIT = 0.5  # a question word found only next to the sentence counts half
CLOSE_TO_BEST = 0.06  # further sentences must score within this of the best one
MIN_WORDS = 4
FOCUS_SHARE = 0.7  # in a follow-up, the turn's own words against the conversation's
WRONG_TYPE = 0.1  # "how many" or "when" asked, and the sentence states no number or date


@dataclass
class Candidate:
    """A sentence of a retrieved chunk, with where it came from."""

    span: Span
    source: str
    title: str
    chunk_score: float
    terms: set[str]
    neighbour_terms: set[str]
    neighbours: list[Span] = field(default_factory=list)  # it and the sentences beside it
    score: float = 0.0
    similarity: float = 0.0  # its vector against the question's
    overlap: float = 0.0  # the weighted share of the question's words it and its neighbours hold


class ExtractiveAnswerer:
    """Answers by quoting; never writes a word the articles do not contain."""

    name = "extractive"

    def __init__(self, embedder: Embedder, settings: LLMSettings,
                 reader: "ChosenBy | None" = None) -> None:
        self.embedder = embedder
        self.settings = settings
        self.reader = reader
        self.model = (AnswerabilityModel.load(settings.refusal_model)
                      if settings.refusal == "model" else None)
        if self.model is None:
            self.threshold = settings.min_evidence  # on the best sentence's score
        else:  # on the model's probability
            self.threshold = (self.model.threshold if settings.refusal_threshold is None
                              else settings.refusal_threshold)

    def answer(self, question: str, retrieved: Retrieved) -> Draft:
        """Up to max_sentences quoted sentences, each with its [n], or a refusal."""
        pool, vectors = self.ranked(question, retrieved)
        if not self.answerable(question, retrieved, pool):
            return Draft(REFUSAL, refused=True)
        return compose(self.select(retrieved.focus or question, pool, vectors))

    def answerable(self, question: str, retrieved: Retrieved, pool: list[Candidate]) -> bool:
        """Whether the evidence answers the question: the answerability model's probability
        (or, with RAG_LLM__REFUSAL=threshold, the best sentence's score) reaches the
        threshold. Every provider asks this before anything is written."""
        if not pool:
            return False
        if self.model is None:
            return pool[0].score >= self.threshold
        return self.probability(question, retrieved, pool) >= self.threshold

    def probability(self, question: str, retrieved: Retrieved, pool: list[Candidate]) -> float:
        """The model's probability that the articles answer the question."""
        return self.model.probability(features(retrieved.focus or question,
                                               evidence_of(question, retrieved, pool)))

    def ranked(self, question: str, retrieved: Retrieved) -> tuple[list[Candidate], np.ndarray]:
        """Every candidate sentence, scored, best first, with its stored vector."""
        pool, vectors = candidates(retrieved)
        if not pool:
            return [], np.empty((0, 0))
        focus = retrieved.focus or question
        score(pool, vectors @ self.question_vector(retrieved), weighted_terms(question, focus),
              bool(ASKS_QUANTITY.match(focus)))
        order = sorted(range(len(pool)), key=lambda i: -pool[i].score)
        return [pool[i] for i in order], vectors[order]

    def question_vector(self, retrieved: Retrieved) -> np.ndarray:
        """The question's meaning; in a follow-up, mostly what the turn itself asked."""
        if not retrieved.focus:
            return retrieved.vector
        blend = FOCUS_SHARE * self.embedder.embed([retrieved.focus])[0] + (
            1 - FOCUS_SHARE) * retrieved.vector
        return blend / np.linalg.norm(blend)

    def stream(self, question: str, retrieved: Retrieved) -> Generator[str, None, Draft]:
        """The chosen quotes are all known at once; they are sent word by word."""
        draft = self.answer(question, retrieved)
        yield from pieces(draft.text)
        return draft

    def select(self, question: str, pool: list[Candidate], vectors: np.ndarray) -> list[Candidate]:
        """The best sentence and close runners-up that say something new (pool best first):
        by the reader's scores of the first few, when there is a reader, else by the pool's.
        In a follow-up the reader reads what the turn itself asked (its pronouns resolved),
        not the conversation joined to it."""
        if self.reader is None:
            ranking = [(i, c.score) for i, c in enumerate(pool)]
            margin = CLOSE_TO_BEST
        else:
            ranking = self.reader.rank(question, [c.span.text for c in pool])
            margin = self.reader.margin
        best = ranking[0][1]
        picked: list[int] = []
        for i, value in ranking:
            if len(picked) == self.settings.max_sentences or value < best - margin:
                break
            if all(float(vectors[i] @ vectors[j]) < 0.9 for j in picked):
                picked.append(i)
        return [pool[i] for i in picked]


class ChosenBy:
    """The reader as the answerer uses it (RAG_READER__*): how many of the best candidates
    it reads, and how close to the best one a further sentence must score. Its model loads
    on first use or at load(): ingesting and searching never need it."""

    def __init__(self, settings: ReaderSettings, models_dir: Path) -> None:
        self.settings = settings
        self.folder = settings.model or models_dir / MS_MARCO.folder
        self.margin = settings.margin
        self._reader: Reader | None = None
        self._loading = threading.Lock()

    def load(self) -> Reader:
        """The cross-encoder, loaded once; ModelUnavailable naming the pull command when
        its files are missing or altered."""
        with self._loading:
            if self._reader is None:
                self._reader = Reader.load(self.folder, threads=self.settings.threads)
            return self._reader

    def rank(self, question: str, texts: list[str]) -> list[tuple[int, float]]:
        """(index, logit) of the first `pairs` texts, best first."""
        logits = self.load().score(question, texts[:self.settings.pairs], self.settings.batch)
        return sorted(enumerate(logits.tolist()), key=lambda pair: -pair[1])


def candidates(retrieved: Retrieved) -> tuple[list[Candidate], np.ndarray]:
    """Every distinct sentence that overlaps a retrieved chunk and could stand as an
    answer, whole even where the chunk cuts it, with its vector stored at ingest."""
    pool, rows, seen = [], [], set()
    for chunk, chunk_score in retrieved.chunks:
        document = retrieved.sentences[(chunk.source, chunk.content_hash)]
        spans = document.spans
        for i in document.overlapping(chunk.start, chunk.end):
            span = spans[i]
            if ((chunk.source, span.start) in seen or not answer_like(span.text, chunk.title)
                    or instruction_like(span.text)):  # orders to a model are never quoted
                continue
            seen.add((chunk.source, span.start))
            neighbours = spans[max(i - 1, 0):i + 2]
            around = set().union(*(text_terms(s.text) for s in neighbours if s is not span))
            pool.append(Candidate(span, chunk.source, chunk.title, chunk_score,
                                  set(text_terms(span.text)), around, neighbours))
            rows.append(document.vectors[i])
    return pool, np.asarray(rows, dtype=np.float32)


def answer_like(text: str, title: str) -> bool:
    """A statement of a few words, not the headline, a heading fragment or a question."""
    return (sum(w.isalpha() for w in words(text)) >= MIN_WORDS and not text.endswith("?")
            and text != title)


def weighted_terms(question: str, focus: str) -> dict[str, float]:
    """Question words and how much each counts: the conversation's words, in a follow-up,
    count for less than the turn's own."""
    own = content_terms(focus)
    return {t: 1.0 if t in own else 1 - FOCUS_SHARE for t in content_terms(question) | own}


def score(pool: list[Candidate], meaning: np.ndarray, question_terms: dict[str, float],
          asks_quantity: bool = False) -> None:
    """Set each candidate's score from meaning, weighted word overlap and chunk rank, less
    a penalty when the question asks for a number or date the sentence does not state."""
    weights = term_weights(pool, question_terms)
    total = sum(weights.values()) or 1.0
    for candidate, similarity in zip(pool, meaning):
        found = sum(w for t, w in weights.items() if t in candidate.terms)
        nearby = sum(w for t, w in weights.items()
                     if t not in candidate.terms and t in candidate.neighbour_terms)
        candidate.similarity = float(similarity)
        candidate.overlap = (found + NEIGHBOUR_CREDIT * nearby) / total
        candidate.score = (W_MEANING * candidate.similarity + W_WORDS * candidate.overlap
                           + W_CHUNK * candidate.chunk_score)
        if asks_quantity and not STATES_QUANTITY.search(candidate.span.text):
            candidate.score -= WRONG_TYPE


def term_weights(pool: list[Candidate], question_terms: dict[str, float]) -> dict[str, float]:
    """IDF of each question word among the candidates, times its own weight: a word every
    sentence has tells little, and a word none has (the thing asked about is missing)
    weighs the most."""
    df = Counter(t for c in pool for t in c.terms & question_terms.keys())
    n = len(pool)
    return {t: w * math.log((n + 1) / (df[t] + 0.5)) for t, w in question_terms.items()}


def evidence_of(question: str, retrieved: Retrieved, pool: list[Candidate]) -> Evidence:
    """What the answerability model is shown: the best candidate (pool best first)."""
    best = pool[0]
    focus = retrieved.focus or question
    return Evidence(
        text=best.span.text, around=" ".join(s.text for s in best.neighbours),
        chunk=retrieved.chunks[0][0].text if retrieved.chunks else "", score=best.score,
        similarity=best.similarity, overlap=best.overlap,
        runner_up=pool[1].score if len(pool) > 1 else 0.0,
        chunk_score=retrieved.chunks[0][1] if retrieved.chunks else 0.0,
        agreement=retrieved.agreement,
        term_weights=term_weights(pool, weighted_terms(question, focus)))


def compose(chosen: list[Candidate]) -> Draft:
    """Join the quotes, each followed by the marker of its citation."""
    citations = [
        Citation(index=n, source=c.source, title=c.title, quote=c.span.text,
                 start=c.span.start, end=c.span.end, score=round(c.score, 4))
        for n, c in enumerate(chosen, 1)
    ]
    text = " ".join(f"{c.quote} [{c.index}]" for c in citations)
    return Draft(text, citations)
