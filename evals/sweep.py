"""Retrieval variants side by side on one dataset, from one pass over its questions:
each question's candidates from both indexes are gathered once, with every signal a
variant could use, and each variant ranks them (evals/README.md has the tables).

    .venv/bin/rag eval sweep --dataset evals/squad-dev-48/questions.jsonl \
        --corpus evals/squad-dev-48/corpus --limit 2000
"""

import pickle
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean

from evals import metrics
from evals.datasets import load_dataset
from evals.runner import eval_pipeline, spread
from rag.models import Chunk
from rag.retrieval import Signals, collapse_duplicates
from rag.settings import load_settings

POOL = 50  # candidates taken from each index; variants use the first `candidates` of them
RRF_K = 60  # reciprocal rank fusion's damping constant (Cormack et al. 2009)


@dataclass
class OfferedChunk:
    """One chunk offered for a question, with every signal a variant may rank by."""

    chunk: Chunk
    dense_rank: int | None
    keyword_rank: int | None
    cosine: float
    keyword: float  # BM25 over the best among the question's candidates
    words: float
    sentence: float
    relevant: bool


def gather(pipeline, record, pool: int) -> list[OfferedChunk]:  # noqa: ANN001
    """Both indexes' candidates for one question, with the signals retrieval computes."""
    vector = pipeline.retriever.query_vector(record.question)
    dense, lexical, documents = pipeline.retriever.candidates(record.question, vector, pool)
    signals = Signals.of(
        record.question,
        vector,
        dense,
        lexical,
        pipeline.index.store,
        documents,
        pipeline.retriever.synonyms(record.question),
    )
    dense_rank = {c.id: r for r, (c, _) in enumerate(dense, 1)}
    keyword_rank = {c.id: r for r, (c, _) in enumerate(lexical, 1)}
    return [
        OfferedChunk(
            chunk,
            dense_rank.get(i),
            keyword_rank.get(i),
            signals.cosine[i],
            signals.keyword.get(i, 0.0),
            signals.words[i],
            signals.sentence[i],
            metrics.relevant(chunk.source, chunk.text, record),
        )
        for i, chunk in signals.chunks.items()
    ]


def rrf(rank: int | None, limit: int) -> float:
    """Reciprocal rank fusion's share from one list (none past the candidates used)."""
    return 1.0 / (RRF_K + rank) if rank and rank <= limit else 0.0


Variant = Callable[[OfferedChunk], float | None]  # None: not a candidate for this variant


def variants(n: int) -> dict[str, Variant]:
    """The rankings compared, each over the first n candidates of its lists."""
    dense_only = lambda c: c.cosine if c.dense_rank and c.dense_rank <= n else None  # noqa: E731
    keyword_only = lambda c: c.keyword if c.keyword_rank and c.keyword_rank <= n else None  # noqa: E731

    def in_dense(score: Callable[[OfferedChunk], float]) -> Variant:
        return lambda c: score(c) if c.dense_rank and c.dense_rank <= n else None

    def in_either(score: Callable[[OfferedChunk], float]) -> Variant:
        return lambda c: (
            score(c)
            if (c.dense_rank and c.dense_rank <= n) or (c.keyword_rank and c.keyword_rank <= n)
            else None
        )

    def fused(c: OfferedChunk, keyword: float = 1.0) -> float:
        return (rrf(c.dense_rank, n) + keyword * rrf(c.keyword_rank, n)) * RRF_K / 2

    found = {
        "dense": dense_only,
        "bm25": keyword_only,
        "dense + words (before)": in_dense(lambda c: c.cosine + 0.3 * c.words),
        "rrf": in_either(fused),
        "rrf, keyword x2": in_either(lambda c: fused(c, 2.0)),
        "rrf + 0.3 words + 0.5 sentence": in_either(
            lambda c: fused(c) + 0.3 * c.words + 0.5 * c.sentence
        ),
        "cosine + 0.3 words + 0.5 sentence": in_either(
            lambda c: c.cosine + 0.3 * c.words + 0.5 * c.sentence
        ),
    }
    for a, b, d in (
        (0.2, 0.3, 0.0),
        (0.0, 0.3, 0.5),
        (0.2, 0.0, 0.5),
        (0.2, 0.3, 0.5),
        (0.1, 0.3, 0.5),
        (0.3, 0.3, 0.5),
        (0.2, 0.2, 0.5),
        (0.2, 0.4, 0.5),
        (0.2, 0.3, 0.35),
        (0.2, 0.3, 0.75),
        (0.2, 0.3, 1.0),
        (0.3, 0.3, 0.75),
    ):
        found[f"cosine + {a} bm25 + {b} words + {d} sentence"] = in_either(
            lambda c, a=a, b=b, d=d: c.cosine + a * c.keyword + b * c.words + d * c.sentence
        )
    return found


def rank_of_first_relevant(
    candidates: list[OfferedChunk], variant: Variant, collapse: bool
) -> int | None:
    """1-based rank of the first relevant chunk in the variant's ranking."""
    scored = [(c, s) for c in candidates if (s := variant(c)) is not None]
    ranked = sorted(scored, key=lambda pair: -pair[1])
    if collapse:  # only the ranks up to the first relevant chunk matter
        first = next((r for r, (c, _) in enumerate(ranked, 1) if c.relevant), None)
        if first is None:
            return None
        by_id = {c.chunk.id: c for c, _ in ranked}
        kept = collapse_duplicates([(c.chunk, s) for c, s in ranked[:first]])
        ranked = [(by_id[chunk.id], s) for chunk, s in kept]
    return next((r for r, (c, _) in enumerate(ranked, 1) if c.relevant), None)


def sweep(
    dataset: Path,
    corpus: Path,
    limit: int | None = None,
    candidates: Sequence[int] = (30,),
    with_collapsed: bool = False,
) -> None:
    """Rank every answerable question's candidates by every variant; print the table (and,
    with_collapsed, the same with near-duplicates collapsed)."""
    settings = load_settings()
    records = [r for r in spread(load_dataset(dataset), limit) if r.answerable]
    pipeline = eval_pipeline(settings, corpus)
    print(
        f"{len(records)} answerable questions; chunks "
        f"{settings.chunking.chunk_tokens}/{settings.chunking.overlap_tokens}",
        file=sys.stderr,
    )
    saved = settings.eval.cache_dir / (
        f"sweep-{dataset.stem}-{len(records)}-"
        f"{settings.chunking.chunk_tokens}-"
        f"{settings.chunking.overlap_tokens}"
        f"{'-capitals' if settings.retrieval.capitals else ''}.pickle"
    )
    if saved.is_file():  # the candidates do not change while the index does not
        gathered = pickle.loads(saved.read_bytes())
    else:
        gathered = []
        for done, record in enumerate(records, 1):
            gathered.append(gather(pipeline, record, POOL))
            if done % max(len(records) // 10, 1) == 0:
                print(f"  {done}/{len(records)} questions", file=sys.stderr)
        saved.write_bytes(pickle.dumps(gathered))
    print(
        "| variant | candidates | collapse | hit@1 | hit@3 | hit@5 | mrr |\n"
        "|---|---|---|---|---|---|---|"
    )
    for n in candidates:
        for name, variant in variants(n).items():
            for collapse in (False, True) if with_collapsed else (False,):
                ranks = [rank_of_first_relevant(c, variant, collapse) for c in gathered]
                cells = [fmean(metrics.hit_at(r, k) for r in ranks) for k in (1, 3, 5)]
                cells.append(fmean(metrics.reciprocal_rank(r) for r in ranks))
                print(
                    f"| {name} | {n} | {'yes' if collapse else 'no'} | "
                    + " | ".join(f"{v:.3f}" for v in cells)
                    + " |",
                    flush=True,
                )
