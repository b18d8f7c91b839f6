"""`rag doctor`'s checkup on a real store: what an interrupted ingest leaves, found and
repaired; a document missing rows, reported."""

import logging
from pathlib import Path

import pytest

from rag.chroma_rows import SPANS
from rag.doctor import examine, repair, report


def replace_every_file(corpus: Path, words: str) -> None:
    for file in corpus.iterdir():
        file.write_text(file.read_text() + f"\n\n{words} ({file.name}).\n")


def test_a_kill_after_commit_leaves_stale_rows_that_a_rerun_and_the_doctor_remove(
    make_pipeline, corpus: Path, monkeypatch
) -> None:
    pipeline = make_pipeline()
    pipeline.ingest([corpus])
    assert examine(pipeline.index).healthy
    replace_every_file(corpus, "The harbour pilot counted forty gulls")
    store = pipeline.index.store

    def killed(ids: set[str]) -> None:  # the new version is committed; the old rows stay
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "delete_chunks", killed)
    with pytest.raises(KeyboardInterrupt):
        pipeline.ingest([corpus])
    monkeypatch.undo()
    found = examine(pipeline.index)
    assert found.stale_chunks and found.stale_sentences and not found.incomplete
    assert {store.chunks([i])[0].source for i in found.stale_chunks} == {
        min(p.name for p in corpus.iterdir())
    }
    repair(pipeline.index, found)
    assert examine(pipeline.index).healthy
    report = pipeline.ingest([corpus])  # the first file is whole: nothing to redo for it
    assert report.unchanged[:1] == [min(p.name for p in corpus.iterdir())]
    assert examine(pipeline.index).healthy


def test_keyword_rows_out_of_step_are_found_and_restored(make_pipeline, corpus: Path) -> None:
    pipeline = make_pipeline()
    pipeline.ingest([corpus])
    keywords = pipeline.index.keywords
    lost = sorted(keywords.ids())[:3]
    keywords.delete(set(lost))
    found = examine(pipeline.index)
    assert found.keyword_missing == set(lost) and not found.healthy
    repair(pipeline.index, found)
    assert examine(pipeline.index).healthy and set(lost) <= keywords.ids()


def test_a_committed_document_missing_rows_is_reported_not_hidden(
    make_pipeline, corpus: Path
) -> None:
    pipeline = make_pipeline()
    pipeline.ingest([corpus])
    store = pipeline.index.store
    victim = min(p.name for p in corpus.iterdir())
    store.delete_chunks(set(sorted(store.chunk_ids(victim))[:1]))
    found = examine(pipeline.index)
    assert found.incomplete == [victim] and not found.healthy


def test_records_written_before_sentence_bounds_were_kept_are_rewritten(
    make_pipeline, store: Path, caplog
) -> None:
    pipeline = make_pipeline(store=store)
    documents = pipeline.index.open(create=False).store._documents
    written = documents.get(include=["metadatas"])
    bounds = {m["source"]: m[SPANS] for m in written["metadatas"]}
    documents.update(ids=written["ids"], metadatas=[{SPANS: None}] * len(written["ids"]))
    with caplog.at_level(logging.WARNING):
        pipeline.search("treaty")
    assert "run `rag doctor`" in caplog.text  # searches read only the current form
    found = examine(pipeline.index)
    assert found.outdated == sorted(bounds) and not found.healthy
    assert any("older form" in line for line in report(found, repaired=False))
    repair(pipeline.index, found)
    rewritten = documents.get(include=["metadatas"])
    assert {m["source"]: m[SPANS] for m in rewritten["metadatas"]} == bounds
    assert examine(pipeline.index).healthy
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert pipeline.search("treaty")
    assert not caplog.text
