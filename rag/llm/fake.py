"""A scripted stand-in for a language model, for tests: it replies with the given texts in
turn. With no script it quotes the first source of the prompt, citing it, so that a test
of streaming gets a real, checkable answer. Never use it for real answers."""

import re
import time
from collections.abc import Generator

from rag.llm.base import Message
from rag.tokens import pieces

_FIRST_SOURCE = re.compile(r"^\[1\] (.*?)(?:\n\n\[2\] |\nSOURCES>>>)", re.DOTALL | re.MULTILINE)


class ScriptedLLM:
    """Replies from a script, word by word, with a pause between words."""

    name = "fake"

    def __init__(self, replies: list[str] | None = None, delay_ms: int = 0) -> None:
        self.replies = list(replies or [])
        self.delay = delay_ms / 1000
        self.calls = 0

    def complete(self, messages: list[Message]) -> str:
        """The next scripted reply."""
        return "".join(self.stream(messages))

    def stream(self, messages: list[Message]) -> Generator[str, None, None]:
        """The next scripted reply, one word at a time."""
        reply = self.reply(messages)
        self.calls += 1
        for word in pieces(reply):
            if self.delay:
                time.sleep(self.delay)
            yield word

    def reply(self, messages: list[Message]) -> str:
        """The scripted text for this call, or the echo of source 1."""
        if self.replies:
            return self.replies[self.calls % len(self.replies)]
        found = _FIRST_SOURCE.search(messages[-1]["content"])
        if not found:
            return "The sources do not say."
        return " ".join(f"{s} [1]" for s in re.split(r"(?<=[.!?])\s+", found.group(1).strip()))
