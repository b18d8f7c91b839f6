"""The scores a reader cares about, each a small pure function over one answer or hit list."""

import re
from collections.abc import Sequence

from evals.datasets import EvalRecord, GoldQuote
from rag.models import Answer, Citation, SearchHit

MIN_OVERLAP = 0.5  # a chunk holds the evidence when it holds at least half of its characters


def squash(text: str) -> str:
    """Lower-cased with all whitespace removed, for case- and space-insensitive matching."""
    return re.sub(r"\s+", "", text.lower())


def quotes_gold(text: str, evidence: GoldQuote) -> bool:
    """Whether text contains the evidence quote, or at least half of it when cut by a
    chunk boundary (its start or its end)."""
    needle, hay = squash(evidence.quote), squash(text)
    if needle in hay:
        return True
    half = max(int(len(needle) * MIN_OVERLAP), 12)
    return len(needle) >= 24 and (needle[:half] in hay or needle[-half:] in hay)


def relevant(source: str, text: str, record: EvalRecord) -> bool:
    """A retrieved chunk or quote is relevant when it holds one of the record's evidence."""
    return any((e.source in (None, source)) and quotes_gold(text, e) for e in record.evidence)


def first_relevant_rank(hits: Sequence[SearchHit], record: EvalRecord) -> int | None:
    """1-based rank of the first relevant hit, decided by text (chunk ids change)."""
    for rank, hit in enumerate(hits, 1):
        if relevant(hit.source, hit.text, record):
            return rank
    return None


def hit_at(rank: int | None, k: int) -> float:
    """1.0 when a relevant hit is within the top k."""
    return float(rank is not None and rank <= k)


def reciprocal_rank(rank: int | None) -> float:
    """1/rank of the first relevant hit, 0 when none."""
    return 1.0 / rank if rank else 0.0


def correct(answer: Answer, record: EvalRecord) -> bool:
    """Unanswerable: refused. Otherwise every must_contain group appears (any alternative);
    with no groups (LabelledRagDataset), a cited quote must hold a reference context."""
    if not record.answerable:
        return answer.refused
    if answer.refused:
        return False
    if not record.must_contain:
        return cited_support(answer.citations, record)
    text = answer.answer.lower()
    return all(any(alt.lower() in text for alt in group) for group in record.must_contain)


def cited_support(citations: Sequence[Citation], record: EvalRecord) -> bool:
    """Some cited quote holds the evidence (or, for squad, a gold answer) — or overlaps the
    evidence's sentence: a quote inside the evidence passage supports it too."""
    for c in citations:
        if relevant(c.source, c.quote, record):
            return True
        if any(
            e.source in (None, c.source)
            and len(c.quote) >= 24
            and squash(c.quote) in squash(e.quote)
            for e in record.evidence
        ):
            return True
    return False


def citation_problems(answer: Answer, source_texts: dict[str, str]) -> list[str]:
    """What is wrong with the answer's citations; empty when every [n] resolves to a
    returned citation whose quote is exactly its source's text at its offsets."""
    problems, by_index = [], {c.index: c for c in answer.citations}
    for marker in re.findall(r"\[(\d+)\]", answer.answer):
        if int(marker) not in by_index:
            problems.append(f"[{marker}] has no citation")
    for c in answer.citations:
        text = source_texts.get(c.source)
        if text is None:
            problems.append(f"[{c.index}] cites unknown source {c.source}")
        elif text[c.start : c.end] != c.quote:
            problems.append(f"[{c.index}] quote differs from {c.source}[{c.start}:{c.end}]")
    if not answer.refused and not answer.citations:
        problems.append("an answer with no citation")
    return problems


def refusal_scores(refused: Sequence[bool], answerable: Sequence[bool]) -> tuple[float, float]:
    """(precision, recall) of refusing, taking the unanswerable questions as positives."""
    true_pos = sum(r and not a for r, a in zip(refused, answerable))
    precision = true_pos / sum(refused) if any(refused) else 1.0
    unanswerable = sum(not a for a in answerable)
    recall = true_pos / unanswerable if unanswerable else 1.0
    return precision, recall


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def word_count(text: str) -> int:
    """Words in the answer, markers excluded."""
    return len(re.sub(r"\[\d+\]", " ", text).split())
