"""A stand-in for a streaming LLM, for tests of streaming and disconnects: it writes the
extractive answer token by token with a pause between tokens. Never use it for real."""

import time
from collections.abc import Generator

from rag.answering import finish, pieces
from rag.answering.extractive import ExtractiveAnswerer, ExtractiveDraft
from rag.retrieval import Retrieved


class SlowFakeAnswerer:
    """The extractive answer, streamed slowly, so a client sees tokens before the end."""

    name = "fake"

    def __init__(self, inner: ExtractiveAnswerer, delay_ms: int) -> None:
        self.inner = inner
        self.delay = delay_ms / 1000

    def answer(self, question: str, retrieved: Retrieved) -> ExtractiveDraft:
        """The whole answer, after the time streaming it would take."""
        return finish(self.stream(question, retrieved))

    def stream(self, question: str, retrieved: Retrieved) -> Generator[str, None, ExtractiveDraft]:
        """One token per delay."""
        draft = self.inner.answer(question, retrieved)
        for token in pieces(draft.text):
            time.sleep(self.delay)
            yield token
        return draft
