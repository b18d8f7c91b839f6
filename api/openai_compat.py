"""The OpenAI protocol, so its clients work unchanged: GET /v1/models (the one model,
`rag-news`) and POST /v1/chat/completions. Citations travel as [n] markers in the text;
beside it as Perplexity's `citations` (the URL, or the source where there is none, of each
marker's document, in marker order) and `search_results`, and as our own `rag_citations`
(quote, offsets, title); and (unless RAG_API__SOURCES_IN_TEXT or the request's
`sources_in_text` is false) as a Sources block after the answer, for clients that show only
the text. Usage counts word pieces with the embedder's tokenizer: the prompt is the
messages and the passages the answer was read from, the completion what the content held."""

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.errors import HttpError
from api.schemas import MODEL_ID, ChatRequest, ErrorBody, ModelCard, ModelList
from api.streaming import failure, final_answer, first_event, relay
from rag.errors import InvalidQuestion, UnknownDocument
from rag.events import AnswerEvent, Finished, Token
from rag.models import Answer, Citation
from rag.pipeline import Pipeline
from rag.sources import leading_sentences, sources_block

router = APIRouter(prefix="/v1")
log = logging.getLogger(__name__)
STARTED = int(time.time())


@router.get("/models", response_model=ModelList)
async def models() -> ModelList:
    """The models /v1/chat/completions answers as: one, this service (the answerer that
    RAG_LLM__PROVIDER names writes its answers)."""
    return ModelList(data=[ModelCard(id=MODEL_ID, created=STARTED)])


@router.get(
    "/models/{model_id:path}", response_model=ModelCard, responses={404: {"model": ErrorBody}}
)
async def model(model_id: str) -> ModelCard:
    """One model by its id: 404 for any but the one GET /v1/models lists."""
    if model_id != MODEL_ID:
        raise HttpError(f"no model {model_id!r}: GET /v1/models lists {MODEL_ID!r}", status=404)
    return ModelCard(id=MODEL_ID, created=STARTED)


def envelope(request_id: str, model: str, kind: str) -> dict:
    """The fields every completion object and chunk carries."""
    return {"id": request_id, "object": kind, "created": int(time.time()), "model": model}


@dataclass(frozen=True)
class Reply:
    """What a chat completion sends once its answer is whole: the answer as sent (cut to the
    request's max_tokens), why it ended, and the fields beside the text."""

    answer: Answer
    finish: str  # "stop", or "length" when max_tokens left sentences out
    sources_in_text: bool
    prompt_tokens: int
    count: Callable[[str], int]
    extras: dict

    @property
    def content(self) -> str:
        """The message's text: the answer, then its Sources block if it is sent."""
        return shown(self.answer, self.sources_in_text)

    def usage(self, content: str) -> dict:
        """OpenAI's usage object for a reply whose content was `content`."""
        completion_tokens = self.count(content)
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": self.prompt_tokens + completion_tokens,
        }


def shown(answer: Answer, sources_in_text: bool) -> str:
    """The answer's text as a message holds it."""
    return answer.answer + (sources_block(answer) if sources_in_text else "")


async def reply_for(request: Request, body: ChatRequest, answer: Answer, in_text: bool) -> Reply:
    """The reply to `body` from its whole answer, worked out in a worker thread: it counts
    every passage's word pieces and reads the quoted documents' records."""
    return await run_in_threadpool(build_reply, request.app.state.pipeline, body, answer, in_text)


def build_reply(pipeline: Pipeline, body: ChatRequest, answer: Answer, in_text: bool) -> Reply:
    """The reply to `body` from its whole answer."""
    count, limit = pipeline.embedder.count_tokens, body.token_limit
    sent = answer
    if limit is not None:
        sent = leading_sentences(answer, lambda cut: count(shown(cut, in_text)) <= limit)
    read = "\n".join([*(m.text() for m in body.messages), *(p.text for p in answer.passages)])
    urls, results = references(pipeline, sent.citations)
    return Reply(
        answer=sent,
        finish="stop" if sent.answer == answer.answer else "length",
        sources_in_text=in_text,
        prompt_tokens=count(read),
        count=count,
        extras={
            "citations": urls,
            "search_results": results,
            "rag_citations": [c.model_dump() for c in sent.citations],
            "refused": answer.refused,
            "rewritten_question": answer.question,
        },
    )


def references(pipeline: Pipeline, citations: list[Citation]) -> tuple[list[str], list[dict]]:
    """Perplexity's fields, one entry per [n] in order: `citations`, the URL of the quoted
    document (its source where it was not fetched from one), and `search_results`, that
    with its title and date."""
    records: dict[str, dict] = {}
    for citation in citations:
        if citation.source not in records:
            try:
                records[citation.source] = pipeline.document(citation.source)
            except UnknownDocument:  # deleted since it was quoted: its source still names it
                records[citation.source] = {}
    urls = [records[c.source].get("url") or c.source for c in citations]
    results = [
        {"title": c.title, "url": url, "date": records[c.source].get("date")}
        for c, url in zip(citations, urls)
    ]
    return urls, results


def completion(request_id: str, model: str, reply: Reply) -> dict:
    """A whole chat.completion."""
    return envelope(request_id, model, "chat.completion") | {
        "choices": [
            {
                "index": 0,
                "finish_reason": reply.finish,
                "message": {"role": "assistant", "content": reply.content},
            }
        ],
        "usage": reply.usage(reply.content),
        **reply.extras,
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
            "chat.completion.chunk objects; the last chunk carries the citations (and "
            "with stream_options.include_usage one more carries usage). The text ends with "
            "the numbered sources unless `sources_in_text` is false."
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
    if body.user:
        log.info("%s is for end user %r", request_id, body.user)
    in_text = body.sources_in_text
    in_text = request.app.state.settings.api.sources_in_text if in_text is None else in_text
    reply = None
    if not body.stream or body.token_limit is not None:
        reply = await reply_for(request, body, await final_answer(first, events), in_text)
        if not body.stream:
            return completion(request_id, body.model, reply)
        events = told(reply.answer)  # a limit is kept by whole sentences: sent when known
        first = next(events)
    stream = chunks(request, first, events, request_id, body, in_text, reply)
    return StreamingResponse(
        stream, media_type="text/event-stream", headers={"cache-control": "no-cache"}
    )


def told(answer: Answer) -> Iterator[AnswerEvent]:
    """A whole answer as the events of its stream."""
    if answer.answer:
        yield Token(answer.answer)
    yield Finished(answer)


async def chunks(
    request: Request,
    first: AnswerEvent,
    events: Iterator[AnswerEvent],
    request_id: str,
    body: ChatRequest,
    sources_in_text: bool,
    reply: Reply | None = None,
) -> AsyncIterator[str]:
    """The answer as chat.completion.chunk events (the Sources block, if wanted, one more
    content delta before the last; then usage, if asked), then `data: [DONE]`. `reply`, if
    given, is the one the answer was already cut to."""

    def line(payload: dict) -> str:
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    model, sent = body.model, []
    yield line(chunk(request_id, model, {"role": "assistant", "content": ""}))
    try:
        async for event in relay(request, first, events, request.app.state.metrics.tokens.inc):
            match event:
                case Token(text):
                    sent.append(text)
                    yield line(chunk(request_id, model, {"content": text}))
                case Finished(answer):
                    reply = reply or await reply_for(request, body, answer, sources_in_text)
                    if sources_in_text and (sources := sources_block(reply.answer)):
                        sent.append(sources)
                        yield line(chunk(request_id, model, {"content": sources}))
                    yield line(chunk(request_id, model, {}, finish=reply.finish) | reply.extras)
                    if body.stream_options and body.stream_options.include_usage:
                        usage = {"choices": [], "usage": reply.usage("".join(sent))}
                        yield line(envelope(request_id, model, "chat.completion.chunk") | usage)
    except Exception as exc:  # noqa: BLE001 - the 200 is sent: the client learns of it here
        yield line(failure(exc))
    yield "data: [DONE]\n\n"
