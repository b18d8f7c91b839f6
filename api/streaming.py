"""Server-Sent Events from the pipeline's answer events, stopping when the client leaves."""

import itertools
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from api.errors import InternalError, error_body
from rag.errors import RagError
from rag.events import AnswerEvent, Cited, Finished, Token, collect
from rag.models import Answer

_END = object()
log = logging.getLogger(__name__)


async def first_event(events: Iterator[AnswerEvent]) -> AnswerEvent:
    """Run the stream up to its first event, so bad input fails before a 200 is sent."""
    return await run_in_threadpool(next, events)


async def final_answer(first: AnswerEvent, events: Iterator[AnswerEvent]) -> Answer:
    """Run the rest of a stream in a worker thread; the Answer it finishes with."""
    return await run_in_threadpool(collect, itertools.chain([first], events))


def failure(exc: Exception) -> dict:
    """The error body a stream ends with: the error's own, or (logged) an internal one."""
    if isinstance(exc, RagError):
        return error_body(exc)
    log.error("a stream failed mid-answer", exc_info=exc)
    return error_body(InternalError())


async def relay(
    request: Request,
    first: AnswerEvent,
    events: Iterator[AnswerEvent],
    on_token: Callable[[], None],
) -> AsyncIterator[AnswerEvent]:
    """The events, each fetched in a worker thread; a client that disconnects closes the
    stream, which stops the answerer at its next token."""
    event = first
    try:
        while event is not _END:
            if await request.is_disconnected():
                return
            if isinstance(event, Token):
                on_token()
            yield event
            event = await run_in_threadpool(next, events, _END)
    finally:
        try:
            events.close()  # raises GeneratorExit inside the pipeline: the answerer stops
        except ValueError:
            pass  # still running its current token in a worker; nothing will ask for more


def sse(kind: str, data: object) -> str:
    """One Server-Sent Event."""
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def answer_events(
    request: Request,
    first: AnswerEvent,
    events: Iterator[AnswerEvent],
    on_token: Callable[[], None],
) -> AsyncIterator[str]:
    """/v1/ask's stream: token, citations and done events (an error event if it fails)."""
    try:
        async for event in relay(request, first, events, on_token):
            match event:
                case Token(text):
                    yield sse("token", {"text": text})
                case Cited(citations):
                    yield sse("citations", {"citations": [c.model_dump() for c in citations]})
                case Finished(answer):
                    yield sse("done", answer.model_dump())
    except Exception as exc:  # noqa: BLE001 - the 200 is sent: the client learns of it here
        yield sse("error", failure(exc))
