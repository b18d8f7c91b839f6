"""The HTTP adapter: create_app(settings) builds the pipeline once and serves it."""

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from api import openai_compat, routes
from api.observe import Guard, Metrics
from rag.errors import (EmbedderMismatch, EmptyStore, InvalidQuestion, LLMUnavailable,
                        ModelUnavailable, RagError, SourceError, StoreUnavailable,
                        UnknownDocument)
from rag.pipeline import build_pipeline
from rag.settings import Settings, load_settings

STATUS = {InvalidQuestion: 422, SourceError: 422, UnknownDocument: 404, EmptyStore: 409,
          EmbedderMismatch: 409, ModelUnavailable: 503, LLMUnavailable: 503,
          StoreUnavailable: 503,
          routes.UnsupportedUpload: 415, routes.UploadTooLarge: 413}


def create_app(settings: Settings) -> FastAPI:
    """The FastAPI app; the model and the store load once, at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202 - FastAPI's lifespan protocol
        pipeline = build_pipeline(settings)
        pipeline.warm_up()  # load the weights now, not on the first request
        pipeline.index.open(create=True)  # and fail now if it was built with another model
        app.state.pipeline = pipeline
        yield

    app = FastAPI(title="rag-news", version="0.1.0", lifespan=lifespan,
                  description="Grounded, cited answers over the indexed news articles. Every "
                              "error is a JSON body {\"error\": {\"code\", \"message\"}}.")
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.include_router(routes.router)
    app.include_router(openai_compat.router)
    add_probes(app)
    add_error_handlers(app)
    app.add_middleware(Guard, metrics=app.state.metrics, keys=settings.api.key_list)
    return app


def app_from_environment() -> FastAPI:
    """The app for the RAG_* settings: the factory each of `rag serve --workers N`'s
    processes calls for itself (its own pipeline, model and caches, built once at start)."""
    return create_app(load_settings())


def add_probes(app: FastAPI) -> None:
    """Liveness, readiness and metrics."""

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """Liveness: the process answers (never needs a key)."""
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz(request: Request) -> dict:
        """Readiness: the store is open and the embedder loaded, with what is indexed."""
        pipeline = request.app.state.pipeline
        store = pipeline.index.open(create=True).store
        return {"status": "ready", "embedder": pipeline.embedder.name,
                "documents": store.count(), "chunks": store.chunk_count()}

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics(request: Request) -> PlainTextResponse:
        """Prometheus text format: requests and latency per route, ingest counts."""
        return PlainTextResponse(generate_latest(request.app.state.metrics.registry),
                                 media_type=CONTENT_TYPE_LATEST)


def error(status: int, code: str, message: str) -> JSONResponse:
    """The one error body shape: {"error": {"code", "message"}}."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def first_problem(errors: list) -> str:
    """The first validation error as `where: what`."""
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"] if p != "body") or "body"
    return f"{where}: {first['msg']}"


def add_error_handlers(app: FastAPI) -> None:
    """Map library errors, validation errors and HTTP errors to the error body."""

    @app.exception_handler(RagError)
    async def rag_error(request: Request, exc: RagError) -> JSONResponse:
        status = next((s for kind, s in STATUS.items() if isinstance(exc, kind)), 400)
        return error(status, exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, "invalid_request", first_problem(exc.errors()))

    @app.exception_handler(ValidationError)
    async def invalid_body(request: Request, exc: ValidationError) -> JSONResponse:
        return error(422, "invalid_request", first_problem(exc.errors()))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return error(500, "internal_error", "the server failed to answer; see its log")
