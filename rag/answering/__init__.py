"""Answerers turn retrieved chunks into a cited answer: `extractive` quotes the passages,
`generative` has a language model write and then checks every sentence's citation."""

import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from rag.embedding import Embedder
from rag.errors import ConfigError
from rag.models import Citation, Verification
from rag.providers import PROVIDERS
from rag.retrieval import Retrieved
from rag.settings import LLMSettings

if TYPE_CHECKING:
    from rag.answering.extractive import ChosenBy

REFUSAL = "The indexed articles do not say."


@dataclass
class Draft:
    """An answerer's result: text with [n] markers and the citations they point at."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    verification: Verification | None = None


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
    yield from re.findall(r"\s*\S+\s*", text)


def finish(stream: Generator[str, None, Draft]) -> Draft:
    """Run an answerer's stream to its end; the draft it returns."""
    while True:
        try:
            next(stream)
        except StopIteration as done:
            return done.value


def make_answerer(provider: str, settings: LLMSettings, embedder: Embedder,
                  reader: "ChosenBy | None" = None) -> Answerer:
    """The answerer a provider name stands for; a language model loads here. The reader, if
    any, chooses the quoted sentences."""
    from rag.answering.extractive import ExtractiveAnswerer

    if provider not in PROVIDERS:
        raise ConfigError(f"unknown provider {provider!r} ({', '.join(PROVIDERS)})",
                          variable="RAG_LLM__PROVIDER")
    extractive = ExtractiveAnswerer(embedder, settings, reader)
    if provider == "extractive":
        return extractive
    from rag.answering.generative import GenerativeAnswerer
    from rag.llm import make_llm

    return GenerativeAnswerer(make_llm(provider, settings), extractive, settings)
