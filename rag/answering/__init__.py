"""Answerers turn retrieved chunks into a cited answer: `extractive` quotes the passages,
`generative` has a language model write and then checks every sentence's citation."""

from typing import TYPE_CHECKING

from rag.answering.draft import Answerer
from rag.embedding import Embedder
from rag.errors import ConfigError
from rag.providers import PROVIDERS
from rag.settings import LLMSettings

if TYPE_CHECKING:
    from rag.answering.evidence import BudgetedReader


def make_answerer(
    provider: str, settings: LLMSettings, embedder: Embedder, reader: "BudgetedReader | None" = None
) -> Answerer:
    """The answerer a provider name stands for, on the evidence stage every answerer shares
    (the reader, if any, reads there); a language model loads here."""
    from rag.answering.evidence import EvidenceStage
    from rag.answering.extractive import ExtractiveAnswerer

    if provider not in PROVIDERS:
        raise ConfigError(
            f"unknown provider {provider!r} ({', '.join(PROVIDERS)})", variable="RAG_LLM__PROVIDER"
        )
    stage = EvidenceStage(embedder, settings, reader)
    if provider == "extractive":
        return ExtractiveAnswerer(stage)
    from rag.answering.generative import GenerativeAnswerer
    from rag.llm import make_llm

    return GenerativeAnswerer(make_llm(provider, settings), stage, settings)
