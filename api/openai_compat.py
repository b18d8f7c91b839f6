"""POST /v1/chat/completions, speaking OpenAI's protocol so its clients work unchanged.
Citations travel as [n] markers in the text and in an extra `citations` field, and (unless
RAG_API__SOURCES_IN_TEXT or the request's `sources_in_text` is false) as a Sources block
after the answer, for clients that show only the text."""

import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.schemas import ChatRequest
from api.streaming import failure, final_answer, first_event, relay
from rag.errors import InvalidQuestion
from rag.events import AnswerEvent, Finished, Token
from rag.models import Answer
from rag.sources import sources_block

router = APIRouter(prefix="/v1")


def envelope(request_id: str, model: str, kind: str) -> dict:
    """The fields every completion object and chunk carries."""
    return {"id": request_id, "object": kind, "created": int(time.time()), "model": model}


def completion(request_id: str, model: str, answer: Answer, sources: str) -> dict:
    """A whole chat.completion, its text followed by `sources` ("" for none), with the
    answer's citations beside it."""
    content, question = answer.answer + sources, answer.question
    words = len(content.split())
    return envelope(request_id, model, "chat.completion") | {
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content},
            }
        ],
        "usage": {
            "prompt_tokens": len(question.split()),
            "completion_tokens": words,
            "total_tokens": len(question.split()) + words,
        },
        "citations": [c.model_dump() for c in answer.citations],
        "refused": answer.refused,
        "rewritten_question": question,
    }


def chunk(request_id: str, model: str, delta: dict, finish: str | None = None) -> dict:
    """One chat.completion.chunk."""
    return envelope(request_id, model, "chat.completion.chunk") | {
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
    }


@router.post(
    "/chat/completions",
    responses={
        200: {
            "description": "A chat.completion, or with stream: true SSE "
            "chat.completion.chunk objects; the last chunk carries `citations`. The text "
            "ends with the numbered sources unless `sources_in_text` is false."
        }
    },
)
async def chat_completions(body: ChatRequest, request: Request):  # noqa: ANN201
    """OpenAI-compatible chat: a follow-up is rewritten into a standalone question from the
    earlier turns, then answered with citations."""
    turns = [m.turn() for m in body.messages]
    asked = [i for i, t in enumerate(turns) if t.role == "user" and t.content.strip()]
    if not asked:
        raise InvalidQuestion("the conversation has no user message")
    events = request.app.state.pipeline.answer(
        turns[asked[-1]].content, history=turns[: asked[-1]], top_k=body.top_k
    )
    first = await first_event(events)
    request_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    in_text = body.sources_in_text
    in_text = request.app.state.settings.api.sources_in_text if in_text is None else in_text
    if not body.stream:
        answer = await final_answer(first, events)
        return completion(request_id, body.model, answer, sources_block(answer) if in_text else "")
    stream = chunks(request, first, events, request_id, body.model, in_text)
    return StreamingResponse(
        stream, media_type="text/event-stream", headers={"cache-control": "no-cache"}
    )


async def chunks(
    request: Request,
    first: AnswerEvent,
    events: Iterator[AnswerEvent],
    request_id: str,
    model: str,
    sources_in_text: bool,
) -> AsyncIterator[str]:
    """The answer as chat.completion.chunk events (the Sources block, if wanted, one more
    content delta before the last), then `data: [DONE]`."""

    def line(payload: dict) -> str:
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    yield line(chunk(request_id, model, {"role": "assistant", "content": ""}))
    try:
        async for event in relay(request, first, events, request.app.state.metrics.tokens.inc):
            match event:
                case Token(text):
                    yield line(chunk(request_id, model, {"content": text}))
                case Finished(answer):
                    if sources_in_text and (sources := sources_block(answer)):
                        yield line(chunk(request_id, model, {"content": sources}))
                    last = chunk(request_id, model, {}, finish="stop")
                    last["citations"] = [c.model_dump() for c in answer.citations]
                    last["refused"] = answer.refused
                    yield line(last)
    except Exception as exc:  # noqa: BLE001 - the 200 is sent: the client learns of it here
        yield line(failure(exc))
    yield "data: [DONE]\n\n"
