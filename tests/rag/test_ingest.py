"""Ingesting into a real Chroma store: idempotent, replacing, skipping bad files, resumable."""

from pathlib import Path

import pytest

from rag.errors import EmbedderMismatch, EmptyStore, SourceError
from rag.events import collect
from rag.store import make_store
from tests.conftest import SEEDS


def chunk_total(pipeline) -> int:
    return sum(len(pipeline.index.store.chunk_ids(d["source"])) for d in pipeline.documents())


def test_reingesting_unchanged_files_embeds_and_adds_nothing(make_pipeline) -> None:
    pipeline = make_pipeline()
    first = pipeline.ingest([SEEDS])
    before = chunk_total(pipeline)
    again = pipeline.ingest([SEEDS])
    assert len(first.indexed) == 5 and first.chunks_embedded == before > 0
    assert again.indexed == [] and len(again.unchanged) == 5 and again.chunks_embedded == 0
    assert chunk_total(pipeline) == before


def test_a_changed_file_replaces_its_chunks(make_pipeline, corpus: Path) -> None:
    pipeline = make_pipeline()
    pipeline.ingest([corpus])
    target = corpus / "003_0a51626ba7e6a7a1.txt"
    old_ids = pipeline.index.store.chunk_ids(target.name)
    target.write_text(
        "Implications of the summit for Lapland\n\nThe reindeer herders of Lapland "
        "were not consulted about the treaty, the ministry of fisheries said.\n"
    )
    report = pipeline.ingest([corpus])
    assert report.indexed == [target.name] and report.chunks_removed == len(old_ids)
    new_ids = pipeline.index.store.chunk_ids(target.name)
    assert len(new_ids) == 1 and not new_ids & old_ids
    hits = pipeline.search("reindeer herders in Lapland", top_k=3)
    assert hits[0].source == target.name and "reindeer" in hits[0].text
    assert all("India" not in h.text for h in hits if h.source == target.name)


def test_a_bad_file_in_a_folder_is_skipped_and_the_rest_indexed(
    make_pipeline, corpus: Path
) -> None:
    (corpus / "broken.txt").write_bytes(b"\xff\xfe\x00\x00 binary junk")
    (corpus / "notes.pdf").write_bytes(b"%PDF-1.4")  # a PDF cut off after its header
    (corpus / "slides.pptx").write_bytes(b"PK\x03\x04")
    report = make_pipeline().ingest([corpus])
    assert len(report.indexed) == 5
    assert "binary" in report.skipped[str(corpus / "broken.txt")]
    assert "not a readable PDF" in report.skipped[str(corpus / "notes.pdf")]
    assert report.skipped[str(corpus / "slides.pptx")] == "unsupported file type"


def test_a_bad_file_named_directly_is_an_error(make_pipeline, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"caf\xe9")
    with pytest.raises(SourceError, match="not UTF-8"):
        make_pipeline().ingest([bad])


def test_interrupted_ingest_leaves_a_usable_store_and_a_rerun_completes(
    make_pipeline, corpus: Path, monkeypatch
) -> None:
    pipeline = make_pipeline()
    pipeline.index.store.open(create=True)
    real_commit, calls = pipeline.index.store.commit_document, []

    def commit_then_interrupt(document, *args):
        calls.append(document.source)
        if len(calls) == 3:  # Ctrl-C after the third file's chunks are written, before its commit
            raise KeyboardInterrupt
        real_commit(document, *args)

    monkeypatch.setattr(pipeline.index.store, "commit_document", commit_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        pipeline.ingest([corpus])
    monkeypatch.setattr(pipeline.index.store, "commit_document", real_commit)
    names = sorted(p.name for p in corpus.iterdir())
    assert [d["source"] for d in pipeline.documents()] == names[:2]
    assert pipeline.index.store.chunk_ids(names[2])  # written but not committed ...
    hits = pipeline.search("Putin's visit to North Korea", top_k=20)
    assert {h.source for h in hits} <= set(names[:2])  # ... so never retrieved
    report = pipeline.ingest([corpus])
    assert report.indexed == names[2:] and report.unchanged == names[:2]
    fresh = make_pipeline(store=corpus.parent / "fresh")
    fresh.ingest([corpus])
    assert chunk_total(pipeline) == chunk_total(fresh)
    assert report.chunks_embedded == chunk_total(fresh) - sum(
        len(pipeline.index.store.chunk_ids(n)) for n in names[:3]
    )


def test_opening_a_store_with_another_embedder_says_to_reindex(seeded_store: Path) -> None:
    from rag.settings import StoreSettings

    other = make_store(StoreSettings(path=seeded_store), "another/model", 768)
    with pytest.raises(EmbedderMismatch, match="re-index"):
        other.open(create=False)


def test_an_empty_store_says_how_to_index(make_pipeline) -> None:
    with pytest.raises(EmptyStore, match="rag ingest"):
        collect(make_pipeline().answer("Who signed the treaty?"))
