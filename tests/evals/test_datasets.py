"""The golden set stays true to the articles; other formats convert to the same record."""

import json
from pathlib import Path

import pytest

from evals.datasets import load_dataset
from evals.runner import spread
from rag.errors import SourceError
from tests.conftest import ROOT, SEEDS

GOLDEN = ROOT / "evals" / "golden.jsonl"


def test_golden_set_shape_and_coverage() -> None:
    records = load_dataset(GOLDEN)
    assert len(records) >= 40 and len({r.id for r in records}) == len(records)
    assert sum(not r.answerable for r in records) >= 8
    single = {e.source for r in records if r.kind == "single" for e in r.evidence}
    assert single == {p.name for p in SEEDS.iterdir()}  # every article has its own questions
    assert any(len({e.source for e in r.evidence}) >= 2 for r in records if r.kind == "multi")
    assert any(r.kind == "conflict" for r in records)


def test_every_golden_evidence_quote_is_verbatim_in_its_source() -> None:
    for record in load_dataset(GOLDEN):
        for evidence in record.evidence:
            text = (SEEDS / evidence.source).read_text(encoding="utf-8")
            assert evidence.quote in text, f"{record.id}: quote not in {evidence.source}"
        if record.answerable:
            assert record.evidence and record.must_contain, record.id


def test_squad_format_converts(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        json.dumps(
            {"question": "When?", "answers": ["1973", "1973"], "doc": "Oil.txt", "paragraph": 0}
        )
        + "\n"
    )
    [record] = load_dataset(path)
    assert record.must_contain == [["1973"]] and record.evidence[0].source == "Oil.txt"


def test_labelled_rag_dataset_converts(tmp_path: Path) -> None:
    path = tmp_path / "rag_dataset.json"
    path.write_text(
        json.dumps(
            {
                "examples": [
                    {
                        "query": "Who signed?",
                        "reference_answer": "Putin and Kim.",
                        "reference_contexts": ["Putin and Kim signed it."],
                        "query_by": None,
                    }
                ]
            }
        )
    )
    [record] = load_dataset(path)
    assert (
        record.question == "Who signed?" and record.evidence[0].quote == "Putin and Kim signed it."
    )
    assert record.evidence[0].source is None and record.answerable


def test_bad_dataset_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such dataset"):
        load_dataset(tmp_path / "missing.jsonl")
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(SourceError, match="not JSON lines"):
        load_dataset(tmp_path / "bad.jsonl")


def test_limit_takes_a_fixed_sample_spread_over_the_file() -> None:
    records = load_dataset(GOLDEN)
    sample = spread(records, 10)
    assert len(sample) == 10 and sample == spread(records, 10)
    assert sample[0] is records[0] and sample[-1].id > records[len(records) // 2].id


def test_squad2_questions_the_article_does_not_answer_are_unanswerable() -> None:
    records = load_dataset(ROOT / "evals/squad2-dev-35/questions.jsonl")
    unanswerable = [r for r in records if not r.answerable]
    assert len(records) == 6037 and len(unanswerable) == 3017
    assert all(not r.must_contain and not r.evidence and r.article for r in unanswerable)
    answerable = [r for r in records if r.answerable]
    assert all(r.must_contain[0] and r.evidence[0].source == r.article for r in answerable)
    assert len({r.article for r in records}) == 35
