"""The errors the library raises; each adapter maps them in one place. Each class names
the HTTP status it answers with (datasette's way), so the API's mapping is one line."""


class RagError(Exception):
    """Base class: a problem the user can fix, with a one-line message."""

    code = "rag_error"
    status = 400
    retry_after: int | None = None  # seconds a client should wait before trying again


class ConfigError(RagError):
    """A setting has a bad value."""

    code = "bad_config"
    status = 500

    def __init__(self, message: str, *, variable: str) -> None:
        super().__init__(message)
        self.variable = variable


class InvalidQuestion(RagError):
    """The question is empty or too long."""

    code = "invalid_question"
    status = 422


class ReaderOff(RagError):
    """A request needs the reader (a re-ranked search), and the service runs without it."""

    code = "reader_off"
    status = 409


class SourceError(RagError):
    """A path to ingest is missing, empty, unsupported or undecodable."""

    code = "bad_source"
    status = 422

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class FetchFailed(SourceError):
    """A page, feed or PDF could not be fetched: no answer in time, an error status, too
    large, or not a type we read."""

    code = "fetch_failed"


class UrlRefused(FetchFailed):
    """A URL we will not fetch: not http(s), or an address that is loopback, private,
    link-local, multicast or reserved (server-side request forgery), unless allowed."""

    code = "url_refused"


class UnknownDocument(RagError):
    """No document with that source name is indexed."""

    code = "unknown_document"
    status = 404


class EmptyStore(RagError):
    """Nothing has been indexed yet."""

    code = "empty_store"
    status = 409


class EmbedderMismatch(RagError):
    """The store was built with another embedder; it must be re-indexed."""

    code = "embedder_mismatch"
    status = 409

    def __init__(self, message: str, *, stored: str, current: str) -> None:
        super().__init__(message)
        self.stored = stored
        self.current = current


class ModelUnavailable(RagError):
    """A model's weights (the embedder's or a GGUF) cannot be found on this machine."""

    code = "model_unavailable"
    status = 503


class LLMUnavailable(RagError):
    """The language model cannot be loaded or reached, or it failed while answering."""

    code = "llm_unavailable"
    status = 503


class LLMTimeout(LLMUnavailable):
    """The language model did not answer within RAG_LLM__TIMEOUT_S."""

    code = "llm_timeout"
    status = 504


class LLMBadReply(LLMUnavailable):
    """The language model's endpoint answered with an error, or with something that is not
    a whole reply (garbage, an error chunk, a stream cut off before its end)."""

    code = "llm_bad_reply"
    status = 502


class StoreBusy(RagError):
    """Another process has the embedded store folder open (one process at a time)."""

    code = "store_busy"
    status = 503


class StoreUnavailable(RagError):
    """The Chroma server named by RAG_STORE__URL does not answer."""

    code = "store_unavailable"
    status = 503


class TooManyRequests(RagError):
    """A client sent more requests than its share (RAG_API__RATE_PER_MINUTE)."""

    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Overloaded(RagError):
    """Every slot for writing an answer is taken (RAG_LLM__MAX_CONCURRENT answers at once)."""

    code = "overloaded"
    status = 503
    retry_after = 1
