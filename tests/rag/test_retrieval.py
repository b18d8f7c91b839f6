"""Hybrid retrieval over a real Chroma store and its keyword index: both indexes stay in
step through ingest, replace, delete and interruptions; words and meaning both find;
filters hold; duplicates collapse; an answer embeds only the question."""

import shutil
import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from rag import chroma
from rag.events import collect
from rag.filters import Filters, publication_date
from rag.text import content_terms
from tests.conftest import SEEDS

HARBOUR = (
    "Harbour minutes\n\nThe harbour committee approved the dredging budget on Tuesday "
    "after a long debate.\n"
)
TRADE = "Trade notes\n\nChina will stay out of the grain corridor this season.\n"
LEDGER = (
    "Shipping ledger\n\nThe warehouse inventory was counted again in spring. "
    "Crate 7741-QX stays in the eastern shed until further notice.\n"
)


def in_step(pipeline) -> bool:
    """The keyword index holds exactly the vector store's chunks."""
    index = pipeline.index.open(create=False)
    return index.keywords.ids() == index.store.chunk_ids() != set()


def chunk_total(pipeline) -> int:
    """Chunks stored, committed or not."""
    return len(pipeline.index.open(create=False).store.chunk_ids())


def test_both_indexes_agree_after_ingest_replace_and_delete(make_pipeline, corpus: Path) -> None:
    pipeline = make_pipeline()
    pipeline.ingest([corpus])
    assert in_step(pipeline)
    (corpus / "003_0a51626ba7e6a7a1.txt").write_text(HARBOUR)
    pipeline.ingest([corpus])
    assert in_step(pipeline)
    assert pipeline.delete_document("004_c525336cda19562d.txt") > 0
    assert in_step(pipeline)
    assert not pipeline.index.keywords.ids("004_c525336cda19562d.txt")


@pytest.mark.parametrize("step", ["keywords.put", "store.commit_document", "store.delete_chunks"])
def test_an_interrupted_ingest_leaves_the_indexes_agreeing_once_rerun(
    make_pipeline, corpus: Path, monkeypatch, step: str
) -> None:
    pipeline = make_pipeline()
    pipeline.ingest([corpus])
    target = corpus / "003_0a51626ba7e6a7a1.txt"
    target.write_text(HARBOUR)  # a replacement, so every step of the sequence is reached
    owner, name = step.split(".")
    part = getattr(pipeline.index, owner)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(part, name, interrupt)
    with pytest.raises(KeyboardInterrupt):
        pipeline.ingest([corpus])
    monkeypatch.undo()
    reopened = make_pipeline(store=pipeline.settings.store.path)  # as a new process would
    assert in_step(reopened)
    committed_text = reopened.source_text(target.name)  # whichever version was committed
    hits = reopened.search("harbour committee dredging budget", top_k=10)
    assert all(h.text == committed_text[h.start : h.end] for h in hits if h.source == target.name)
    reopened.ingest([corpus])
    fresh = make_pipeline(store=corpus.parent / "fresh")
    fresh.ingest([corpus])
    assert in_step(reopened) and chunk_total(reopened) == chunk_total(fresh)
    assert reopened.search("harbour committee dredging budget", top_k=1)[0].source == target.name


def test_a_missing_keyword_index_is_rebuilt_from_the_vector_store(make_pipeline) -> None:
    pipeline = make_pipeline()
    pipeline.ingest([SEEDS])
    before = pipeline.search("bamboo diplomacy", top_k=3)
    pipeline.index.keywords.reset()
    reopened = make_pipeline(store=pipeline.settings.store.path)
    assert reopened.search("bamboo diplomacy", top_k=3) == before
    assert in_step(reopened)


def test_a_rare_word_and_a_paraphrase_are_both_found(make_pipeline, corpus: Path) -> None:
    (corpus / "harbour.txt").write_text(HARBOUR)
    (corpus / "ledger.txt").write_text(LEDGER)
    pipeline = make_pipeline()
    pipeline.ingest([corpus])
    assert pipeline.search("7741-QX", top_k=1)[0].source == "ledger.txt"
    meaning = "port authority agreed money for deepening the channel"
    assert not content_terms(meaning) & content_terms(HARBOUR)  # not one word in common
    index = pipeline.index.open(create=False)
    assert all(c.source != "harbour.txt" for c, _ in index.keywords.search(meaning, 30))
    assert pipeline.search(meaning, top_k=1)[0].source == "harbour.txt"


def test_filters_return_only_matching_sources(seeded) -> None:
    # Two seed articles state a date: 000 (June 22, 2024) and 002 (27 Jun, 2024).
    authored = next(d for d in seeded.documents() if d.get("author"))
    cases = {
        "title": (Filters(title="SECURITY PACT"), {"001_1346c328f81362a0.txt"}),
        "author": (Filters(author=authored["author"].split()[-1].lower()), {authored["source"]}),
        "since": (Filters(since=date(2024, 6, 25)), {"002_5e06cd6f6b3b4cf9.txt"}),
        "until": (Filters(until=date(2024, 6, 25)), {"000_4ab743d7e2df48f5.txt"}),
        "range": (
            Filters(since=date(2024, 6, 1), until=date(2024, 6, 30)),
            {"000_4ab743d7e2df48f5.txt", "002_5e06cd6f6b3b4cf9.txt"},
        ),
        "sources": (
            Filters(source=["001_1346c328f81362a0.txt", authored["source"]]),
            {"001_1346c328f81362a0.txt", authored["source"]},
        ),
    }
    for name, (filters, allowed) in cases.items():
        hits = seeded.search("the treaty between Russia and North Korea", top_k=10, filters=filters)
        assert {h.source for h in hits} == allowed, name
    nothing = Filters(until=date(2023, 12, 31))
    assert seeded.search("treaty", filters=nothing) == []
    assert collect(seeded.answer("What does the treaty say?", filters=nothing)).refused


def test_articles_dates_are_read_as_they_are_written() -> None:
    assert publication_date("27 Jun, 2024") == date(2024, 6, 27)
    assert publication_date("June 22, 2024") == date(2024, 6, 22)
    assert publication_date("2024-06-22") == date(2024, 6, 22)
    assert publication_date("sometime in June") is None


def test_a_repeated_article_does_not_fill_the_results_twice(make_pipeline, corpus: Path) -> None:
    shutil.copy(corpus / "001_1346c328f81362a0.txt", corpus / "001_copy.txt")
    pipeline = make_pipeline()
    pipeline.ingest([corpus])
    hits = pipeline.search("Mutual Defense Clause Article 51 of the UN Charter", top_k=5)
    assert len({h.text for h in hits}) == len(hits)
    assert {"001_1346c328f81362a0.txt", "001_copy.txt"} & {hits[0].source}
    assert not {"001_1346c328f81362a0.txt", "001_copy.txt"} <= {h.source for h in hits[:2]}


def test_answering_embeds_only_the_question(seeded, monkeypatch) -> None:
    embedded: list[str] = []
    real = seeded.embedder.embed

    def counting(texts: list[str]):
        embedded.extend(texts)
        return real(texts)

    monkeypatch.setattr(seeded.embedder, "embed", counting)
    answer = collect(
        seeded.answer("Which article of the UN Charter does the defence clause invoke?")
    )
    assert "Article 51" in answer.answer and answer.citations
    assert embedded == ["Which article of the UN Charter does the defence clause invoke?"]


def test_a_question_naming_a_capital_finds_the_text_naming_its_country(
    make_pipeline, corpus: Path
) -> None:
    (corpus / "trade.txt").write_text(TRADE)
    question = "What has Beijing decided?"  # not one of its words is in the trade notes
    assert not content_terms(question) & content_terms(TRADE)
    read = make_pipeline()
    read.ingest([corpus])
    literal = make_pipeline(store=read.settings.store.path, retrieval={"capitals": False})
    for pipeline, expected in ((read, True), (literal, False)):
        vector = pipeline.retriever.query_vector(question)
        _, lexical, _ = pipeline.retriever.candidates(question, vector, 30)
        assert any(c.source == "trade.txt" for c, _ in lexical) is expected
    both = read.embedder.embed([question, "What has China decided?"]).sum(axis=0)
    assert np.allclose(read.retriever.query_vector(question), both / np.linalg.norm(both))
    assert np.allclose(literal.retriever.query_vector(question), read.embedder.embed([question])[0])


def test_keyword_search_ranks_the_same_with_and_without_a_source_filter(seeded) -> None:
    keywords = seeded.index.open(create=False).keywords
    everything = sorted({d["source"] for d in seeded.documents()})
    for query in ("Putin Kim treaty", "bamboo diplomacy Vietnam", "Article 51 UN Charter"):
        assert keywords.search(query, 30) == keywords.search(query, 30, everything)


def test_a_commit_by_another_process_is_seen_within_the_bound(
    make_pipeline, corpus: Path, monkeypatch
) -> None:
    monkeypatch.setattr(chroma, "COMMITTED_TTL", 0.5)
    reader = make_pipeline()
    reader.ingest([corpus])
    reader.search("harbour committee dredging budget")  # what is committed is now known
    writer = make_pipeline(store=reader.settings.store.path)  # its own store, as a process's
    (corpus / "003_0a51626ba7e6a7a1.txt").write_text(HARBOUR)
    writer.ingest([corpus])
    for hit in reader.search("harbour committee dredging budget", top_k=10):  # never half
        assert hit.text == reader.source_text(hit.source)[hit.start : hit.end]
    time.sleep(0.5)
    assert reader.search("harbour committee dredging budget", top_k=1)[0].source == (
        "003_0a51626ba7e6a7a1.txt"
    )


def test_chunk_vectors_are_read_once(seeded, monkeypatch) -> None:
    store = seeded.index.open(create=False).store
    ids = sorted(store.chunk_ids())[:4]
    first = store.chunk_vectors(ids)

    def unread(*args, **kwargs):
        raise AssertionError("read again")

    monkeypatch.setattr(store._chunks, "get", unread)
    again = store.chunk_vectors(ids)
    assert again.keys() == first.keys() == set(ids)
    assert all(np.array_equal(again[i], first[i]) for i in ids)


def sentence_reads(store, monkeypatch) -> list[dict]:
    """Record the arguments of every read of the sentence collection."""
    reads, real = [], store._sentences.get

    def recording(**kwargs):
        reads.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(store._sentences, "get", recording)
    return reads


def chunk_ranges(store) -> dict[tuple[str, str], list[tuple[int, int]]]:
    """Every committed version's chunk spans, as a search hands them to the store."""
    committed = {r["source"]: r["content_hash"] for r in store.documents()}
    ranges: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for chunk in store.chunks(sorted(store.chunk_ids())):
        if committed.get(chunk.source) == chunk.content_hash:
            ranges.setdefault((chunk.source, chunk.content_hash), []).append(
                (chunk.start, chunk.end)
            )
    return ranges


def test_a_search_reads_the_vectors_of_the_sentences_it_found_by_id(
    make_pipeline, store: Path, monkeypatch
) -> None:
    index = make_pipeline(store=store).index.open(create=False)
    wanted = {key: spans[:1] for key, spans in chunk_ranges(index.store).items()}
    whole = {key: index.store.stored_sentences(*key) for key in wanted}
    reads = sentence_reads(index.store, monkeypatch)
    found = index.store.sentences(wanted)
    for key, (start, end) in ((k, r[0]) for k, r in wanted.items()):
        expected, inside = whole[key], whole[key].overlapping(start, end)
        assert found[key].text == expected.text and len(inside) > 0
        assert [(s.start, s.end) for s in found[key].spans] == [
            (s.start, s.end) for s in expected.spans
        ]
        assert all(s.text == expected.text[s.start : s.end] for s in found[key].spans)
        assert np.allclose(
            found[key].vectors[inside.start : inside.stop],
            expected.vectors[inside.start : inside.stop],
        )
        outside = [i for i in range(len(expected.spans)) if i not in inside]
        assert not found[key].vectors[outside].any()  # never read
    assert len(reads) == 1 and "where" not in reads[0]  # one read, by id, for them all
    assert index.store.sentences(wanted).keys() == wanted.keys() and len(reads) == 1  # held


def test_a_version_no_longer_committed_comes_back_empty(make_pipeline, store: Path) -> None:
    index = make_pipeline(store=store).index.open(create=False)
    (source, content_hash), ranges = next(iter(chunk_ranges(index.store).items()))
    found = index.store.sentences({(source, "0" * 64): ranges})[(source, "0" * 64)]
    assert found.text == "" and found.spans == [] and found.vectors.shape == (0, 384)
