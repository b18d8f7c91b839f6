"""The terminal's client of a running `rag serve`: the same questions the library answers,
asked over the server's HTTP API, so a second terminal works while the server holds the
store."""

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
from httpx_sse import connect_sse

from rag.conversation import Turn
from rag.errors import RagError, SourceError
from rag.events import AnswerEvent, Cited, Failed, Finished, Token
from rag.filters import Filters
from rag.ingest import FileDone
from rag.loading import discover
from rag.models import Answer, Citation, IngestReport, SearchHit

# Seconds to connect, and to wait for the next piece of an answer (a local model may think).
CONNECT_S, READ_S = 5.0, 300.0


class ServerError(RagError):
    """The server answered with an error; its code and message, as the server put them."""

    def __init__(self, message: str, *, code: str = "server_error", status: int = 502) -> None:
        super().__init__(message)
        self.code, self.status = code, status


class Remote:
    """A Service over HTTP: /v1/ask (streamed), /v1/search and /v1/documents."""

    def __init__(self, url: str, keys: list[str]) -> None:
        headers = {"authorization": f"Bearer {keys[0]}"} if keys else {}
        self.url = url
        self.http = httpx.Client(
            base_url=url, headers=headers, timeout=httpx.Timeout(READ_S, connect=CONNECT_S)
        )

    def answer(
        self,
        question: str,
        *,
        history: Sequence[Turn] = (),
        top_k: int | None = None,
        filters: Filters | None = None,
        provider: str | None = None,
    ) -> Iterator[AnswerEvent]:
        """POST /v1/ask as a stream; its SSE events as the library's typed events."""
        body = {
            "question": question,
            "top_k": top_k,
            "provider": provider,
            "stream": True,
            "history": [{"role": t.role, "content": t.content} for t in history],
            "filters": filters.model_dump(mode="json", exclude_none=True) if filters else None,
        }
        with self.calling(), connect_sse(self.http, "POST", "/v1/ask", json=drop_none(body)) as sse:
            check(sse.response)
            for event in sse.iter_sse():
                yield typed(event.event, event.json())

    def search(
        self,
        query: str,
        *,
        top_k: int | None = None,
        filters: Filters | None = None,
        rerank: bool | None = None,
    ) -> list[SearchHit]:
        """POST /v1/search."""
        body = {
            "query": query,
            "top_k": top_k,
            "rerank": rerank,
            "filters": filters.model_dump(mode="json", exclude_none=True) if filters else None,
        }
        with self.calling():
            response = check(self.http.post("/v1/search", json=drop_none(body)))
        return [SearchHit.model_validate(hit) for hit in response.json()]

    def documents(self) -> list[dict]:
        """GET /v1/documents."""
        with self.calling():
            return check(self.http.get("/v1/documents")).json()

    def ingest(
        self, paths: Iterable[Path], progress: FileDone | None = None, rebuild: bool = False
    ) -> IngestReport:
        """Each file under the paths uploaded to POST /v1/documents, one at a time: a file
        the server refuses is skipped when found in a folder, an error when named itself."""
        if rebuild:
            raise RagError(
                f"--rebuild drops the store, which the server at {self.url} holds: "
                "stop the server first"
            )
        report, files = IngestReport(), []
        for path in map(Path, paths):
            found, passed_over = discover(path)  # every path checked before any upload
            files += [(file, path.is_file()) for file in found]
            report.skipped |= passed_over
        for done, (file, named) in enumerate(files, 1):
            outcome = self.upload(file, named, report)
            if progress:
                progress(done, len(files), file, outcome)
        return report

    def upload(self, file: Path, named: bool, report: IngestReport) -> str:
        """Send one file; its outcome recorded in the report."""
        try:
            with self.calling():
                response = check(
                    self.http.post("/v1/documents", files={"files": (file.name, file.read_bytes())})
                )
        except (ServerError, OSError) as exc:
            if named:
                raise SourceError(f"{file}: {exc}", path=str(file)) from None
            report.skipped[str(file)] = str(exc)
            return "skipped"
        result = response.json()[0]
        if result["status"] == "indexed":
            report.indexed.append(str(file))
            report.chunks_embedded += result["chunks"]
        else:
            report.unchanged.append(str(file))
        return result["status"]

    def calling(self) -> AbstractContextManager[None]:
        """A block whose transport failures say which server did not answer."""
        return reaching(self.url)


@contextmanager
def reaching(url: str) -> Iterator[None]:
    """httpx's transport errors as one line naming the server."""
    try:
        yield
    except httpx.TransportError as exc:
        raise ServerError(
            f"the server at {url}, which holds the store, did not answer "
            f"({type(exc).__name__}): is it still starting, or stopping?",
            code="server_unreachable",
            status=503,
        ) from None


def check(response: httpx.Response) -> httpx.Response:
    """The response if it is a success; otherwise the server's error, raised."""
    if response.is_success:
        return response
    response.read()
    try:
        error = response.json()["error"]
        raise ServerError(error["message"], code=error["code"], status=response.status_code)
    except (ValueError, KeyError, TypeError):
        raise ServerError(
            f"the server answered {response.status_code}", status=response.status_code
        ) from None


def typed(kind: str, data: dict) -> AnswerEvent:
    """One SSE event of /v1/ask as the library's event."""
    match kind:
        case "token":
            return Token(data["text"])
        case "citations":
            return Cited([Citation.model_validate(c) for c in data["citations"]])
        case "done":
            return Finished(Answer.model_validate(data))
    error = data.get("error", {})
    return Failed(
        ServerError(
            error.get("message", f"unexpected event {kind!r}"),
            code=error.get("code", "server_error"),
        )
    )


def drop_none(body: dict) -> dict:
    """The body without the fields left unset (the server's defaults apply)."""
    return {k: v for k, v in body.items() if v is not None}
