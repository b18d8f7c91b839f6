"""A streamed answer, typed: words as they are written, then the citations, then the whole
answer; or an error that ended it. Every adapter (HTTP, SSE, OpenAI, terminal) reads these."""

from collections.abc import Iterable
from dataclasses import dataclass

from rag.errors import RagError
from rag.models import Answer, Citation


@dataclass(frozen=True)
class Token:
    """A piece of the answer's text, in order."""

    text: str


@dataclass(frozen=True)
class Cited:
    """The passages the answer's [n] markers point at, once it is written."""

    citations: list[Citation]


@dataclass(frozen=True)
class Finished:
    """The whole answer: its text again, citations, passages, verification and timings."""

    answer: Answer


@dataclass(frozen=True)
class Failed:
    """The stream ended with this error instead of an answer."""

    error: RagError


AnswerEvent = Token | Cited | Finished | Failed


def collect(events: Iterable[AnswerEvent]) -> Answer:
    """The finished answer a stream ends with; the error, raised, if it failed instead.
    The stream is read to its end, so whatever it holds (an answering slot) is let go."""
    finished = None
    for event in events:
        match event:
            case Finished(answer):
                finished = answer
            case Failed(error):
                raise error
    if finished is None:
        raise RagError("the answer ended early")
    return finished
