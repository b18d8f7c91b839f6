"""Language models behind one small protocol; one module per provider, built by `make_llm`."""

from collections.abc import Generator
from typing import Protocol, TypedDict

from rag.errors import ConfigError, LLMUnavailable
from rag.settings import LLMSettings


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


def make_llm(provider: str, settings: LLMSettings) -> LLM:
    """The model a provider name stands for; its optional dependency imported only now."""
    try:
        match provider:
            case "llamacpp":
                from rag.llm.llamacpp import LlamaCppLLM

                return LlamaCppLLM(settings)
            case "openai":
                from rag.llm.openai import OpenAICompatibleLLM

                return OpenAICompatibleLLM(settings)
            case "fake":
                from rag.llm.fake import ScriptedLLM

                return ScriptedLLM(settings.fake_replies, settings.fake_delay_ms)
    except ImportError as exc:  # llamacpp's own package is looked for by rag.llm.build
        raise LLMUnavailable(f"provider {provider} needs {exc.name}: pip install it") from None
    raise ConfigError(f"provider {provider!r} has no language model", variable="RAG_LLM__PROVIDER")
