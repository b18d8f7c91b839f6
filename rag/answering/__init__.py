"""Answerers turn retrieved chunks into a cited answer; one module per provider."""

from typing import Protocol

from rag.embedding import Embedder
from rag.models import Citation
from rag.retrieval import Retrieved
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


def make_answerer(settings: LLMSettings, embedder: Embedder) -> Answerer:
    """The answerer the settings name."""
    match settings.provider:
        case "extractive":
            from rag.answering.extractive import ExtractiveAnswerer

            return ExtractiveAnswerer(embedder, settings)
    raise AssertionError(f"unknown provider {settings.provider}")  # settings forbid this
