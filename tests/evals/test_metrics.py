"""Each metric on hand-made cases where the right score is obvious."""

import pytest

from evals import metrics
from evals.datasets import EvalRecord, GoldQuote
from rag.models import Answer, Citation, SearchHit

TEXT = "The treaty was scrapped in 1996. It had a military clause. Kim met Putin in June."
RECORD = EvalRecord(
    id="t1",
    question="When was the treaty scrapped?",
    must_contain=[["1996"]],
    evidence=[GoldQuote(source="a.txt", quote="The treaty was scrapped in 1996.")],
)
UNANSWERABLE = EvalRecord(id="t2", question="What is the population?", answerable=False)


def hit(source: str, text: str) -> SearchHit:
    return SearchHit(source=source, title="t", text=text, start=0, end=len(text), score=0.5)


def cite(quote: str, start: int, index: int = 1, source: str = "a.txt") -> Citation:
    return Citation(
        index=index,
        source=source,
        title="t",
        quote=quote,
        start=start,
        end=start + len(quote),
        score=0.9,
    )


def answer(text: str, citations: list[Citation], refused: bool = False) -> Answer:
    return Answer(question="q", answer=text, citations=citations, refused=refused)


def test_rank_hit_at_k_and_mrr_are_decided_by_text_overlap() -> None:
    hits = [
        hit("a.txt", "Kim met Putin in June."),
        hit("b.txt", "The treaty was scrapped in 1996."),
        hit("a.txt", "It had a military clause. The treaty was scrapped in 1996."),
    ]
    rank = metrics.first_relevant_rank(hits, RECORD)  # b.txt has the words but is the wrong source
    assert rank == 3
    assert [metrics.hit_at(rank, k) for k in (1, 3, 5)] == [0.0, 1.0, 1.0]
    assert metrics.reciprocal_rank(rank) == pytest.approx(1 / 3)
    assert metrics.reciprocal_rank(metrics.first_relevant_rank(hits[:2], RECORD)) == 0.0


def test_a_chunk_cut_through_the_evidence_still_counts_when_it_holds_half() -> None:
    cut = hit("a.txt", "Something before. The treaty was scrapped in")
    assert metrics.first_relevant_rank([cut], RECORD) == 1
    assert metrics.first_relevant_rank([hit("a.txt", "The treaty was")], RECORD) is None


def test_correctness_needs_every_group_and_refusal_for_unanswerable() -> None:
    record = RECORD.model_copy(update={"must_contain": [["1996"], ["scrapped", "ended"]]})
    assert metrics.correct(answer("It was Scrapped in 1996. [1]", []), record)
    assert not metrics.correct(answer("It ended. [1]", []), record)
    assert not metrics.correct(answer("1996 scrapped", [], refused=True), record)
    assert metrics.correct(answer("The articles do not say.", [], refused=True), UNANSWERABLE)
    assert not metrics.correct(answer("About 3 million. [1]", []), UNANSWERABLE)


def test_cited_support_needs_a_cited_quote_holding_the_evidence() -> None:
    assert metrics.cited_support([cite(TEXT[:32], 0)], RECORD)
    assert not metrics.cited_support([cite("Kim met Putin in June.", 60)], RECORD)
    squad = EvalRecord(
        id="s",
        question="q",
        must_contain=[["1996"]],
        evidence=[GoldQuote(source="a.txt", quote="1996")],
    )
    assert metrics.cited_support([cite(TEXT[:32], 0)], squad)
    assert not metrics.cited_support([cite(TEXT[:32], 0, source="b.txt")], squad)


def test_citation_validity_checks_markers_and_exact_offsets() -> None:
    texts = {"a.txt": TEXT}
    good = answer(f"{TEXT[:32]} [1]", [cite(TEXT[:32], 0)])
    assert metrics.citation_problems(good, texts) == []
    shifted = answer(f"{TEXT[:32]} [1]", [cite(TEXT[:32], 1)])
    assert "differs" in metrics.citation_problems(shifted, texts)[0]
    dangling = answer(f"{TEXT[:32]} [1] More. [2]", [cite(TEXT[:32], 0)])
    assert metrics.citation_problems(dangling, texts) == ["[2] has no citation"]
    assert (
        "unknown source"
        in metrics.citation_problems(answer("x [1]", [cite("x", 0, source="z.txt")]), texts)[0]
    )
    assert metrics.citation_problems(answer("Uncited claim.", []), texts) == [
        "an answer with no citation"
    ]


def test_refusal_precision_and_recall() -> None:
    refused = [True, True, False, False, True]
    answerable = [False, True, False, True, False]
    precision, recall = metrics.refusal_scores(refused, answerable)
    assert precision == pytest.approx(2 / 3) and recall == pytest.approx(2 / 3)
    assert metrics.refusal_scores([False, False], [True, True]) == (1.0, 1.0)


def test_percentiles_and_word_counts() -> None:
    assert metrics.percentile([10, 20, 30, 40], 50) == 25
    assert metrics.percentile([5.0], 95) == 5.0 and metrics.percentile([], 50) == 0.0
    assert metrics.percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert metrics.word_count("It was 1996. [1] Yes [2]") == 4
