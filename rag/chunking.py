"""Cut documents into chunks that fit the embedder's window, keeping exact character spans."""

import hashlib
from collections import Counter
from collections.abc import Callable

from llama_index.core.node_parser import SentenceSplitter

from rag.models import Chunk, SourceDocument
from rag.settings import ChunkingSettings


class Chunker:
    """llama-index's SentenceSplitter, measured in the embedder's own word pieces."""

    def __init__(self, settings: ChunkingSettings, count_tokens: Callable[[str], int]) -> None:
        self.settings = settings
        self.count_tokens = count_tokens
        self.splitter = SentenceSplitter(
            chunk_size=settings.chunk_tokens,
            chunk_overlap=settings.overlap_tokens,
            tokenizer=lambda text: [0] * count_tokens(text),
        )

    @property
    def signature(self) -> str:
        """Changes whenever the same text would be cut differently."""
        # "+sentences": stores written before sentence vectors were kept are re-indexed;
        # "-in-chunks": so are those whose sentence vectors were made the other way.
        pooled = "-in-chunks" if self.settings.sentence_vectors == "pooled" else ""
        return (
            f"sentence-splitter/{self.settings.chunk_tokens}/"
            f"{self.settings.overlap_tokens}+sentences{pooled}"
        )

    def split(self, document: SourceDocument) -> list[Chunk]:
        """Chunks in document order; each one's text is `document.text[start:end]`."""
        chunks, seen = [], Counter()
        cursor = 0
        for piece in self.splitter.split_text(document.text):
            start = locate(document.text, piece, cursor)
            end = start + len(piece)
            cursor = start + 1
            seen[piece] += 1
            chunks.append(
                Chunk(
                    id=chunk_id(document, piece, seen[piece]),
                    source=document.source,
                    title=document.title,
                    text=piece,
                    start=start,
                    end=end,
                    author=document.author,
                    date=document.date,
                    content_hash=document.content_hash,
                )
            )
        return chunks


def locate(text: str, piece: str, cursor: int) -> int:
    """Where the splitter's piece sits in the text, searching forward from the last one."""
    start = text.find(piece, cursor)
    if start < 0:
        start = text.find(piece)
    if start < 0:
        # The splitter only ever returns slices of its input; anything else would lose text.
        raise ValueError(f"chunk not found verbatim in its document: {piece[:60]!r}")
    return start


def chunk_id(document: SourceDocument, text: str, occurrence: int) -> str:
    """Stable id from source and content: an unchanged file keeps its ids, a changed one
    gets all new ids, so its old version stays whole until the new one is committed."""
    key = f"{document.source}\x00{document.content_hash}\x00{occurrence}\x00{text}"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return digest[:32]
