"""ASGI middleware for optional API keys and Prometheus metrics (pure ASGI, so streaming
responses and disconnects pass through untouched)."""

import hmac
import json
import os
import time

from prometheus_client import CollectorRegistry, Counter, Histogram

OPEN_PATHS = {"/healthz"}
WORKER = (b"x-rag-worker", str(os.getpid()).encode())


class Metrics:
    """This app's own registry, so two apps in one process never share counts."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("rag_http_requests", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("rag_http_request_seconds", "Time to the end of the response",
                                 ["route"], registry=self.registry,
                                 buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.ingested = Counter("rag_documents_ingested", "Documents uploaded, by outcome",
                                ["outcome"], registry=self.registry)
        self.tokens = Counter("rag_stream_tokens", "Answer tokens sent on streams",
                              registry=self.registry)


class Guard:
    """Checks `Authorization: Bearer <key>` when keys are set, times every request, and
    names the worker process that answered (`x-rag-worker`, its pid), so a client of
    several workers can tell them apart."""

    def __init__(self, app, metrics: Metrics, keys: list[str]) -> None:  # noqa: ANN001
        self.app = app
        self.metrics = metrics
        self.keys = [k.encode() for k in keys]

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
            if self.keys and scope["path"] not in OPEN_PATHS and not self.authorized(scope):
                await unauthorized(send_status)
            else:
                await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(scope["method"], route, str(status[0])).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - began)

    def authorized(self, scope: dict) -> bool:
        """Whether the request carries one of the keys."""
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, key = header.partition(b" ")
        return scheme.lower() == b"bearer" and any(hmac.compare_digest(key.strip(), k)
                                                   for k in self.keys)


async def unauthorized(send) -> None:  # noqa: ANN001
    """A 401 in the API's error shape."""
    body = json.dumps({"error": {"code": "unauthorized",
                                 "message": "missing or wrong API key: send Authorization: Bearer <key>"}}).encode()
    await send({"type": "http.response.start", "status": 401,
                "headers": [(b"content-type", b"application/json"),
                            (b"www-authenticate", b"Bearer")]})
    await send({"type": "http.response.body", "body": body})
