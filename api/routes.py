"""The /v1 routes: ask (JSON or SSE), search, and documents. Each parses, calls one
pipeline method, and formats."""

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool
from starlette.formparsers import MultiPartException

from api.errors import UnsupportedUpload, UploadTooLarge
from api.schemas import (
    AskRequest,
    DeleteResult,
    DocumentInfo,
    DocumentText,
    ErrorBody,
    FeedRequest,
    PageRequest,
    SearchRequest,
    TextDocument,
    UploadResult,
)
from api.streaming import answer_events, final_answer, first_event
from rag.errors import SourceError
from rag.fetching import check_url
from rag.models import Answer, SearchHit

if TYPE_CHECKING:
    from api.observe import Metrics
    from rag.pipeline import Pipeline

ERRORS = {
    status: {"model": ErrorBody} for status in (401, 404, 409, 413, 415, 422, 429, 502, 503, 504)
}
router = APIRouter(prefix="/v1", responses=ERRORS)


def wants_stream(body: AskRequest, request: Request) -> bool:
    """SSE when asked for in the body or by the Accept header."""
    return body.stream or "text/event-stream" in request.headers.get("accept", "")


@router.post(
    "/ask",
    response_model=Answer,
    responses={
        200: {
            "content": {
                "text/event-stream": {"example": 'event: token\ndata: {"text": "Mutual "}\n\n'}
            },
            "description": "The answer object, or with stream: true an SSE stream of token, "
            "citations and done events (done carries the answer object).",
        }
    },
)
async def ask(body: AskRequest, request: Request):  # noqa: ANN201 - JSON or a stream
    """Answer a question (a follow-up, given the history); each sentence ends with a [n]
    citation marker."""
    events = request.app.state.pipeline.answer(
        body.question,
        history=[m.turn() for m in body.history],
        top_k=body.top_k,
        filters=body.filters,
        provider=body.provider,
    )
    first = await first_event(events)
    if not wants_stream(body, request):
        return await final_answer(first, events)
    tokens = request.app.state.metrics.tokens
    return StreamingResponse(
        answer_events(request, first, events, tokens.inc),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


@router.post("/search", response_model=list[SearchHit])
def search(body: SearchRequest, request: Request) -> list[SearchHit]:
    """The chunks nearest to the query, best first, without an answer."""
    return request.app.state.pipeline.search(
        body.query, top_k=body.top_k, filters=body.filters, rerank=body.rerank
    )


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                }
            },
            "application/json": {
                "schema": {
                    "oneOf": [
                        m.model_json_schema() for m in (TextDocument, PageRequest, FeedRequest)
                    ]
                },
                "example": TextDocument.model_config["json_schema_extra"]["examples"][0],
            },
        },
    }
}


@router.post(
    "/documents", response_model=list[UploadResult], status_code=201, openapi_extra=UPLOAD_BODY
)
async def upload(request: Request) -> JSONResponse:
    """Upload .txt/.md/.html/.pdf files (multipart field `files`), JSON {source, text}, or
    have the service fetch JSON {url} (a page or PDF) or {feed} (an RSS or Atom feed's new
    entries). Same content changes nothing; new content replaces the old chunks atomically."""
    pipeline, metrics = request.app.state.pipeline, request.app.state.metrics
    if is_json(request):
        asked = JSON_UPLOAD.validate_json(await request.body())
        if isinstance(asked, PageRequest | FeedRequest):
            results = await run_in_threadpool(fetched_results, pipeline, asked)
            return upload_response(results, metrics)
        files = [(asked.source, asked.text.encode("utf-8"))]
    else:
        files = await read_upload(request, request.app.state.settings.api.max_upload_bytes)
    outcomes = await run_in_threadpool(pipeline.add_documents, files)
    results = [
        UploadResult(source=name, status=outcome, chunks=chunks)
        for (name, _), (outcome, chunks) in zip(files, outcomes)
    ]
    return upload_response(results, metrics)


JSON_UPLOAD = TypeAdapter(TextDocument | PageRequest | FeedRequest)


def is_json(request: Request) -> bool:
    """Whether the request's body is JSON."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower() == (
        "application/json"
    )


def fetched_results(pipeline: "Pipeline", asked: PageRequest | FeedRequest) -> list[UploadResult]:
    """Fetch and index a page or a feed's new entries: a result per page."""
    if isinstance(asked, PageRequest):
        report = pipeline.ingest_pages([asked.url])
    else:  # a URL only: a path would name a file on this server
        report = pipeline.ingest_feed(check_url(asked.feed))
    chunks = {r["source"]: int(r["chunks"]) for r in pipeline.documents()}
    results = [
        UploadResult(source=s, status="indexed", chunks=chunks.get(s, 0)) for s in report.indexed
    ]
    results += [
        UploadResult(source=s, status="unchanged", chunks=chunks.get(s, 0))
        for s in report.unchanged
    ]
    results += [
        UploadResult(source=url, status="skipped", chunks=0, url=url, reason=reason)
        for url, reason in report.skipped.items()
    ]
    return results


def upload_response(results: list[UploadResult], metrics: "Metrics") -> JSONResponse:
    """201 when anything was indexed, else 200; each outcome counted."""
    for result in results:
        metrics.ingested.labels(result.status).inc()
    status = 201 if any(r.status == "indexed" for r in results) else 200
    return JSONResponse([r.model_dump(exclude_none=True) for r in results], status_code=status)


async def read_upload(request: Request, limit: int) -> list[tuple[str, bytes]]:
    """(file name, bytes) pairs from a multipart upload."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "multipart/form-data":
        raise UnsupportedUpload(
            "send multipart/form-data with `files`, or JSON {source, text}, {url} or {feed}"
        )
    try:
        form = await request.form(max_files=100, max_part_size=limit)
    except MultiPartException as exc:
        raise UploadTooLarge(f"bad or oversized multipart upload: {exc.message}") from None
    uploads = [f for f in form.getlist("files") if hasattr(f, "read")]
    if not uploads:
        raise SourceError("no files in the upload: use the multipart field `files`", path="upload")
    return [(u.filename or "", await u.read()) for u in uploads]


@router.get("/documents", response_model=list[DocumentInfo])
def list_documents(request: Request) -> list[DocumentInfo]:
    """Every indexed document."""
    return [DocumentInfo(**r) for r in request.app.state.pipeline.documents()]


@router.get("/documents/{source}", response_model=DocumentInfo)
def get_document(source: str, request: Request) -> DocumentInfo:
    """One indexed document."""
    return DocumentInfo(**request.app.state.pipeline.document(source))


@router.get("/documents/{source}/text", response_model=DocumentText)
def get_document_text(source: str, request: Request) -> DocumentText:
    """One indexed document with its text, which citations' start and end index into."""
    record, text = request.app.state.pipeline.document_text(source)
    return DocumentText(**record, text=text)


@router.delete("/documents/{source}", response_model=DeleteResult)
def delete_document(source: str, request: Request) -> DeleteResult:
    """Forget a document: it is no longer retrieved or cited."""
    removed = request.app.state.pipeline.delete_document(source)
    return DeleteResult(source=source, chunks_removed=removed)
