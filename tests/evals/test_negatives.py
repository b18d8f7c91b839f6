"""The negative-rejection set is what evals/negatives.py builds from squad-dev-48, and its
labels hold: an unanswerable question's answers are nowhere in its corpus."""

import json
from pathlib import Path

from evals.negatives import SOURCE, TARGET, build, squash


def test_the_committed_set_is_what_the_builder_makes(tmp_path: Path) -> None:
    answerable, unanswerable = build(SOURCE, tmp_path)
    assert (answerable, unanswerable) == (2781, 1374)
    assert (tmp_path / "questions.jsonl").read_bytes() == (TARGET / "questions.jsonl").read_bytes()
    for article in (TARGET / "corpus").iterdir():
        assert (tmp_path / "corpus" / article.name).read_bytes() == article.read_bytes()


def test_unanswerable_questions_lost_their_answers_and_the_rest_kept_them() -> None:
    corpus = squash("\n".join(p.read_text() for p in sorted((TARGET / "corpus").iterdir())))
    rows = [json.loads(line) for line in (TARGET / "questions.jsonl").read_text().splitlines()]
    for row in rows:
        if row["answerable"]:
            article = squash((TARGET / "corpus" / row["doc"]).read_text())
            assert any(squash(a) in article for a in row["answers"]), row
        else:
            assert row["taken_out"] and not any(squash(a) in corpus for a in row["taken_out"])
