"""The HTTP adapter: create_app(settings) builds the pipeline once and serves it."""

import logging
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from api import openai_compat, routes
from api.errors import HttpError, InternalError, InvalidRequest, error_response
from api.mcp_server import http_route, mcp_server
from api.observe import Admission, Metrics
from rag.errors import RagError
from rag.pipeline import Pipeline, ready_pipeline
from rag.settings import Settings, load_settings

log = logging.getLogger(__name__)
WEB = Path(__file__).parent / "web"
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def create_app(settings: Settings, pipeline: Pipeline | None = None) -> FastAPI:
    """The FastAPI app; the model and the store load once, at start-up (or were loaded
    by the caller, which then saw any problem as a one-line error)."""

    agents = mcp_server(lambda: app.state.pipeline)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202 - FastAPI's lifespan protocol
        app.state.pipeline = pipeline or ready_pipeline(settings)
        async with agents.session_manager.run():
            yield
        app.state.pipeline.shutdown()  # the local model's process, before anything signals it

    app = FastAPI(
        title="rag-news",
        version="0.1.0",
        lifespan=lifespan,
        description="Grounded, cited answers over the indexed news articles. Every "
        'error is a JSON body {"error": {"code", "message"}}.',
    )
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.include_router(routes.router)
    app.include_router(openai_compat.router)
    app.router.routes.append(http_route(agents, settings.api.host))  # MCP, for agents
    add_page(app)
    add_probes(app)
    add_error_handlers(app)
    app.add_middleware(
        Admission,
        metrics=app.state.metrics,
        keys=settings.api.key_list,
        max_body=settings.api.max_upload_bytes,
        rate_per_minute=settings.api.rate_per_minute,
    )
    if settings.api.origin_list:  # closed unless origins are named: no CORS headers at all
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api.origin_list,  # outermost:
            allow_methods=["GET", "POST", "DELETE"],  # preflights carry no key
            allow_headers=["authorization", "content-type", "accept"],
        )
    return app


def app_from_environment() -> FastAPI:
    """The app for the RAG_* settings: the factory each of `rag serve --workers N`'s
    processes calls for itself (its own pipeline, model and caches, built once at start)."""
    return create_app(load_settings())


def add_page(app: FastAPI) -> None:
    """The web page at /, its script and style under /web/ (files in api/web, no build).
    Its policy lets the page run only its own script: document text is never markup."""
    headers = {
        "content-security-policy": PAGE_POLICY,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cache-control": "no-cache",
    }

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(WEB / "index.html", headers=headers)

    app.mount("/web", PageFiles(directory=WEB, headers=headers), name="web")


class PageFiles(StaticFiles):
    """The page's static files, with the page's security headers."""

    def __init__(self, directory: Path, headers: dict[str, str]) -> None:
        super().__init__(directory=directory)
        self.headers = headers

    def file_response(self, *args, **kwargs) -> Response:  # noqa: ANN002, ANN003
        response = super().file_response(*args, **kwargs)
        response.headers.update(self.headers)
        return response


def add_probes(app: FastAPI) -> None:
    """Liveness, readiness and metrics."""

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """Liveness: the process answers (never needs a key)."""
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz(request: Request) -> dict:
        """Readiness: the store is open and the embedder loaded, with what is indexed (and
        the local model's process: ready, starting or failed, and its restarts)."""
        pipeline = request.app.state.pipeline
        store = pipeline.index.open(create=True).store
        ready = {
            "status": "ready",
            "embedder": pipeline.embedder.name,
            "documents": store.count(),
            "chunks": store.chunk_count(),
        }
        if model := pipeline.model_state():
            ready["model"] = asdict(model)
        return ready

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics(request: Request) -> PlainTextResponse:
        """Prometheus text format: requests and latency per route, ingest counts."""
        return PlainTextResponse(
            generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
        )


def first_problem(errors: list) -> str:
    """The first validation error as `where: what`."""
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"] if p != "body") or "body"
    return f"{where}: {first['msg']}"


def add_error_handlers(app: FastAPI) -> None:
    """Map library errors, validation errors and HTTP errors to the error body."""

    @app.exception_handler(RagError)
    async def rag_error(request: Request, exc: RagError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(InvalidRequest(first_problem(exc.errors())))

    @app.exception_handler(ValidationError)
    async def invalid_body(request: Request, exc: ValidationError) -> JSONResponse:
        return error_response(InvalidRequest(first_problem(exc.errors())))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error_response(HttpError(str(exc.detail), status=exc.status_code))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error answering %s %s", request.method, request.url.path)
        return error_response(InternalError())
