"""What every answerer is and returns: the Answerer protocol, its Draft, and the refusal's
words (the answerers' modules import them from here, the package's factory too)."""

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Protocol

from rag.models import Citation, Verification
from rag.retrieval import Retrieved

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
