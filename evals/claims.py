"""How well the citation check tells sentences their passage supports from sentences it
does not, on sentences that real small models wrote for the golden questions, each
labelled by hand (evals/claims.jsonl).

    rag eval claims                 # precision and recall of "kept" per threshold

Precision is the share of kept sentences that their passage really supports (what a reader
relies on); recall is the share of supported sentences that are kept (what the check costs).
"""

import json
from dataclasses import dataclass
from pathlib import Path

from evals.runner import source_texts
from rag.embedding import Embedder
from rag.verify import Checker, Claim, Passage

DATASET = Path(__file__).with_name("claims.jsonl")
CORPUS = Path(__file__).resolve().parents[1] / "seeds"
THRESHOLDS = (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)


@dataclass(frozen=True)
class LabelledClaim:
    """A generated sentence, the passage it cites (offsets into a seeds/ file), and whether
    that passage says it."""

    id: str
    question: str
    claim: str
    source: str
    start: int
    end: int
    supported: bool
    note: str = ""


@dataclass(frozen=True)
class Judged:
    """A labelled claim and the check's view of it: its support score, or None when it
    fails regardless of score (a figure the passage lacks, or nothing beyond the question)."""

    claim: LabelledClaim
    score: float | None
    reason: str


def load(path: Path = DATASET) -> list[LabelledClaim]:
    """The labelled claims."""
    return [
        LabelledClaim(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()
    ]


def judge(claims: list[LabelledClaim], embedder: Embedder, corpus: Path = CORPUS) -> list[Judged]:
    """Each claim checked against its passage, with the score kept for any threshold."""
    texts, judged = source_texts(corpus), []
    for c in claims:
        text = texts[c.source]
        passage = Passage(1, c.source, "", text[c.start : c.end], c.start, c.end)
        verdict = Checker([passage], embedder, 0.0, c.question).check(Claim(c.claim, (1,)))
        score = verdict.supported[0].score if verdict.supported else None
        judged.append(Judged(c, score, verdict.reason))
    return judged


def rates(judged: list[Judged], threshold: float) -> dict[str, float]:
    """Precision and recall of keeping, and accuracy, at one threshold."""
    kept = [j.score is not None and j.score >= threshold for j in judged]
    truth = [j.claim.supported for j in judged]
    true_kept = sum(k and t for k, t in zip(kept, truth))
    return {
        "threshold": threshold,
        "precision": true_kept / sum(kept) if any(kept) else 1.0,
        "recall": true_kept / sum(truth) if any(truth) else 1.0,
        "accuracy": sum(k == t for k, t in zip(kept, truth)) / len(judged),
        "kept": sum(kept),
    }


def support_sweep(dataset: Path = DATASET) -> None:
    """Print the sweep as a Markdown table."""
    from rag.embedding import make_embedder
    from rag.settings import load_settings

    settings = load_settings()
    claims = load(dataset)
    judged = judge(claims, make_embedder(settings.embedder))
    supported = sum(c.supported for c in claims)
    print(
        f"{len(claims)} claims, {supported} supported by their passage, "
        f"{len(claims) - supported} not; configured threshold {settings.llm.support}\n"
    )
    print("| threshold | precision | recall | accuracy | kept |\n|---|---|---|---|---|")
    for threshold in sorted({*THRESHOLDS, settings.llm.support}):
        r = rates(judged, threshold)
        print(
            f"| {threshold:.2f} | {r['precision']:.3f} | {r['recall']:.3f} | "
            f"{r['accuracy']:.3f} | {r['kept']} |"
        )
