"""Server-Sent Events from the pipeline's answer events, stopping when the client leaves."""

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from api.errors import InternalError, error_body
from rag.errors import RagError
from rag.models import Answer
from rag.pipeline import Event

_END = object()
log = logging.getLogger(__name__)


async def first_event(events: Iterator[Event]) -> Event:
    """Run the stream up to its first event, so bad input fails before a 200 is sent."""
    return await run_in_threadpool(next, events)


async def final_answer(first: Event, events: Iterator[Event]) -> Answer:
    """Run the rest of a stream in a worker thread; the Answer its `done` event carries."""
    *_, done = [first, *await run_in_threadpool(list, events)]
    return done.data


def failure(exc: Exception) -> dict:
    """The error body a stream ends with: the error's own, or (logged) an internal one."""
    if isinstance(exc, RagError):
        return error_body(exc)
    log.error("a stream failed mid-answer", exc_info=exc)
    return error_body(InternalError())


async def relay(request: Request, first: Event, events: Iterator[Event],
                on_token: Callable[[], None]) -> AsyncIterator[Event]:
    """The events, each fetched in a worker thread; a client that disconnects closes the
    stream, which stops the answerer at its next token."""
    event = first
    try:
        while event is not _END:
            if await request.is_disconnected():
                return
            if event.kind == "token":
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


async def answer_events(request: Request, first: Event, events: Iterator[Event],
                        on_token: Callable[[], None]) -> AsyncIterator[str]:
    """/v1/ask's stream: token, citations and done events (an error event if it fails)."""
    try:
        async for event in relay(request, first, events, on_token):
            match event.kind:
                case "token":
                    yield sse("token", {"text": event.data})
                case "citations":
                    yield sse("citations", {"citations": [c.model_dump() for c in event.data]})
                case "done":
                    yield sse("done", event.data.model_dump())
    except Exception as exc:  # the 200 is sent: the client learns of it in the stream
        yield sse("error", failure(exc))
