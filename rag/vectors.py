"""A document's vectors: its chunks' and its sentences', embedding only what is not stored
already. A sentence's vector is the sentence embedded on its own, or (pooled) its word
pieces read in its chunk's pass, so the model need not read the text a second time."""

import bisect
import hashlib
from dataclasses import dataclass

import numpy as np

from rag.embedding import Embedder
from rag.models import Chunk
from rag.text import Span


@dataclass(frozen=True)
class Context:
    """Where a sentence's vector comes from: the sentence embedded on its own (`text` is the
    sentence), or its word pieces pooled from the pass over the chunk that holds most of it
    (`text` is the chunk's, `start` and `end` the sentence's range in it)."""

    text: str
    start: int
    end: int
    pooled: bool

    @property
    def key(self) -> str:
        """Names this vector the same in any version of any document that has it."""
        where = f"{self.start}\x00{self.end}" if self.pooled else "alone"
        return hashlib.sha256(f"{where}\x00{self.text}".encode()).hexdigest()[:32]


def sentence_contexts(spans: list[Span], chunks: list[Chunk], pooled: bool) -> list[Context]:
    """Each sentence's context: itself, or, pooled, the chunk that holds most of its
    characters (the first of equals; itself where no chunk holds any of it). Chunks come
    in document order, so the ones a sentence overlaps are found by bisection."""
    ends = [c.end for c in chunks]
    contexts = []
    for span in spans:
        best, most = None, 0
        for at in range(bisect.bisect_right(ends, span.start), len(chunks)) if pooled else ():
            chunk = chunks[at]
            if chunk.start >= span.end:
                break
            if (held := min(span.end, chunk.end) - max(span.start, chunk.start)) > most:
                best, most = chunk, held
        if best is None:
            contexts.append(Context(span.text, 0, len(span.text), pooled=False))
            continue
        start, end = max(span.start, best.start), min(span.end, best.end)
        contexts.append(Context(best.text, start - best.start, end - best.start, pooled=True))
    return contexts


def embed_chunks(
    texts: list[str],
    contexts: list[Context],
    known: dict[str, np.ndarray],
    known_sentences: dict[str, np.ndarray],
    embedder: Embedder,
) -> tuple[np.ndarray, np.ndarray, int]:
    """The chunks' vectors and their sentences', embedding only what is not stored already:
    one pass of the model over each chunk whose vector, or a sentence pooled from it, is
    missing, and one over each sentence embedded on its own that is missing; (chunk
    vectors, sentence vectors, chunks read)."""
    missing = [c for c in contexts if c.key not in known_sentences]
    reads = {t: {} for t in texts if t not in known} | {c.text: {} for c in missing if c.pooled}
    for context in contexts:
        if context.pooled and context.text in reads:
            reads[context.text][context.start, context.end] = None
    ranges = [list(r) for r in reads.values()]
    vectors, pooled = embedder.embed_in_context(list(reads), ranges)
    alone = list(dict.fromkeys(c.text for c in missing if not c.pooled))
    known = dict(zip(reads, vectors)) | known
    known_sentences = (
        {
            Context(text, start, end, pooled=True).key: vector
            for text, spans, found in zip(reads, ranges, pooled)
            for (start, end), vector in zip(spans, found)
        }
        | {
            Context(text, 0, len(text), pooled=False).key: vector
            for text, vector in zip(alone, embedder.embed(alone))
        }
        | known_sentences
    )
    return (
        stacked([known[t] for t in texts], embedder.dimension),
        stacked([known_sentences[c.key] for c in contexts], embedder.dimension),
        len(reads),
    )


def stacked(vectors: list[np.ndarray], dimension: int) -> np.ndarray:
    """The vectors as rows of one array (no rows for none)."""
    return np.stack(vectors) if vectors else np.zeros((0, dimension), dtype=np.float32)
