"""What every language model is: a protocol over chat messages (the providers' modules
and the answerers import it from here, the package's factory too)."""

from collections.abc import Generator
from typing import Protocol, TypedDict


class Message(TypedDict):
    """One chat message: role is "system", "user" or "assistant"."""

    role: str
    content: str


class LLM(Protocol):
    """Writes a reply to a conversation, all at once or piece by piece."""

    name: str

    def complete(self, messages: list[Message]) -> str:
        """The whole reply."""
        ...

    def stream(self, messages: list[Message]) -> Generator[str, None, None]:
        """The reply as it is generated; stops generating when the caller stops reading."""
        ...
