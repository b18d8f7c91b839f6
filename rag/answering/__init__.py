"""Answerers turn retrieved chunks into a cited answer; one module per provider."""

import re
from collections.abc import Generator, Iterator
from typing import Protocol

from rag.embedding import Embedder
from rag.errors import ConfigError
from rag.models import Citation
from rag.retrieval import Retrieved
from rag.providers import PROVIDERS
from rag.settings import LLMSettings

REFUSAL = "The indexed articles do not say."


class Draft(Protocol):
    """What an answerer returns: text with [n] markers and the citations they point at."""

    text: str
    citations: list[Citation]
    refused: bool


class Answerer(Protocol):
    """Writes an answer from retrieved chunks, each sentence citing its passage."""

    name: str

    def answer(self, question: str, retrieved: Retrieved) -> Draft:
        """A cited answer, or a refusal when the chunks do not support one."""
        ...

    def stream(self, question: str, retrieved: Retrieved) -> Generator[str, None, Draft]:
        """The answer's text piece by piece as it is produced; returns the whole draft."""
        ...


def pieces(text: str) -> Iterator[str]:
    """Text as word-sized tokens (each with its trailing space), for streaming."""
    yield from re.findall(r"\S+\s*", text)


def finish(stream: Generator[str, None, Draft]) -> Draft:
    """Run an answerer's stream to its end; the draft it returns."""
    while True:
        try:
            next(stream)
        except StopIteration as done:
            return done.value


def make_answerer(provider: str, settings: LLMSettings, embedder: Embedder) -> Answerer:
    """The answerer a provider name stands for."""
    from rag.answering.extractive import ExtractiveAnswerer

    match provider:
        case "extractive":
            return ExtractiveAnswerer(embedder, settings)
        case "fake":
            from rag.answering.fake import SlowFakeAnswerer

            return SlowFakeAnswerer(ExtractiveAnswerer(embedder, settings), settings.fake_delay_ms)
    raise ConfigError(f"unknown provider {provider!r} ({', '.join(PROVIDERS)})",
                      variable="RAG_LLM__PROVIDER")
