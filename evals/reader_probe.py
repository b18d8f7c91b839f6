"""What the cross-encoder reader (rag/reader.py) would change, measured before it is wired in.

    .venv/bin/rag eval reader-probe --dataset D --corpus C [--limit N] [--pairs 12]
    .venv/bin/rag eval reader-probe --dataset D --corpus C --passages 5 --passages 10 --passages 20

With --passages: how the reader re-ranking the retrieved passages (the first N, whole)
moves the first relevant one (hit@1, hit@5, MRR of the first five), against retrieval
alone, and what it costs per question.

With --windows: what to read for the refusal decision. The ROC AUC of the reader's best
logit over the 5 best-scored sentences alone, 10 alone, 5 each with its neighbours, 3 with
their neighbours, and the 3 best chunks whole; and the ms per question of each.

Each question is retrieved and its candidate sentences ranked as the service does (the
extractive answerer's score); the reader then scores the first `pairs` of them. Printed:
how often the best sentence holds the gold answer, chosen by today's score and by the
reader (and how often any of those sentences does: the ceiling), how well each one's best
score tells answerable from unanswerable questions (ROC AUC), and the reader's time per
question. Needs `rag model pull ms-marco-minilm-l12`.
"""

import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from evals import metrics
from evals.datasets import EvalRecord, load_dataset
from evals.runner import eval_pipeline, spread
from rag.answering.evidence import BudgetedReader
from rag.settings import load_settings


def holds_answer(text: str, record: EvalRecord) -> bool:
    """Whether a text holds every must_contain group (any alternative), as correctness asks."""
    return all(any(a.lower() in text.lower() for a in group) for group in record.must_contain)


def auc(positives: list[float], negatives: list[float]) -> float:
    """P(a random positive scores above a random negative), ties counted half: the ROC AUC."""
    if not positives or not negatives:
        return float("nan")
    return float(
        roc_auc_score([True] * len(positives) + [False] * len(negatives), positives + negatives)
    )


def probe(dataset: Path, corpus: Path, limit: int | None, pairs: int) -> dict[str, float]:
    """The figures for one set."""
    settings = load_settings()
    reader = BudgetedReader(
        settings.reader, settings.llm.models_dir
    ).load()  # RAG_READER__MODEL too
    pipeline = eval_pipeline(settings, corpus)
    pipeline.warm_up()
    ranked = pipeline.answerer.stage.ranked
    today, ours, ceiling, best, costs = [], [], [], {True: ([], []), False: ([], [])}, []
    for record in spread(load_dataset(dataset), limit):
        retrieved = pipeline.retriever.retrieve(record.question, settings.retrieval.top_k)
        pool = ranked(record.question, retrieved)[0][:pairs]
        if not pool:
            continue
        began = time.perf_counter()
        scores = reader.score(record.question, [c.span.text for c in pool])
        costs.append(time.perf_counter() - began)
        best[record.answerable][0].append(pool[0].score)
        best[record.answerable][1].append(float(scores.max()))
        if record.answerable and record.must_contain:
            held = [holds_answer(c.span.text, record) for c in pool]
            today.append(held[0])
            ours.append(held[int(np.argmax(scores))])
            ceiling.append(any(held))
    return {
        "answerable questions": len(today),
        "best sentence holds it, today": np.mean(today),
        "best sentence holds it, reader": np.mean(ours),
        "any of them holds it": np.mean(ceiling),
        "refusal AUC, today's best score": auc(best[True][0], best[False][0]),
        "refusal AUC, reader's best logit": auc(best[True][1], best[False][1]),
        "reader ms per question, median": 1000 * statistics.median(costs),
        "reader ms per question, p95": 1000 * float(np.percentile(costs, 95)),
    }


def passages(dataset: Path, corpus: Path, limit: int | None, depths: list[int]) -> dict:
    """hit@1, hit@5 and MRR of retrieval's order and of the reader's order of its first N
    passages, for each N; the reader's ms per question."""
    settings = load_settings()
    reader = BudgetedReader(settings.reader, settings.llm.models_dir)
    pipeline = eval_pipeline(settings, corpus)
    pipeline.warm_up()
    ranks = {"retrieval": []} | {f"reader over {n}": [] for n in depths}
    costs = {n: [] for n in depths}
    records = [r for r in spread(load_dataset(dataset), limit) if r.answerable]
    for record in records:
        chunks = pipeline.retriever.retrieve(record.question, max(depths)).chunks
        relevant = [metrics.relevant(c.source, c.text, record) for c, _ in chunks]
        ranks["retrieval"].append(first(relevant))
        for n in depths:
            began = time.perf_counter()
            order = reader.rank(record.question, [c.text for c, _ in chunks[:n]], pairs=n)
            costs[n].append(time.perf_counter() - began)
            ranks[f"reader over {n}"].append(first([relevant[i] for i, _ in order]))
    figures = {"questions": len(records)}
    for name, found in ranks.items():
        figures[f"{name}: hit@1"] = float(np.mean([metrics.hit_at(r, 1) for r in found]))
        figures[f"{name}: hit@5"] = float(np.mean([metrics.hit_at(r, 5) for r in found]))
        figures[f"{name}: MRR@5"] = float(
            np.mean([metrics.reciprocal_rank(r) if r and r <= 5 else 0.0 for r in found])
        )
    for n in depths:
        figures[f"reader over {n}: ms per question, median"] = 1000 * statistics.median(costs[n])
    return figures


def windows(dataset: Path, corpus: Path, limit: int | None) -> dict:
    """The AUC and cost of the reader's best logit over each way of reading."""
    settings = load_settings()
    pipeline = eval_pipeline(settings, corpus)
    pipeline.warm_up()
    stage = pipeline.answerer.stage
    reader = BudgetedReader(settings.reader, settings.llm.models_dir).load()
    ways = {
        "5 sentences": lambda pool, chunks: [c.span.text for c in pool[:5]],
        "10 sentences": lambda pool, chunks: [c.span.text for c in pool[:10]],
        "5 with neighbours": lambda pool, chunks: [around(c) for c in pool[:5]],
        "3 with neighbours": lambda pool, chunks: [around(c) for c in pool[:3]],
        "3 chunks": lambda pool, chunks: [c.text for c, _ in chunks[:3]],
    }
    best = {way: {True: [], False: []} for way in ways}
    costs = {way: 0.0 for way in ways}
    asked = 0
    for record in spread(load_dataset(dataset), limit):
        retrieved = pipeline.retriever.retrieve(record.question, settings.retrieval.top_k)
        pool, _ = stage.ranked(record.question, retrieved)
        if not pool:
            continue
        asked += 1
        for way, texts in ways.items():
            began = time.perf_counter()
            logits = reader.score(record.question, texts(pool, retrieved.chunks))
            costs[way] += time.perf_counter() - began
            best[way][record.answerable].append(float(logits.max()))
    figures = {"questions": asked}
    for way in ways:
        figures[f"{way}: refusal AUC"] = auc(best[way][True], best[way][False])
        figures[f"{way}: ms per question"] = 1000 * costs[way] / max(asked, 1)
    return figures


def around(candidate) -> str:  # noqa: ANN001 - a OfferedChunk
    """A candidate sentence with its neighbours."""
    return " ".join(s.text for s in candidate.neighbours)


def first(relevant: list[bool]) -> int | None:
    """1-based rank of the first relevant passage."""
    return next((rank for rank, hit in enumerate(relevant, 1) if hit), None)


def run_probe(
    dataset: Path,
    corpus: Path,
    limit: int | None = None,
    pairs: int = 12,
    passages_read: Sequence[int] = (),
    compare_windows: bool = False,
) -> None:
    """Probe (or, asked, compare passage counts or windows) and print a table."""
    if compare_windows:
        figures = windows(dataset, corpus, limit)
    elif passages_read:
        figures = passages(dataset, corpus, limit, list(passages_read))
    else:
        figures = probe(dataset, corpus, limit, pairs)
    print(f"| {dataset} | |\n|---|---|")
    for name, value in figures.items():
        print(f"| {name} | {value:.3f} |" if isinstance(value, float) else f"| {name} | {value} |")
