"""The HTTP adapter: create_app(settings) builds the pipeline once and serves it."""

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.schemas import AskRequest, ErrorBody, SearchRequest
from rag.errors import EmbedderMismatch, EmptyStore, InvalidQuestion, ModelUnavailable, RagError
from rag.models import Answer, SearchHit
from rag.pipeline import build_pipeline
from rag.settings import Settings

STATUS = {InvalidQuestion: 422, EmptyStore: 409, EmbedderMismatch: 409, ModelUnavailable: 503}
ERRORS = {status: {"model": ErrorBody} for status in (409, 422, 503)}


def create_app(settings: Settings) -> FastAPI:
    """The FastAPI app; the model and the store load once, at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202 - FastAPI's lifespan protocol
        pipeline = build_pipeline(settings)
        pipeline.warm_up()  # load the weights now, not on the first request
        app.state.pipeline = pipeline
        yield

    app = FastAPI(title="rag-news", version="0.1.0", lifespan=lifespan,
                  description="Grounded, cited answers over the indexed news articles.")
    add_error_handlers(app)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.post("/v1/ask", response_model=Answer, responses=ERRORS)
    def ask(body: AskRequest, request: Request) -> Answer:
        """Answer a question; each sentence ends with a [n] citation marker."""
        return request.app.state.pipeline.ask(body.question, top_k=body.top_k)

    @app.post("/v1/search", response_model=list[SearchHit], responses=ERRORS)
    def search(body: SearchRequest, request: Request) -> list[SearchHit]:
        """The chunks nearest to the query, best first, without an answer."""
        return request.app.state.pipeline.search(body.query, top_k=body.top_k)

    return app


def error(status: int, code: str, message: str) -> JSONResponse:
    """The one error body shape: {"error": {"code", "message"}}."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def add_error_handlers(app: FastAPI) -> None:
    """Map library errors, validation errors and HTTP errors to the error body."""

    @app.exception_handler(RagError)
    async def rag_error(request: Request, exc: RagError) -> JSONResponse:
        return error(STATUS.get(type(exc), 400), exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"] if p != "body") or "body"
        return error(422, "invalid_request", f"{where}: {first['msg']}")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return error(500, "internal_error", "the server failed to answer; see its log")
