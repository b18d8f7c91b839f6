"""Eval datasets in three formats (golden JSONL, squad-dev-48, LlamaIndex's
LabelledRagDataset), read into one internal record."""

import json
from pathlib import Path

from pydantic import BaseModel, Field

from rag.errors import SourceError


class GoldQuote(BaseModel):
    """A passage that answers the question: verbatim text of one source (or of any, if None)."""

    source: str | None = None
    quote: str


class EvalRecord(BaseModel):
    """One question, what a right answer must contain, and where the answer is written."""

    id: str
    question: str
    answer: str = ""  # a reference answer, for people reading reports
    must_contain: list[list[str]] = Field(default_factory=list)  # every group, any alternative
    evidence: list[GoldQuote] = Field(default_factory=list)
    answerable: bool = True
    kind: str = "single"
    article: str | None = None  # the file the question was written from (squad sets)


def load_dataset(path: Path) -> list[EvalRecord]:
    """Records from a file in any of the supported formats, told apart by their fields."""
    if not path.is_file():
        raise SourceError(f"{path}: no such dataset file", path=str(path))
    text = path.read_text(encoding="utf-8")
    try:
        if text.lstrip().startswith("{") and '"examples"' in text[:2000]:
            return from_labelled_rag(json.loads(text))
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"{path}: not JSON lines ({exc.msg}, line {exc.lineno})", path=str(path)
        ) from None
    if rows and "answers" in rows[0] and "doc" in rows[0]:
        return [from_squad(i, row) for i, row in enumerate(rows)]
    return [EvalRecord(**row) for row in rows]


def from_squad(index: int, row: dict) -> EvalRecord:
    """squad-dev-48 and squad2-dev-35: right if the answer contains any gold span (evidence
    is the gold spans in the question's article), or, for a question its article does not
    answer (`"answerable": false`, squad2), if the answer is a refusal."""
    answers = list(dict.fromkeys(row["answers"]))
    answerable = bool(row.get("answerable", True)) and bool(answers)
    return EvalRecord(
        id=f"squad-{index:05d}",
        question=row["question"],
        answer=answers[0] if answerable else "",
        must_contain=[answers] if answerable else [],
        evidence=[GoldQuote(source=row["doc"], quote=a) for a in answers] if answerable else [],
        answerable=answerable,
        kind="squad",
        article=row["doc"],
    )


def from_labelled_rag(data: dict) -> list[EvalRecord]:
    """LlamaIndex's LabelledRagDataset JSON: examples with query, reference_answer and
    reference_contexts; correctness then rests on the contexts being retrieved and cited."""
    records = []
    for i, example in enumerate(data["examples"]):
        contexts = example.get("reference_contexts") or []
        records.append(
            EvalRecord(
                id=f"lrd-{i:05d}",
                question=example["query"],
                answer=example.get("reference_answer") or "",
                evidence=[GoldQuote(quote=c) for c in contexts],
                answerable=bool(contexts),
                kind="labelled",
            )
        )
    return records
