"""Chunks fit the embedder's window, lose no text, and know their exact spans."""

from rag.chunking import Chunker
from rag.loading import load
from rag.settings import ChunkingSettings
from tests.conftest import SEEDS


def test_chunks_fit_window_cover_all_text_and_match_their_spans(embedder) -> None:
    chunker = Chunker(ChunkingSettings(), embedder.count_tokens)
    for path in sorted(SEEDS.iterdir()):
        doc = load(path)
        chunks = chunker.split(doc)
        covered = [False] * len(doc.text)
        for chunk in chunks:
            assert doc.text[chunk.start : chunk.end] == chunk.text
            assert embedder.count_tokens(chunk.text) <= embedder.max_tokens
            covered[chunk.start : chunk.end] = [True] * (chunk.end - chunk.start)
        lost = "".join(ch for ch, seen in zip(doc.text, covered) if not seen and not ch.isspace())
        assert lost == "", f"{path.name} loses {lost[:80]!r}"
        assert len({c.id for c in chunks}) == len(chunks)


def test_chunk_ids_depend_on_content_only(embedder) -> None:
    chunker = Chunker(ChunkingSettings(), embedder.count_tokens)
    doc = load(SEEDS / "002_5e06cd6f6b3b4cf9.txt")
    assert [c.id for c in chunker.split(doc)] == [c.id for c in chunker.split(doc)]
    changed = doc.model_copy(
        update={"text": doc.text + "\nA new closing line.", "content_hash": "x"}
    )
    assert not {c.id for c in chunker.split(doc)} & {c.id for c in chunker.split(changed)}
