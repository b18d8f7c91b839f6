"""Language models behind one small protocol; one module per provider, built by `make_llm`."""

from rag.errors import ConfigError, LLMUnavailable
from rag.llm.base import LLM
from rag.settings import LLMSettings


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
