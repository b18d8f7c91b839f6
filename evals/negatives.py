"""The negative-rejection set, built from squad-dev-48: half the paragraphs its questions were
written on are taken out of the corpus, so the questions written on those lose their answer
while their articles' other paragraphs stay (on-topic passages without the answer). One
ingest, both kinds of question.

    rag eval negatives   # writes evals/squad-neg-48/ (corpus/ and questions.jsonl)

A question is kept as unanswerable only when none of its gold answers appears anywhere in
the reduced corpus (its answer may be stated again in a paragraph that stayed, and a
refusal would then be wrong; its gold answers are kept as `taken_out`); questions on the
paragraphs that stay are kept as answerable. The same input always gives the same files.
"""

import json
import re
from pathlib import Path

SOURCE = Path(__file__).parent / "squad-dev-48"
TARGET = Path(__file__).parent / "squad-neg-48"


def kept(paragraph: int) -> bool:
    """Whether a paragraph stays in the corpus. The public questions are all written on
    even-numbered paragraphs, so every other one of those is taken out (2, 6, 10, ...);
    odd-numbered paragraphs stay, as more on-topic text."""
    return paragraph % 4 != 2


def reduce(text: str) -> str:
    """An article (title, blank line, paragraphs separated by blank lines) without the
    paragraphs that are taken out."""
    title, *paragraphs = text.split("\n\n")
    return "\n\n".join([title, *(p for i, p in enumerate(paragraphs) if kept(i))])


def squash(text: str) -> str:
    """Lower case, runs of white space as one space: how answers are looked for."""
    return re.sub(r"\s+", " ", text.lower())


def relabel(rows: list[dict], corpus: str) -> list[dict]:
    """The questions of kept paragraphs as answerable, and those of taken-out paragraphs
    whose answers the reduced corpus nowhere holds as unanswerable; the rest dropped."""
    out = []
    for row in rows:
        if kept(row["paragraph"]):
            out.append(row | {"answerable": True})
        elif not any(squash(a) in corpus for a in row["answers"]):
            out.append(row | {"answerable": False, "answers": [], "taken_out": row["answers"]})
    return out


def build(source: Path = SOURCE, target: Path = TARGET) -> tuple[int, int]:
    """Write the reduced corpus and the relabelled questions; (answerable, unanswerable)."""
    (target / "corpus").mkdir(parents=True, exist_ok=True)
    texts = []
    for article in sorted((source / "corpus").glob("*.txt")):
        text = reduce(article.read_text(encoding="utf-8"))
        (target / "corpus" / article.name).write_text(text, encoding="utf-8")
        texts.append(text)
    rows = [
        json.loads(line)
        for line in (source / "questions.jsonl").read_text().splitlines()
        if line.strip()
    ]
    labelled = relabel(rows, squash("\n".join(texts)))
    (target / "questions.jsonl").write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in labelled), encoding="utf-8"
    )
    answerable = sum(row["answerable"] for row in labelled)
    return answerable, len(labelled) - answerable
