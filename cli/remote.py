"""The terminal's client of a running `rag serve`: the same questions the library answers,
asked over the server's HTTP API, so a second terminal works while the server holds the
store."""

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx
from httpx_sse import connect_sse

from rag.conversation import Turn
from rag.errors import RagError, SourceError
from rag.events import AnswerEvent, Cited, Failed, Finished, Token
from rag.filters import Filters
from rag.loading import discover, parse, read_bytes
from rag.models import Answer, Citation, IngestReport, SearchHit
from rag.web import is_url

if TYPE_CHECKING:
    from rag.ingest import FileDone

# Seconds to connect; to wait for the next piece of an answer (a local model may think), for
# a search or a listing, and for an upload to be indexed.
CONNECT_S, READ_S, CALL_S, UPLOAD_S = 5.0, 300.0, 60.0, 600.0
# What the server answers about a file's own content: that file is refused, the rest go on.
FILE_REFUSALS = {413, 415, 422}


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
            for sent in sse.iter_sse():
                if (event := typed(sent.event, sent.json())) is not None:
                    yield event

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
            response = check(self.http.post("/v1/search", json=drop_none(body), timeout=CALL_S))
            return [SearchHit.model_validate(hit) for hit in response.json()]

    def documents(self) -> list[dict]:
        """GET /v1/documents."""
        with self.calling():
            return check(self.http.get("/v1/documents", timeout=CALL_S)).json()

    def document_text(self, source: str) -> tuple[dict, str]:
        """GET /v1/documents/{source}/text: the record, and the text citations index into."""
        with self.calling():
            response = self.http.get(f"/v1/documents/{quote(source, safe='')}/text", timeout=CALL_S)
            record = check(response).json()
            return record, record.pop("text")

    def ingest(
        self,
        paths: Iterable[Path],
        progress: "FileDone | None" = None,
        rebuild: bool = False,
        stop: threading.Event | None = None,
    ) -> IngestReport:
        """Each file under the paths read and checked here as a local ingest reads it, then
        its bytes uploaded to POST /v1/documents, one file at a time. A file refused (here
        or by the server, for its content) is skipped when found in a folder, an error when
        named itself; any other refusal (the key, the server's limits) stops the run. Once
        `stop` is set, the upload at hand is the last (the files left are counted)."""
        if rebuild:
            raise RagError(
                f"--rebuild drops the store, which the server at {self.url} holds: "
                "stop the server first"
            )
        report, folders = IngestReport(through=self.url), {}
        for path in map(Path, paths):
            found, passed_over = discover(path)  # every path checked before any upload
            folders |= dict.fromkeys(found, None if path.is_file() else path)
            report.skipped |= passed_over
        seen: dict[str, Path] = {}
        for done, file in enumerate(folders, 1):
            if stop and stop.is_set():
                report.left = len(folders) - done + 1
                return report
            outcome = self.upload(file, folders[file], report, seen)
            if progress:
                progress(done, len(folders), file, outcome)
        if not report.indexed and not report.unchanged:
            reasons = "; ".join(f"{Path(p).name}: {r}" for p, r in report.skipped.items())
            raise SourceError(
                f"nothing could be indexed ({reasons})", path=str(next(iter(folders)))
            )
        return report

    def upload(
        self, file: Path, folder: Path | None, report: IngestReport, seen: dict[str, Path]
    ) -> str:
        """Send one file; its outcome recorded in the report; returns a word for progress."""
        try:
            try:
                raw = read_bytes(file, folder)
            except OSError as exc:
                raise SourceError(f"{file}: {exc.strerror or exc}", path=str(file)) from None
            source = parse(file.name, raw, label=str(file)).source
            if source in seen:
                raise SourceError(f"{file}: same file name as {seen[source]}", path=str(file))
            seen[source] = file
            with self.calling(UPLOAD_S):
                response = self.http.post(
                    "/v1/documents", files={"files": (source, raw)}, timeout=UPLOAD_S
                )
                if response.status_code in FILE_REFUSALS:
                    raise SourceError(f"{file}: {error_of(response)}", path=str(file))
                result = check(response).json()[0]
        except SourceError as exc:  # every one names the file first
            if folder is None:
                raise
            report.skipped[str(file)] = str(exc).removeprefix(f"{file}: ")
            return "skipped"
        counted(result, report)
        return result["status"]

    def ingest_pages(self, urls: list[str], progress: "FileDone | None" = None) -> IngestReport:
        """POST /v1/documents {url} for each URL: the server fetches and indexes it; the
        first refusal stops the run, as it does locally."""
        report = IngestReport(through=self.url)
        for done, url in enumerate(urls, 1):
            results = self.fetching({"url": url})
            fold(results, report)
            if progress:
                progress(done, len(urls), url, results[0]["status"] if results else "")
        return report

    def ingest_feed(self, feed: str, progress: "FileDone | None" = None) -> IngestReport:
        """POST /v1/documents {feed}: the server reads the feed and indexes its new entries.
        A feed file would have to be read by the server, so only a URL is sent."""
        if not is_url(feed):
            raise RagError(
                f"{feed}: the server at {self.url} holds the store and reads feeds by URL; "
                "give the feed's URL, or stop the server to read a feed file"
            )
        results = self.fetching({"feed": feed})
        report = fold(results, IngestReport(through=self.url))
        if progress:
            for done, result in enumerate(results, 1):
                progress(
                    done, len(results), result.get("url") or result["source"], result["status"]
                )
        return report

    def delete_document(self, source: str) -> int:
        """DELETE /v1/documents/{source}; how many chunks went."""
        with self.calling():
            response = check(self.http.delete(f"/v1/documents/{source}", timeout=CALL_S))
            return int(response.json()["chunks_removed"])

    def fetching(self, body: dict) -> list[dict]:
        """POST /v1/documents with a URL for the server to fetch; its results."""
        with self.calling(UPLOAD_S):
            response = self.http.post("/v1/documents", json=body, timeout=UPLOAD_S)
            if response.status_code in FILE_REFUSALS:
                raise SourceError(str(error_of(response)), path=next(iter(body.values())))
            return check(response).json()

    def calling(self, seconds: float = READ_S) -> AbstractContextManager[None]:
        """A block whose failures to reach or read the server are one line naming it."""
        return reaching(self.url, seconds)


def fold(results: list[dict], report: IngestReport) -> IngestReport:
    """The server's per-page results added to a report."""
    for result in results:
        if result["status"] == "skipped":
            report.skipped[result["source"]] = result.get("reason") or ""
            continue
        counted(result, report)
    return report


def counted(result: dict, report: IngestReport) -> None:
    """One server result (indexed or unchanged) added to a report: the chunks of a document
    the server indexed count as embedded."""
    indexed = result["status"] == "indexed"
    report.record(result["source"], result["status"], result["chunks"] if indexed else 0)


@contextmanager
def reaching(url: str, seconds: float) -> Iterator[None]:
    """httpx's transport errors, and a reply this client cannot read, as one line."""
    try:
        yield
    except httpx.TimeoutException:
        raise ServerError(
            f"the server at {url}, which holds the store, did not answer within {seconds:.0f} s",
            code="server_timeout",
            status=504,
        ) from None
    except httpx.TransportError as exc:
        raise ServerError(
            f"the server at {url}, which holds the store, did not answer "
            f"({type(exc).__name__}): is it still starting, or stopping?",
            code="server_unreachable",
            status=503,
        ) from None
    except (ValueError, KeyError, TypeError, IndexError) as exc:  # JSON, schema: another version
        raise ServerError(
            f"the server at {url} sent a reply this client cannot read "
            f"({type(exc).__name__}): are both the same version of rag-news?",
            code="server_reply",
        ) from None


def check(response: httpx.Response) -> httpx.Response:
    """The response if it is a success; otherwise the server's error, raised."""
    if response.is_success:
        return response
    raise error_of(response)


def error_of(response: httpx.Response) -> "ServerError":
    """The error a failed response carries, as the server put it."""
    response.read()
    try:
        error = response.json()["error"]
        return ServerError(error["message"], code=error["code"], status=response.status_code)
    except (ValueError, KeyError, TypeError):
        return ServerError(
            f"the server answered {response.status_code}", status=response.status_code
        )


def typed(kind: str, data: dict) -> AnswerEvent | None:
    """One SSE event of /v1/ask as the library's event (None for a kind this client does
    not know: a newer server may send more)."""
    match kind:
        case "token":
            return Token(data["text"])
        case "citations":
            return Cited([Citation.model_validate(c) for c in data["citations"]])
        case "done":
            return Finished(Answer.model_validate(data))
        case "error":
            error = data["error"]
            return Failed(ServerError(error["message"], code=error["code"]))
    return None


def drop_none(body: dict) -> dict:
    """The body without the fields left unset (the server's defaults apply)."""
    return {k: v for k, v in body.items() if v is not None}
