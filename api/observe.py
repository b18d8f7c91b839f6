"""ASGI middleware for optional API keys, request shares, body limits and Prometheus
metrics (pure ASGI, so streaming responses and disconnects pass through untouched)."""

import hmac
import math
import os
import time
from collections import OrderedDict

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Receive

from api.errors import Unauthorized, UploadTooLarge, send_error
from rag.errors import RagError, TooManyRequests

OPEN_PATHS = {"/healthz", "/"}  # the page and its files hold no data: the key goes in the page
PAGE_FILES = "/web/"
WORKER = (b"x-rag-worker", str(os.getpid()).encode())


class Metrics:
    """This app's own registry, so two apps in one process never share counts."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "rag_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rag_http_request_seconds",
            "Time to the end of the response",
            ["route"],
            registry=self.registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.ingested = Counter(
            "rag_documents_ingested",
            "Documents uploaded, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.tokens = Counter(
            "rag_stream_tokens", "Answer tokens sent on streams", registry=self.registry
        )


class Admission:
    """Every request passes here first: the API key when keys are set (compared in constant
    time, never logged), the caller's share of requests, and the body's size counted as it
    arrives (JSON, multipart or chunked alike). It also times every request and names the
    worker process that answered (`x-rag-worker`, its pid)."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        keys: list[str],
        max_body: int,
        rate_per_minute: int,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.keys = [k.encode() for k in keys]
        self.max_body = max_body
        self.buckets = RateBuckets(rate_per_minute) if rate_per_minute else None

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began, status = time.perf_counter(), [500]

        async def send_status(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message = message | {"headers": [*message.get("headers", []), WORKER]}
            await send(message)

        try:
            refusal = self.refusal(scope)
            if refusal is None:
                body, refusal = await read_body(receive, self.max_body, content_length(scope))
            if refusal is not None:
                await send_error(send_status, refusal)
            else:
                await self.app(scope, replay(body, receive), send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(scope["method"], route, str(status[0])).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - began)

    def refusal(self, scope: dict) -> RagError | None:
        """Why the request is refused before its body is read, if it is."""
        if scope["path"] in OPEN_PATHS or scope["path"].startswith(PAGE_FILES):
            return None
        key = bearer_key(scope)
        if self.keys and not any(hmac.compare_digest(key, k) for k in self.keys):
            return Unauthorized("missing or wrong API key: send Authorization: Bearer <key>")
        if self.buckets and (scope["path"].startswith("/v1/") or scope["path"] == "/mcp"):
            wait = self.buckets.take(key if self.keys else client_address(scope))
            if wait:
                return TooManyRequests(
                    f"more than {self.buckets.per_minute} requests a minute: try again in {wait} s",
                    retry_after=wait,
                )
        return None


class RateBuckets:
    """A token bucket per caller: per_minute requests a minute, up to a minute's worth at
    once. Callers not seen for a while are forgotten (at most MAX_CALLERS are kept)."""

    MAX_CALLERS = 10_000

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: OrderedDict[bytes, tuple[float, float]] = OrderedDict()

    def take(self, caller: bytes) -> int:
        """Take one request from the caller's share: 0, or the seconds until one is free."""
        now = time.monotonic()
        tokens, then = self._buckets.pop(caller, (float(self.per_minute), now))
        tokens = min(self.per_minute, tokens + (now - then) * self.per_minute / 60)
        wait = 0 if tokens >= 1 else math.ceil((1 - tokens) * 60 / self.per_minute)
        self._buckets[caller] = (tokens - 1 if not wait else tokens, now)
        if len(self._buckets) > self.MAX_CALLERS:
            self._buckets.popitem(last=False)
        return wait


def bearer_key(scope: dict) -> bytes:
    """The key of an `Authorization: Bearer <key>` header (empty when there is none)."""
    header = dict(scope["headers"]).get(b"authorization", b"")
    scheme, _, key = header.partition(b" ")
    return key.strip() if scheme.lower() == b"bearer" else b""


def client_address(scope: dict) -> bytes:
    """The caller's address, for shares when no keys are set."""
    return str((scope.get("client") or ("unknown",))[0]).encode()


def content_length(scope: dict) -> int | None:
    """The declared body size, if declared (a chunked body declares none)."""
    value = dict(scope["headers"]).get(b"content-length")
    return int(value) if value and value.isdigit() else None


async def read_body(
    receive: Receive,
    limit: int,
    declared: int | None,
) -> tuple[bytes, RagError | None]:
    """The whole request body, or the error to answer with once more than limit bytes
    are declared or have arrived."""
    too_large = UploadTooLarge(
        f"request body larger than the limit of {limit} bytes (RAG_API__MAX_UPLOAD_BYTES)"
    )
    if declared is not None and declared > limit:
        return b"", too_large
    parts, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        parts.append(message.get("body", b""))
        size += len(parts[-1])
        if size > limit:
            return b"", too_large
        more = message.get("more_body", False)
    return b"".join(parts), None


def replay(body: bytes, receive):  # noqa: ANN001, ANN201 - ASGI's receive
    """A receive that gives the body already read, then whatever the client sends next
    (a disconnect, which streams watch for)."""
    sent = False

    async def again() -> dict:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again
