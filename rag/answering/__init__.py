"""Answerers turn retrieved chunks into a cited answer: `extractive` quotes the passages,
`generative` has a language model write and then checks every sentence's citation."""

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from rag.embedding import Embedder
from rag.errors import ConfigError
from rag.models import Citation, Verification
from rag.providers import PROVIDERS
from rag.retrieval import Retrieved
from rag.settings import LLMSettings

if TYPE_CHECKING:
    from rag.answering.evidence import BudgetedReader

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


def make_answerer(provider: str, settings: LLMSettings, embedder: Embedder,
                  reader: "BudgetedReader | None" = None) -> Answerer:
    """The answerer a provider name stands for, on the evidence stage every answerer shares
    (the reader, if any, reads there); a language model loads here."""
    from rag.answering.evidence import EvidenceStage
    from rag.answering.extractive import ExtractiveAnswerer

    if provider not in PROVIDERS:
        raise ConfigError(f"unknown provider {provider!r} ({', '.join(PROVIDERS)})",
                          variable="RAG_LLM__PROVIDER")
    stage = EvidenceStage(embedder, settings, reader)
    if provider == "extractive":
        return ExtractiveAnswerer(stage)
    from rag.answering.generative import GenerativeAnswerer
    from rag.llm import make_llm

    return GenerativeAnswerer(make_llm(provider, settings), stage, settings)
