"""The errors the library raises; each adapter maps them in one place."""


class RagError(Exception):
    """Base class: a problem the user can fix, with a one-line message."""

    code = "rag_error"


class ConfigError(RagError):
    """A setting has a bad value."""

    code = "bad_config"

    def __init__(self, message: str, *, variable: str) -> None:
        super().__init__(message)
        self.variable = variable


class InvalidQuestion(RagError):
    """The question is empty or too long."""

    code = "invalid_question"


class SourceError(RagError):
    """A path to ingest is missing, empty, unsupported or undecodable."""

    code = "bad_source"

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class UnknownDocument(RagError):
    """No document with that source name is indexed."""

    code = "unknown_document"


class EmptyStore(RagError):
    """Nothing has been indexed yet."""

    code = "empty_store"


class EmbedderMismatch(RagError):
    """The store was built with another embedder; it must be re-indexed."""

    code = "embedder_mismatch"

    def __init__(self, message: str, *, stored: str, current: str) -> None:
        super().__init__(message)
        self.stored = stored
        self.current = current


class ModelUnavailable(RagError):
    """A model's weights (the embedder's or a GGUF) cannot be found on this machine."""

    code = "model_unavailable"


class LLMUnavailable(RagError):
    """The language model cannot be loaded or reached, or it failed while answering."""

    code = "llm_unavailable"


class StoreBusy(RagError):
    """Another process has the embedded store folder open (one process at a time)."""

    code = "store_busy"


class StoreUnavailable(RagError):
    """The Chroma server named by RAG_STORE__URL does not answer."""

    code = "store_unavailable"
