"""A stand-in for a streaming LLM, for tests of streaming and disconnects: it writes the
extractive answer token by token with a pause between tokens. Never use it for real."""

import time
from collections.abc import Generator

from rag.answering import pieces
from rag.answering.extractive import ExtractiveAnswerer, ExtractiveDraft
from rag.retrieval import Retrieved


class SlowFakeAnswerer:
    """The extractive answer, streamed slowly, so a client sees tokens before the end."""

    name = "fake"

    def __init__(self, inner: ExtractiveAnswerer, delay_ms: int) -> None:
        self.inner = inner
        self.delay = delay_ms / 1000
        self.tokens_sent = 0  # lets a test see that a disconnect stopped the work

    def answer(self, question: str, retrieved: Retrieved) -> ExtractiveDraft:
        """The whole answer, after the time streaming it would take."""
        stream = self.stream(question, retrieved)
        while True:
            try:
                next(stream)
            except StopIteration as done:
                return done.value

    def stream(self, question: str, retrieved: Retrieved) -> Generator[str, None, ExtractiveDraft]:
        """One token per delay."""
        draft = self.inner.answer(question, retrieved)
        for token in pieces(draft.text):
            time.sleep(self.delay)
            self.tokens_sent += 1
            yield token
        return draft
