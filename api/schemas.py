"""Request and error bodies of the HTTP API (answers reuse the library's models)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.conversation import Turn
from rag.filters import Filters
from rag.models import Citation
from rag.providers import RequestedProvider

MAX_MESSAGES = 200  # a chat request's messages: more is a 422, not work for the server
MODEL_ID = "rag-news"  # the one model GET /v1/models lists


class ChatMessage(BaseModel):
    """One OpenAI chat message (text content only)."""

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict] | None = None

    def text(self) -> str:
        """The message's text, whether sent as a string or as content parts."""
        if isinstance(self.content, list):
            return " ".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""

    def turn(self) -> Turn:
        """The message as a turn of the conversation."""
        return Turn(self.role, self.text())


class AskRequest(BaseModel):
    """POST /v1/ask."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"question": "Which article of the UN Charter does the defence clause invoke?"},
                {
                    "question": "Who did Putin meet in Vietnam?",
                    "top_k": 5,
                    "filters": {"source": "000_4ab743d7e2df48f5.txt"},
                    "stream": True,
                },
                {"question": "What did the treaty promise?", "filters": {"title": "security pact"}},
            ]
        },
    )

    question: str = Field(description="The question, in plain words.")
    top_k: int | None = Field(None, ge=1, le=50, description="Chunks to retrieve.")
    filters: Filters | None = None
    provider: RequestedProvider | None = Field(
        None, description="Answerer; default RAG_LLM__PROVIDER (the service's own)."
    )
    stream: bool = Field(
        False, description="Send Server-Sent Events (also: Accept: text/event-stream)."
    )
    history: list[ChatMessage] = Field(
        default_factory=list,
        max_length=MAX_MESSAGES - 1,
        description="Earlier turns of the conversation, oldest first: the question is then a "
        "follow-up, made standalone from them before it is searched.",
    )


class SearchRequest(BaseModel):
    """POST /v1/search."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"query": "mutual defence clause", "top_k": 5}]},
    )

    query: str
    top_k: int | None = Field(None, ge=1, le=50)
    filters: Filters | None = None
    rerank: bool | None = Field(
        None,
        description="Have the reader read the best passages "
        "whole and order them by its score (reader_score in each "
        "hit); default: the service's RAG_READER__RERANK.",
    )


class TextDocument(BaseModel):
    """POST /v1/documents as JSON: one document's text under a file name."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "source": "briefing.txt",
                    "text": "Summit briefing\n\nThe two leaders met on Tuesday.",
                }
            ]
        },
    )

    source: str = Field(description="A plain file name ending in .txt, .md or .html.")
    text: str


class PageRequest(BaseModel):
    """POST /v1/documents as JSON: the article at a URL, fetched by the service."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"url": "https://example.com/news/1"}]}
    )

    url: str = Field(max_length=2048, description="An http(s) URL of an HTML page or a PDF.")


class FeedRequest(BaseModel):
    """POST /v1/documents as JSON: an RSS or Atom feed's new entries."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"feed": "https://example.com/rss"}]}
    )

    feed: str = Field(max_length=2048, description="An http(s) URL of an RSS or Atom feed.")


class DocumentInfo(BaseModel):
    """An indexed document."""

    source: str
    title: str
    chunks: int
    content_hash: str
    ingested_at: str
    author: str | None = None
    date: str | None = None
    url: str | None = None  # where a fetched page, feed entry or PDF came from


class UploadResult(BaseModel):
    """What happened to one uploaded document, page or feed entry (a skipped entry's
    source is its URL, and `reason` says why)."""

    source: str
    status: Literal["indexed", "unchanged", "skipped"]
    chunks: int
    url: str | None = None
    reason: str | None = None


class DocumentText(DocumentInfo):
    """An indexed document with its text: the text citations' offsets index into."""

    text: str


class DeleteResult(BaseModel):
    """What a delete removed."""

    source: str
    chunks_removed: int


class StreamOptions(BaseModel):
    """OpenAI's stream_options."""

    include_usage: bool = Field(
        False, description="Send one more chunk before [DONE], with usage and no choices."
    )


class ChatRequest(BaseModel):
    """POST /v1/chat/completions, OpenAI-compatible; unknown OpenAI fields are ignored."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "model": MODEL_ID,
                    "messages": [
                        {"role": "user", "content": "What did Putin and Kim sign in Pyongyang?"},
                        {
                            "role": "assistant",
                            "content": "A comprehensive strategic partnership treaty. [1]",
                        },
                        {"role": "user", "content": "and when was it signed?"},
                    ],
                }
            ]
        },
    )

    model: str = Field(MODEL_ID, description="Echoed back; GET /v1/models lists the one model.")
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(
        None,
        ge=1,
        description="The most tokens the message's content may hold (usage counts them): "
        "the answer keeps its leading sentences, each whole with its markers, and the "
        "Sources block for them that fit, and finish_reason is `length` if any was left "
        "out. A stream with a limit is sent once the answer is whole.",
    )
    max_completion_tokens: int | None = Field(
        None, ge=1, description="OpenAI's newer name for max_tokens; the smaller one counts."
    )
    temperature: float | None = Field(
        None,
        ge=0.0,
        le=2.0,
        description="Accepted (0 to 2, as OpenAI) and not used: answers are quoted from the "
        "articles, or written by a model at the service's RAG_LLM__TEMPERATURE, and a "
        "request does not make them more random.",
    )
    n: int = Field(1, ge=1, le=1, description="Choices to write: only 1.")
    user: str | None = Field(
        None, max_length=256, description="Your end user's id: written to the server's log."
    )
    top_k: int | None = Field(None, ge=1, le=50)
    sources_in_text: bool | None = Field(
        None,
        description="Append the numbered sources to the message text after the answer "
        "(`citations` is sent either way); default RAG_API__SOURCES_IN_TEXT.",
    )

    @property
    def token_limit(self) -> int | None:
        """The most tokens the reply's text may hold: the smaller of max_tokens and
        max_completion_tokens, or None when neither is sent."""
        return min((n for n in (self.max_tokens, self.max_completion_tokens) if n), default=None)


class ModelCard(BaseModel):
    """One model, as GET /v1/models lists it."""

    id: str
    object: Literal["model"] = "model"
    created: int = Field(description="When this server started, in Unix seconds.")
    owned_by: str = "rag-news"


class ModelList(BaseModel):
    """GET /v1/models."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorDetail(BaseModel):
    """What went wrong, machine- and human-readable."""

    code: str
    message: str


class ErrorBody(BaseModel):
    """Every 4xx and 5xx response body."""

    error: ErrorDetail


__all__ = [
    "AskRequest",
    "ChatRequest",
    "Citation",
    "DeleteResult",
    "DocumentInfo",
    "DocumentText",
    "ErrorBody",
    "ModelCard",
    "ModelList",
    "SearchRequest",
    "TextDocument",
    "UploadResult",
]
