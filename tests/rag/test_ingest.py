"""Ingesting into a real Chroma store: idempotent, replacing, skipping bad files, resumable."""

import threading
from pathlib import Path

import numpy as np
import pytest

from rag.errors import EmbedderMismatch, EmptyStore, SourceError
from rag.events import collect
from rag.pipeline import build_pipeline
from rag.settings import load_settings
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


class Recording:
    """The real embedder, keeping every text it runs through the model."""

    def __init__(self, embedder) -> None:
        self.inner, self.read = embedder, []
        self.name, self.dimension, self.max_tokens = (
            embedder.name,
            embedder.dimension,
            embedder.max_tokens,
        )

    def embed(self, texts: list[str]):
        self.read += texts
        return self.inner.embed(texts)

    def embed_in_context(self, texts: list[str], spans: list[list[tuple[int, int]]]):
        self.read += texts
        return self.inner.embed_in_context(texts, spans)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


def stored_sentences(pipeline, source: str):
    record = pipeline.index.store.document(source)
    return pipeline.index.store.stored_sentences(source, record["content_hash"])


@pytest.mark.parametrize("sentence_vectors", ["separate", "pooled"])
def test_stored_sentence_vectors_equal_a_fresh_ingests_and_are_made_as_set(
    make_pipeline, corpus: Path, embedder, tmp_path: Path, sentence_vectors: str
) -> None:
    chunking = {"sentence_vectors": sentence_vectors}
    pipeline = make_pipeline(chunking=chunking)
    pipeline.ingest([corpus])
    target = corpus / "001_1346c328f81362a0.txt"
    chunks_before = len(pipeline.index.store.chunk_ids(target.name))
    target.write_text(
        target.read_text() + "\n\nTalks on a second treaty will resume in the autumn, "
        "the Kremlin said in a closing statement.\n"
    )
    edited = pipeline.ingest([corpus])
    # the unchanged chunks (and the sentences pooled from them) were not embedded again
    assert edited.indexed == [target.name] and 0 < edited.chunks_embedded < chunks_before
    fresh = make_pipeline(store=tmp_path / "fresh", chunking=chunking)
    fresh.ingest([target])
    kept, new = stored_sentences(pipeline, target.name), stored_sentences(fresh, target.name)
    assert kept.text == new.text and (kept.bounds == new.bounds).all()
    assert len(kept.bounds) > 20 and np.allclose(kept.vectors, new.vectors, atol=1e-5)
    start, end = (int(b) for b in new.bounds[1])
    alone = embedder.embed([new.text[start:end]])[0]
    if sentence_vectors == "separate":
        assert np.allclose(new.vectors[1], alone, atol=1e-5)
        return
    # pooled: the sentence's word pieces in the first chunk's pass, not the sentence alone
    first = min(fresh.index.store.source_chunks([target.name]), key=lambda c: c.start)
    assert end <= first.end
    within = (start - first.start, end - first.start)
    _, pooled = embedder.embed_in_context([first.text], [[within]])
    assert np.allclose(new.vectors[1], pooled[0][0], atol=1e-5)
    assert float(alone @ new.vectors[1]) < 0.99


def test_a_stopped_ingest_commits_what_it_did_and_the_rerun_embeds_only_the_rest(
    corpus: Path, embedder, tmp_path: Path
) -> None:
    recording = Recording(embedder)
    pipeline = build_pipeline(load_settings(store={"path": tmp_path / "store"}), embedder=recording)
    stop = threading.Event()
    first = pipeline.ingest(
        [corpus], progress=lambda done, *_: done == 2 and stop.set(), stop=stop
    )  # as Ctrl-C does in `rag ingest`: the file at hand is finished, then the run stops
    names = sorted(p.name for p in corpus.iterdir())
    assert first.indexed == names[:2] and first.left == 3
    assert [d["source"] for d in pipeline.documents()] == names[:2]
    read_first, recording.read = recording.read, []
    second = pipeline.ingest([corpus])
    assert second.unchanged == names[:2] and second.indexed == names[2:]
    assert read_first and recording.read and not set(read_first) & set(recording.read)
    assert first.chunks_embedded + second.chunks_embedded == chunk_total(pipeline)
