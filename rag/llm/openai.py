"""Any OpenAI-compatible chat endpoint: OpenAI, vLLM, Ollama's /v1, LM Studio, llama.cpp's
server. A plain httpx client, with tenacity for the retries and httpx-sse to read the stream:
llama-index's OpenAI integrations pin the openai package below the version the tests use,
and the retry policy is simpler to see here.

Failures before the first token (connection errors, timeouts, 429 and 5xx) are retried
with exponential backoff, honouring Retry-After; other 4xx and failures mid-stream (a
broken connection, an error chunk, a stream that ends without `[DONE]`) are reported at
once with the endpoint's own message: LLMTimeout (504) when it is too slow, LLMBadReply
(502) when it answers wrongly, LLMUnavailable (503) when it cannot be reached.
"""

import json
from collections.abc import Generator, Iterator
from contextlib import contextmanager

import httpx
from httpx_sse import EventSource, SSEError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from rag.errors import LLMBadReply, LLMTimeout, LLMUnavailable
from rag.llm.base import Message
from rag.settings import LLMSettings

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_BACKOFF_S = 20.0


class OpenAICompatibleLLM:
    """A hosted or served model, reached over HTTP."""

    name = "openai"

    def __init__(self, settings: LLMSettings, client: httpx.Client | None = None) -> None:
        self.settings = settings
        key = settings.api_key.get_secret_value()
        self.client = client or httpx.Client(
            base_url=settings.base_url.rstrip("/") + "/",
            timeout=httpx.Timeout(settings.timeout_s, connect=min(settings.timeout_s, 10.0)),
            headers={"authorization": f"Bearer {key}"} if key else {},
        )

    def complete(self, messages: list[Message]) -> str:
        """The whole reply, from one non-streaming request."""
        with self.request(messages, stream=False) as response:
            try:
                response.read()
                return response.json()["choices"][0]["message"]["content"] or ""
            except httpx.HTTPError as exc:
                raise broken_off(self.settings, "reply", exc) from None
            except (ValueError, LookupError, TypeError):
                raise LLMBadReply(
                    f"{self.settings.base_url} sent a reply that is not a chat "
                    f"completion: {response.text[:200]!r}"
                ) from None

    def stream(self, messages: list[Message]) -> Generator[str, None, None]:
        """The reply as server-sent deltas; closing the iterator closes the connection."""
        with self.request(messages, stream=True) as response:
            try:
                for event in EventSource(response).iter_sse():
                    data = event.data.strip()
                    if not data:  # an event with no data, such as a bare `event:` or `retry:`
                        continue
                    if data == "[DONE]":
                        return
                    if delta := content_of(data):
                        yield delta
            except SSEError:  # before HTTPError, which it subclasses: the reply is no event stream
                raise LLMBadReply(
                    f"{self.settings.base_url} answered a streamed request with "
                    f"{response.headers.get('content-type')!r}, not an event "
                    "stream"
                ) from None
            except httpx.HTTPError as exc:
                raise broken_off(self.settings, "stream", exc) from None
        # a server that dies mid-answer may close cleanly: without [DONE] the reply is cut short
        raise LLMBadReply(
            f"{self.settings.base_url}: the stream ended before [DONE]; the reply is incomplete"
        )

    @contextmanager
    def request(self, messages: list[Message], *, stream: bool) -> Iterator[httpx.Response]:
        """The endpoint's response once it is a success, after retries; closed on exit."""
        response = self.send(
            {
                "model": self.settings.openai_model,
                "messages": messages,
                "stream": stream,
                "temperature": self.settings.temperature,
                "max_tokens": self.settings.max_tokens,
            }
        )
        try:
            yield response
        finally:
            response.close()

    def send(self, body: dict) -> httpx.Response:
        """POST the request, retrying what may pass on a second try; a 2xx response, open."""
        attempts = self.settings.retries + 1
        exponential = wait_exponential(multiplier=self.settings.backoff_s, max=MAX_BACKOFF_S)

        def wait(state: RetryCallState) -> float:
            asked = state.outcome.exception().wait  # type: ignore[union-attr]
            return exponential(state) if asked is None else min(asked, MAX_BACKOFF_S)

        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait,
            reraise=True,
            retry=retry_if_exception_type(Retryable),
        )
        try:
            return retrying(self.send_once, body)
        except Retryable as failure:
            raise failure.kind(f"{failure} (after {attempts} attempts)") from None

    def send_once(self, body: dict) -> httpx.Response:
        """One POST: a 2xx response, open; Retryable for what may pass on a second try."""
        try:
            response = self.client.send(
                self.client.build_request("POST", "chat/completions", json=body), stream=True
            )
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            kind = LLMTimeout if isinstance(exc, httpx.TimeoutException) else LLMUnavailable
            raise Retryable(
                f"cannot reach {self.settings.base_url}: {exc or type(exc).__name__}", kind
            ) from None
        if response.is_success:
            return response
        try:
            response.read()
        finally:
            response.close()
        problem = (
            f"{self.settings.base_url} answered {response.status_code}: {error_text(response)}"
        )
        if response.status_code not in RETRY_STATUS:
            raise LLMBadReply(problem)
        raise Retryable(problem, LLMBadReply, wait=retry_after(response))


class Retryable(Exception):
    """A failed attempt that may pass on a second try: the error it becomes when retries run
    out, and the wait the endpoint asked for (Retry-After), if it did."""

    def __init__(
        self, problem: str, kind: type[LLMUnavailable], *, wait: float | None = None
    ) -> None:
        super().__init__(problem)
        self.kind = kind
        self.wait = wait


def broken_off(settings: LLMSettings, what: str, exc: httpx.HTTPError) -> LLMUnavailable:
    """The error for a reply that stopped arriving: too slow, or cut."""
    kind = LLMTimeout if isinstance(exc, httpx.TimeoutException) else LLMBadReply
    return kind(f"{settings.base_url}: the {what} broke off: {exc or type(exc).__name__}")


def content_of(data: str) -> str:
    """The text delta of one streamed chunk ("" for role-only or empty chunks); LLMBadReply
    for an error chunk or one that is not a chat completion chunk."""
    try:
        chunk = json.loads(data)
    except ValueError:
        raise LLMBadReply(
            f"the endpoint streamed a chunk that is not JSON: {data[:200]!r}"
        ) from None
    if isinstance(chunk, dict) and "error" in chunk:
        raise LLMBadReply(f"the endpoint failed mid-stream: {message_of(chunk['error'])}")
    try:
        choices = chunk.get("choices") or [{}]
        return (choices[0].get("delta") or {}).get("content") or ""
    except (AttributeError, LookupError, TypeError):
        raise LLMBadReply(
            f"the endpoint streamed a chunk that is not a chat completion chunk: {data[:200]!r}"
        ) from None


def error_text(response: httpx.Response) -> str:
    """The endpoint's own error message, else the start of its body."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return response.text[:300] or response.reason_phrase
    return message_of(error or response.text)


def message_of(error: object) -> str:
    """An OpenAI-style error's message: a dict's `message` (else the dict), or the value."""
    return str(error.get("message") or error if isinstance(error, dict) else error)[:300]


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the endpoint asked us to wait, if it said."""
    try:
        return max(float(response.headers["retry-after"]), 0.0)
    except (KeyError, ValueError):
        return None
