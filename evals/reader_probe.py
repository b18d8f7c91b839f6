"""What the cross-encoder reader (rag/reader.py) would change, measured before it is wired in.

    .venv/bin/python -m evals.reader_probe --dataset D --corpus C [--limit N] [--pairs 12]

Each question is retrieved and its candidate sentences ranked as the service does (the
extractive answerer's score); the reader then scores the first `pairs` of them. Printed:
how often the best sentence holds the gold answer, chosen by today's score and by the
reader (and how often any of those sentences does: the ceiling), how well each one's best
score tells answerable from unanswerable questions (ROC AUC), and the reader's time per
question. Needs `rag model pull ms-marco-minilm-l12`.
"""

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from rag.answering.extractive import ChosenBy
from rag.settings import load_settings

from evals.datasets import EvalRecord, load_dataset
from evals.runner import eval_pipeline, spread


def holds_answer(text: str, record: EvalRecord) -> bool:
    """Whether a text holds every must_contain group (any alternative), as correctness asks."""
    return all(any(a.lower() in text.lower() for a in group) for group in record.must_contain)


def auc(positives: list[float], negatives: list[float]) -> float:
    """P(a random positive scores above a random negative), ties counted half."""
    if not positives or not negatives:
        return float("nan")
    pos, neg = np.array(positives)[:, None], np.array(negatives)[None, :]
    return float((pos > neg).mean() + 0.5 * (pos == neg).mean())


def probe(dataset: Path, corpus: Path, limit: int | None, pairs: int) -> dict[str, float]:
    """The figures for one set."""
    settings = load_settings()
    reader = ChosenBy(settings.reader, settings.llm.models_dir).load()  # RAG_READER__MODEL too
    pipeline = eval_pipeline(settings, corpus)
    pipeline.warm_up()
    ranked = pipeline.answerer.ranked
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
    return {"answerable questions": len(today), "best sentence holds it, today": np.mean(today),
            "best sentence holds it, reader": np.mean(ours), "any of them holds it": np.mean(ceiling),
            "refusal AUC, today's best score": auc(best[True][0], best[False][0]),
            "refusal AUC, reader's best logit": auc(best[True][1], best[False][1]),
            "reader ms per question, median": 1000 * statistics.median(costs),
            "reader ms per question, p95": 1000 * float(np.percentile(costs, 95))}


def main() -> None:
    """Parse the arguments, probe, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=Path("evals/golden.jsonl"))
    parser.add_argument("--corpus", type=Path, default=Path("seeds"))
    parser.add_argument("--limit", type=int)
    parser.add_argument("--pairs", type=int, default=12)
    args = parser.parse_args()
    figures = probe(args.dataset, args.corpus, args.limit, args.pairs)
    print(f"| {args.dataset} ({args.pairs} pairs) | |\n|---|---|")
    for name, value in figures.items():
        print(f"| {name} | {value:.3f} |" if isinstance(value, float) else f"| {name} | {value} |")


if __name__ == "__main__":
    main()
