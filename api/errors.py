"""The API's one error body, {"error": {"code", "message"}}, built here for exception
handlers, the ASGI guard and streams alike; the status comes from the error's class."""

import json

from fastapi.responses import JSONResponse

from rag.errors import RagError


class Unauthorized(RagError):
    """No API key, or a wrong one."""

    code = "unauthorized"
    status = 401


class UploadTooLarge(RagError):
    """A request body is over RAG_API__MAX_UPLOAD_BYTES (counted as it arrives)."""

    code = "too_large"
    status = 413


class UnsupportedUpload(RagError):
    """The upload is neither multipart nor JSON."""

    code = "unsupported_media_type"
    status = 415


class InvalidRequest(RagError):
    """The request's body or parameters do not fit the schema."""

    code = "invalid_request"
    status = 422


class HttpError(RagError):
    """An error Starlette raises itself (an unknown route, a wrong method)."""

    code = "http_error"

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class InternalError(RagError):
    """Anything unexpected: the details go to the server's log, never to the client."""

    code = "internal_error"
    status = 500

    def __init__(self) -> None:
        super().__init__("the server failed to answer; see its log")


def error_body(exc: RagError) -> dict:
    """The body every error answers with, in a response or as a stream's last event."""
    return {"error": {"code": exc.code, "message": str(exc)}}


def error_headers(exc: RagError) -> dict[str, str]:
    """Retry-After for errors that pass, WWW-Authenticate for a missing key."""
    headers = {}
    if exc.retry_after is not None:
        headers["retry-after"] = str(exc.retry_after)
    if isinstance(exc, Unauthorized):
        headers["www-authenticate"] = "Bearer"
    return headers


def error_response(exc: RagError) -> JSONResponse:
    """The error as a JSON response with its class's status."""
    return JSONResponse(error_body(exc), status_code=exc.status, headers=error_headers(exc))


async def send_error(send, exc: RagError) -> None:  # noqa: ANN001 - ASGI's send
    """The same response from pure ASGI middleware (before the app is reached)."""
    headers = [(b"content-type", b"application/json")]
    headers += [(k.encode(), v.encode()) for k, v in error_headers(exc).items()]
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps(error_body(exc)).encode()})
