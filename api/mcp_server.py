"""The Model Context Protocol adapter: the articles as tools an agent calls (search them,
ask them, list and read the documents), over stdio (`rag mcp`) or streamable HTTP at /mcp
in `rag serve`, behind the same keys as the rest of the API. Each tool calls one method of
the service and returns typed, structured content; our errors reach the agent as tool
errors with our message, never a traceback."""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import HttpError, send_error
from api.schemas import DocumentInfo, DocumentText
from rag.errors import RagError
from rag.events import collect
from rag.filters import Filters
from rag.models import Citation, SearchHit

if TYPE_CHECKING:
    from cli.service import Service

PATH = "/mcp"
INSTRUCTIONS = """\
These tools answer from a collection of news articles, and only from them.
- `ask` answers a question in sentences that each end with a [n] marker; citation n gives
  the source, title and the exact quote that supports it, and where the quote lies in the
  document (start and end index `read_document`'s text).
- `search` returns the passages that best match a query, best first, without an answer.
- `list_documents` names what is indexed; `read_document` returns one document's text.
When you use what these tools return, cite it: name the source (and title) of every claim
and quote the passage, as the citations give them. State nothing the citations do not
support. When `ask` comes back refused, the articles do not say: tell the user so, and do
not answer from your own knowledge as if the articles had."""
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


class Passages(BaseModel):
    """The passages that best match a query, best first."""

    hits: list[SearchHit]


class CitedAnswer(BaseModel):
    """An answer whose every sentence ends with a [n] marker into `citations`; refused when
    the articles do not say."""

    question: str = Field(description="The question answered (made standalone).")
    answer: str
    refused: bool
    citations: list[Citation]


class Documents(BaseModel):
    """Every indexed document."""

    documents: list[DocumentInfo]


TopK = Annotated[int | None, Field(ge=1, le=50, description="How many passages to read.")]
Source = Annotated[str, Field(min_length=1, max_length=255, description="A source name.")]


@contextmanager
def as_tool_errors() -> Iterator[None]:
    """Our errors, as the tool error an agent reads: the code and the one-line message."""
    try:
        yield
    except RagError as exc:
        raise ToolError(f"{exc.code}: {exc}") from None


def mcp_server(service: "Callable[[], Service]") -> MCPServer:
    """The MCP server over the service the callable gives (the library, or the server that
    holds the store)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    server = MCPServer(name="rag-news", instructions=INSTRUCTIONS, version="0.1.0")
    # The SDK's constructor calls logging.basicConfig (a Rich handler at INFO on the root
    # logger): the process's logging stays the application's, as uvicorn and rag set it.
    root.handlers[:], root.level = handlers, level

    @server.tool(annotations=READ_ONLY)
    def search(query: str, top_k: TopK = None, filters: Filters | None = None) -> Passages:
        """The passages of the articles that best match the query, best first, each with
        its source, title, text and where it lies in the document (start, end)."""
        with as_tool_errors():
            return Passages(hits=service().search(query, top_k=top_k, filters=filters))

    @server.tool(annotations=READ_ONLY)
    def ask(question: str, top_k: TopK = None, filters: Filters | None = None) -> CitedAnswer:
        """Answer a question from the articles: each sentence ends with a [n] marker, and
        citation n holds the quote that supports it, its source, title and offsets.
        `refused` is true when the articles do not say."""
        with as_tool_errors():
            answer = collect(service().answer(question, top_k=top_k, filters=filters))
        return CitedAnswer(
            question=answer.question,
            answer=answer.answer,
            refused=answer.refused,
            citations=answer.citations,
        )

    @server.tool(annotations=READ_ONLY)
    def list_documents() -> Documents:
        """Every indexed document: source, title, author, date, chunks."""
        with as_tool_errors():
            return Documents(documents=[DocumentInfo(**r) for r in service().documents()])

    @server.tool(annotations=READ_ONLY)
    def read_document(source: Source) -> DocumentText:
        """One indexed document's record and text: the text citations' start and end
        index into."""
        with as_tool_errors():
            record, text = service().document_text(source)
        return DocumentText(**record, text=text)

    return server


class JsonErrors:
    """The MCP endpoint's refusals in our error body: the SDK answers a wrong Host, Origin
    or Content-Type with plain text or nothing; JSON-RPC replies (JSON already) and
    successes pass through as they are."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refused, said = [], bytearray()  # the status and body of a response being replaced

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] >= 400:
                if b"json" not in dict(message.get("headers", [])).get(b"content-type", b""):
                    refused.append(message["status"])
                    return
            if not refused:
                await send(message)
                return
            said.extend(message.get("body", b""))
            if not message.get("more_body"):
                reason = said.decode(errors="replace").strip() or HTTPStatus(refused[0]).phrase
                await send_error(send, HttpError(f"MCP: {reason}", status=refused[0]))

        await self.app(scope, receive, sending)


def http_route(server: MCPServer, host: str) -> Route:
    """The streamable HTTP endpoint at PATH, stateless (each request stands alone, so any of
    `rag serve --workers N`'s processes can answer it) and checked against DNS rebinding
    when the server listens on this machine only. Its session manager must be running
    (`server.session_manager.run()`, in the app's lifespan)."""
    local = host in ("127.0.0.1", "localhost", "::1")
    app = server.streamable_http_app(
        streamable_http_path=PATH,
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(
            enable_dns_rebinding_protection=local,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        ),
    )
    endpoint = next(r for r in app.routes if isinstance(r, Route) and r.path == PATH).endpoint
    return Route(PATH, endpoint=JsonErrors(endpoint))
