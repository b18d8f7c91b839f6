"""The onnx engine gives torch's vectors and the model's own word-piece counts, exports
its graph once, and never leaves a graph it could not check."""

from pathlib import Path

import numpy as np
import pytest

from rag import embedding
from rag.embedding import MiniLMEmbedder
from rag.errors import ModelUnavailable
from rag.text import sentences

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Every sentence of the seed articles, and each article whole (past the window)."""
    found = []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        article = path.read_text(encoding="utf-8")
        found += [s.text for s in sentences(article)] + [article]
    return found


@pytest.fixture(scope="module")
def torch_engine() -> MiniLMEmbedder:
    return MiniLMEmbedder(engine="torch")


def test_onnx_vectors_equal_torch_vectors(
    embedder: MiniLMEmbedder, torch_engine: MiniLMEmbedder, texts: list[str]
) -> None:
    assert embedder.engine == "onnx"
    onnx, torch = embedder.embed(texts), torch_engine.embed(texts)
    assert onnx.shape == torch.shape == (len(texts), 384)
    assert np.abs(onnx - torch).max() < 1e-4
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)


def test_word_pieces_are_counted_as_the_model_counts_them(
    embedder: MiniLMEmbedder, torch_engine: MiniLMEmbedder, texts: list[str]
) -> None:
    reference = torch_engine.model.tokenizer
    counts = [embedder.count_tokens(t) for t in texts]
    assert counts == [
        len(reference.encode(t, add_special_tokens=False, verbose=False)) for t in texts
    ]
    assert max(counts) > embedder.max_tokens == 254  # whole articles are not truncated


def test_graph_is_exported_once_and_reused(tmp_path: Path) -> None:
    first = MiniLMEmbedder(graph_dir=tmp_path)
    vector = first.embed(["Putin visited Hanoi."])
    graphs = list(tmp_path.iterdir())
    assert [g.suffix for g in graphs] == [".onnx"]
    written = graphs[0].stat().st_mtime_ns
    again = MiniLMEmbedder(graph_dir=tmp_path)
    assert np.array_equal(again.embed(["Putin visited Hanoi."]), vector)
    assert graphs[0].stat().st_mtime_ns == written and list(tmp_path.iterdir()) == graphs


def test_a_graph_that_differs_from_torch_is_refused_and_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedding, "EXPORT_TOLERANCE", -1.0)  # no export can pass
    with pytest.raises(ModelUnavailable, match="RAG_EMBEDDER__ENGINE=torch"):
        MiniLMEmbedder(graph_dir=tmp_path).embed(["Putin visited Hanoi."])
    assert list(tmp_path.iterdir()) == []


def test_counting_while_embedding_in_other_threads_never_breaks_either(
    embedder: MiniLMEmbedder,
) -> None:
    """A shared tokenizer whose settings one thread changes fails in another ("Already
    borrowed"): counting (chunking) and embedding (searching) run at once in a server."""
    from concurrent.futures import ThreadPoolExecutor

    text = "Putin and Kim signed the treaty in Pyongyang on 19 June 2024. " * 30
    expected_count, expected = embedder.count_tokens(text), embedder.embed([text, "short"])
    with ThreadPoolExecutor(6) as pool:
        counts = [pool.submit(embedder.count_tokens, text) for _ in range(300)]
        vectors = [pool.submit(embedder.embed, [text, "short"]) for _ in range(30)]
        assert {c.result() for c in counts} == {expected_count}
        assert all(abs(v.result() - expected).max() < 1e-5 for v in vectors)
