"""The evidence stage every answerer and the refusal trainer share: from the retrieved
chunks to the sentences worth quoting and the decision to answer or refuse.

1. Candidates: every sentence of the retrieved chunks that could stand as an answer, scored
   by meaning (cosine similarity with the question), by how much of the question's
   weighted content words it and its neighbours hold, and by how well its chunk was
   retrieved.
2. Reading: the reader (a cross-encoder, when there is one) reads the best few candidates
   with the question. Word overlap finds the passage, and also ranks high a sentence on the
   topic that does not answer, which reading puts below the one that does.
3. The decision: the answerability model's probability from features of the question and
   the evidence, the reader's scores and the question's names, numbers and kind of answer
   among them (or, by the threshold rule, the best candidate's score).
4. The choice: the best sentence and close runners-up that say something new.
"""

import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from rag.answering.answerability import (
    ASKS_QUANTITY,
    STATES_QUANTITY,
    AnswerabilityModel,
    Evidence,
    features,
)
from rag.embedding import Embedder
from rag.errors import ConfigError
from rag.reader import Reader, locate
from rag.retrieval import Retrieved
from rag.settings import LLMSettings, ReaderSettings
from rag.text import Span, content_terms, instruction_like, text_terms, words

# Weights of the three signals; chosen on the golden set and squad-dev-48 (evals/README.md).
W_MEANING, W_WORDS, W_CHUNK = 0.5, 0.35, 0.15
NEIGHBOUR_CREDIT = 0.5  # a question word found only next to the sentence counts half
CLOSE_TO_BEST = 0.06  # without a reader, further sentences must score within this of the best
MIN_WORDS = 4
FOCUS_SHARE = 0.7  # in a follow-up, the turn's own words against the conversation's
WRONG_TYPE = 0.1  # "how many" or "when" asked, and the sentence states no number or date
SAME_THING = 0.9  # cosine above which a further sentence says nothing new


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


@dataclass
class Findings:
    """What the stage found for one question."""

    pool: list[Candidate]  # every candidate, best score first
    read: list[tuple[int, float]]  # (pool index, reader logit) of those read, best first
    chosen: list[Candidate]  # what an extractive answer quotes, best first
    evidence: Evidence | None  # what the decision was made from (None: nothing retrieved)
    probability: float | None  # the answerability model's, when it decides
    answerable: bool


class BudgetedReader:
    """The reader as the stage uses it (RAG_READER__*): how many of the best candidates it
    reads, and how close to the best one a further sentence must score. Its model loads on
    first use or at load(): ingesting and searching never need it."""

    def __init__(self, settings: ReaderSettings, models_dir: Path) -> None:
        self.settings = settings
        self.models_dir = models_dir
        self.margin = settings.margin
        self._reader: Reader | None = None
        self._loading = threading.Lock()

    def folder(self) -> Path:
        """Where its files are (a Hugging Face id's are fetched into the hub's cache)."""
        return locate(self.settings.model, self.models_dir)

    def load(self) -> Reader:
        """The cross-encoder, loaded once; ModelUnavailable naming the pull command when
        its files are missing or altered."""
        with self._loading:
            if self._reader is None:
                self._reader = Reader.load(self.folder(), threads=self.settings.threads)
            return self._reader

    def rank(
        self, question: str, texts: list[str], pairs: int | None = None
    ) -> list[tuple[int, float]]:
        """(index, logit) of the first `pairs` texts (default: the budget's), best first."""
        logits = self.load().score(
            question, texts[: pairs or self.settings.pairs], self.settings.batch
        )
        return sorted(enumerate(logits.tolist()), key=lambda pair: -pair[1])


def refusal_rule(settings: LLMSettings, reader: bool) -> Literal["threshold", "model"]:
    """The decision in use: RAG_LLM__REFUSAL, where `auto` is the answerability model when
    there is a reader and the threshold rule when there is none."""
    if settings.refusal == "auto":
        return "model" if reader else "threshold"
    return settings.refusal


class EvidenceStage:
    """Candidates, the reader's scores, the decision and the chosen sentences."""

    def __init__(
        self, embedder: Embedder, settings: LLMSettings, reader: BudgetedReader | None = None
    ) -> None:
        self.embedder = embedder
        self.settings = settings
        self.reader = reader
        rule = refusal_rule(settings, reader is not None)
        self.model = AnswerabilityModel.load(settings.refusal_model) if rule == "model" else None
        decides = self.model is not None and self.model.reads_reader
        # the reader reads when its scores choose the quotes or decide
        self.reads = reader is not None and (reader.settings.choose or decides)
        if self.model is None:
            self.threshold = settings.min_evidence  # on the best sentence's score
            return
        if reader is None and decides:
            raise ConfigError(
                "the answerability model reads the reader's scores: turn the "
                "reader on (RAG_READER__ENABLED=true) or refuse by "
                "RAG_LLM__REFUSAL=threshold",
                variable="RAG_LLM__REFUSAL",
            )
        self.threshold = (
            self.model.threshold
            if settings.refusal_threshold is None
            else settings.refusal_threshold
        )  # on the model's probability

    def find(self, question: str, retrieved: Retrieved) -> Findings:
        """Everything the answerers need for one question. In a follow-up the reader and the
        decision read what the turn itself asked (its pronouns resolved), not the
        conversation joined to it."""
        pool, vectors = self.ranked(question, retrieved)
        if not pool:
            return Findings([], [], [], None, None, False)
        focus = retrieved.focus or question
        read = self.reader.rank(focus, [c.span.text for c in pool]) if self.reads else []
        evidence = evidence_of(question, retrieved, pool, read)
        probability = None
        if self.model is None:
            answerable = pool[0].score >= self.threshold
        else:
            probability = self.model.probability(features(focus, evidence))
            answerable = probability >= self.threshold
        chosen = self.select(pool, vectors, read)
        return Findings(pool, read, chosen, evidence, probability, answerable)

    def ranked(self, question: str, retrieved: Retrieved) -> tuple[list[Candidate], np.ndarray]:
        """Every candidate sentence, scored, best first, with its stored vector."""
        pool, vectors = candidates(retrieved)
        if not pool:
            return [], np.empty((0, 0))
        focus = retrieved.focus or question
        score(
            pool,
            vectors @ self.question_vector(retrieved),
            weighted_terms(question, focus),
            bool(ASKS_QUANTITY.match(focus)),
        )
        order = sorted(range(len(pool)), key=lambda i: -pool[i].score)
        return [pool[i] for i in order], vectors[order]

    def question_vector(self, retrieved: Retrieved) -> np.ndarray:
        """The question's meaning; in a follow-up, mostly what the turn itself asked."""
        if not retrieved.focus:
            return retrieved.vector
        blend = (
            FOCUS_SHARE * self.embedder.embed([retrieved.focus])[0]
            + (1 - FOCUS_SHARE) * retrieved.vector
        )
        return blend / np.linalg.norm(blend)

    def select(
        self, pool: list[Candidate], vectors: np.ndarray, read: list[tuple[int, float]]
    ) -> list[Candidate]:
        """The best sentence and close runners-up that say something new (pool best
        first): by the reader's scores when it read them and chooses (RAG_READER__CHOOSE),
        else by the pool's."""
        if read and self.reader.settings.choose:
            ranking, margin = read, self.reader.margin
        else:
            ranking, margin = [(i, c.score) for i, c in enumerate(pool)], CLOSE_TO_BEST
        best = ranking[0][1]
        picked: list[int] = []
        for i, value in ranking:
            if len(picked) == self.settings.max_sentences or value < best - margin:
                break
            if all(float(vectors[i] @ vectors[j]) < SAME_THING for j in picked):
                picked.append(i)
        return [pool[i] for i in picked]


def candidates(retrieved: Retrieved) -> tuple[list[Candidate], np.ndarray]:
    """Every distinct sentence that overlaps a retrieved chunk and could stand as an
    answer, whole even where the chunk cuts it, with its vector stored at ingest."""
    pool, rows, seen = [], [], set()
    for chunk, chunk_score in retrieved.chunks:
        document = retrieved.sentences[(chunk.source, chunk.content_hash)]
        spans = document.spans
        for i in document.overlapping(chunk.start, chunk.end):
            span = spans[i]
            if (
                (chunk.source, span.start) in seen
                or not answer_like(span.text, chunk.title)
                or instruction_like(span.text)
            ):  # orders to a model are never quoted
                continue
            seen.add((chunk.source, span.start))
            neighbours = spans[max(i - 1, 0) : i + 2]
            around = set().union(*(text_terms(s.text) for s in neighbours if s is not span))
            pool.append(
                Candidate(
                    span,
                    chunk.source,
                    chunk.title,
                    chunk_score,
                    set(text_terms(span.text)),
                    around,
                    neighbours,
                )
            )
            rows.append(document.vectors[i])
    return pool, np.asarray(rows, dtype=np.float32)


def answer_like(text: str, title: str) -> bool:
    """A statement of a few words, not the headline, a heading fragment or a question."""
    return (
        sum(w.isalpha() for w in words(text)) >= MIN_WORDS
        and not text.endswith("?")
        and text != title
    )


def weighted_terms(question: str, focus: str) -> dict[str, float]:
    """Question words and how much each counts: the conversation's words, in a follow-up,
    count for less than the turn's own."""
    own = content_terms(focus)
    return {t: 1.0 if t in own else 1 - FOCUS_SHARE for t in content_terms(question) | own}


def score(
    pool: list[Candidate],
    meaning: np.ndarray,
    question_terms: dict[str, float],
    asks_quantity: bool = False,
) -> None:
    """Set each candidate's score from meaning, weighted word overlap and chunk rank, less
    a penalty when the question asks for a number or date the sentence does not state."""
    weights = term_weights(pool, question_terms)
    total = sum(weights.values()) or 1.0
    for candidate, similarity in zip(pool, meaning):
        found = sum(w for t, w in weights.items() if t in candidate.terms)
        nearby = sum(
            w
            for t, w in weights.items()
            if t not in candidate.terms and t in candidate.neighbour_terms
        )
        candidate.similarity = float(similarity)
        candidate.overlap = (found + NEIGHBOUR_CREDIT * nearby) / total
        candidate.score = (
            W_MEANING * candidate.similarity
            + W_WORDS * candidate.overlap
            + W_CHUNK * candidate.chunk_score
        )
        if asks_quantity and not STATES_QUANTITY.search(candidate.span.text):
            candidate.score -= WRONG_TYPE


def term_weights(pool: list[Candidate], question_terms: dict[str, float]) -> dict[str, float]:
    """IDF of each question word among the candidates, times its own weight: a word every
    sentence has tells little, and a word none has (the thing asked about is missing)
    weighs the most."""
    df = Counter(t for c in pool for t in c.terms & question_terms.keys())
    n = len(pool)
    return {t: w * math.log((n + 1) / (df[t] + 0.5)) for t, w in question_terms.items()}


def evidence_of(
    question: str, retrieved: Retrieved, pool: list[Candidate], read: list[tuple[int, float]] = ()
) -> Evidence:
    """What the decision is shown: the best candidate by score (pool best first), the
    reader's logits in pool order and the sentence it read best, with its neighbours."""
    best = pool[0]
    focus = retrieved.focus or question
    logits = dict(read)
    top = pool[read[0][0]] if read else best
    return Evidence(
        text=best.span.text,
        around=" ".join(s.text for s in best.neighbours),
        chunk=retrieved.chunks[0][0].text if retrieved.chunks else "",
        score=best.score,
        similarity=best.similarity,
        overlap=best.overlap,
        runner_up=pool[1].score if len(pool) > 1 else 0.0,
        chunk_score=retrieved.chunks[0][1] if retrieved.chunks else 0.0,
        agreement=retrieved.agreement,
        term_weights=term_weights(pool, weighted_terms(question, focus)),
        logits=tuple(logits[i] for i in sorted(logits)),
        read_text=top.span.text,
        read_around=" ".join(s.text for s in top.neighbours),
    )
