"""An answer travels as a stream of word-sized pieces that returns the whole answer at its
end: how to cut text into pieces, and how to run such a stream for its result."""

import re
from collections.abc import Generator, Iterator
from typing import TypeVar

Result = TypeVar("Result")


def pieces(text: str) -> Iterator[str]:
    """Text as word-sized tokens (each with its trailing space), for streaming."""
    yield from re.findall(r"\s*\S+\s*", text)


def finish(stream: Generator[str, None, Result]) -> Result:
    """Run a stream to its end; what it returns."""
    while True:
        try:
            next(stream)
        except StopIteration as done:
            return done.value
