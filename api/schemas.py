"""Request and error bodies of the HTTP API (responses reuse the library's models)."""

from pydantic import BaseModel, ConfigDict, Field


class AskRequest(BaseModel):
    """POST /v1/ask."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"question": "Which article of the UN Charter does the defence clause invoke?"}]})

    question: str = Field(description="The question, in plain words.")
    top_k: int | None = Field(None, ge=1, le=50, description="Chunks to retrieve.")


class SearchRequest(BaseModel):
    """POST /v1/search."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"query": "mutual defence clause", "top_k": 5}]})

    query: str
    top_k: int | None = Field(None, ge=1, le=50)


class ErrorDetail(BaseModel):
    """What went wrong, machine- and human-readable."""

    code: str
    message: str


class ErrorBody(BaseModel):
    """Every 4xx and 5xx response body."""

    error: ErrorDetail
