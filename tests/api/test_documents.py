"""Managing documents over HTTP: upload, list, replace, delete, and the bad inputs."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Server

NEW = (
    "Reindeer summit in Lapland\n\nThe reindeer herders of Lapland met on Tuesday and "
    "agreed that the winter pasture quota rises to 4,200 animals per cooperative.\n"
)


@pytest.fixture(scope="module")
def docs_server(served_store: Path) -> Iterator[Server]:
    """A server of its own: these tests change what is indexed."""
    with Server(served_store, RAG_API__MAX_UPLOAD_BYTES="20000") as running:
        yield running


@pytest.fixture
def api(docs_server: Server) -> Iterator[httpx.Client]:
    with docs_server.client() as c:
        yield c


def ask(api: httpx.Client, question: str) -> dict:
    return api.post("/v1/ask", json={"question": question}).json()


def test_upload_then_ask_then_delete(api: httpx.Client) -> None:
    question = "What is the winter pasture quota for reindeer per cooperative?"
    assert not any(c["source"] == "lapland.txt" for c in ask(api, question)["citations"])
    uploaded = api.post(
        "/v1/documents", files=[("files", ("lapland.txt", NEW.encode(), "text/plain"))]
    )
    assert uploaded.status_code == 201
    assert uploaded.json() == [{"source": "lapland.txt", "status": "indexed", "chunks": 1}]
    answer = ask(api, question)
    assert "4,200" in answer["answer"] and answer["citations"][0]["source"] == "lapland.txt"
    listed = {d["source"]: d for d in api.get("/v1/documents").json()}
    assert listed["lapland.txt"]["title"] == "Reindeer summit in Lapland"
    assert listed["lapland.txt"]["chunks"] == 1 and len(listed) == 6
    assert (
        api.get("/v1/documents/lapland.txt").json()["content_hash"]
        == listed["lapland.txt"]["content_hash"]
    )
    deleted = api.delete("/v1/documents/lapland.txt")
    assert deleted.json() == {"source": "lapland.txt", "chunks_removed": 1}
    assert not any(c["source"] == "lapland.txt" for c in ask(api, question)["citations"])
    assert api.get("/v1/documents/lapland.txt").status_code == 404


def test_same_content_changes_nothing_and_new_content_replaces(api: httpx.Client) -> None:
    body = {
        "source": "note.md",
        "text": "# Ferry note\n\nThe ferry to Vladivostok leaves at noon daily.",
    }
    assert api.post("/v1/documents", json=body).status_code == 201
    again = api.post("/v1/documents", json=body)
    assert again.status_code == 200 and again.json()[0]["status"] == "unchanged"
    changed = body | {
        "text": "# Ferry note\n\nThe ferry to Vladivostok now leaves at dawn on Mondays."
    }
    assert api.post("/v1/documents", json=changed).json()[0]["status"] == "indexed"
    hits = api.post("/v1/search", json={"query": "ferry to Vladivostok", "top_k": 10}).json()
    ferry = [h["text"] for h in hits if h["source"] == "note.md"]
    assert len(ferry) == 1 and "dawn" in ferry[0]
    api.delete("/v1/documents/note.md")


@pytest.mark.parametrize(
    "request_kwargs, status, code",
    [
        ({"json": {"source": "../../etc/passwd", "text": "x"}}, 422, "bad_source"),
        ({"json": {"source": "sub/dir.txt", "text": "x"}}, 422, "bad_source"),
        ({"json": {"source": "report.pdf", "text": "x"}}, 422, "bad_source"),
        ({"json": {"source": "empty.txt", "text": "   "}}, 422, "bad_source"),
        ({"json": {"text": "no name"}}, 422, "invalid_request"),
        ({"files": [("files", ("blob.txt", b"\x00\x01\x02", "text/plain"))]}, 422, "bad_source"),
        ({"files": [("files", ("big.txt", b"a" * 30000, "text/plain"))]}, 413, "too_large"),
        (
            {"content": b"plain words", "headers": {"content-type": "text/plain"}},
            415,
            "unsupported_media_type",
        ),
    ],
)
def test_bad_uploads_get_a_4xx_json_error(
    api: httpx.Client, request_kwargs: dict, status: int, code: str
) -> None:
    response = api.post("/v1/documents", **request_kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_unknown_documents_are_404(api: httpx.Client) -> None:
    for response in (api.get("/v1/documents/nope.txt"), api.delete("/v1/documents/nope.txt")):
        assert (
            response.status_code == 404 and response.json()["error"]["code"] == "unknown_document"
        )


def chunked(body: bytes, piece: int = 4096) -> Iterator[bytes]:
    """A body sent without a content-length (Transfer-Encoding: chunked)."""
    for at in range(0, len(body), piece):
        yield body[at : at + piece]


@pytest.mark.parametrize(
    "path, content_type",
    [
        ("/v1/documents", "application/json"),
        ("/v1/ask", "application/json"),
        ("/v1/documents", "multipart/form-data; boundary=xyz"),
    ],
)
def test_bodies_are_counted_as_they_arrive_whatever_their_header_says(
    api: httpx.Client, path: str, content_type: str
) -> None:
    text = "The ferry leaves at noon. " * 2000  # 52,000 bytes against a limit of 20,000
    body = (
        f'{{"source": "big.txt", "question": "When?", "text": "{text}"}}'.encode()
        if content_type == "application/json"
        else b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n\r\n'
        + text.encode()
        + b"\r\n--xyz--\r\n"
    )
    response = api.post(path, content=chunked(body), headers={"content-type": content_type})
    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "too_large"
    assert "big.txt" not in {d["source"] for d in api.get("/v1/documents").json()}


def test_an_upload_with_one_bad_file_indexes_none_of_them(api: httpx.Client) -> None:
    before = api.get("/v1/documents").json()
    good = [("files", (f"good{n}.txt", NEW.encode(), "text/plain")) for n in (1, 2)]
    for bad in (
        ("files", ("blob.txt", b"\x00\x01\x02", "text/plain")),
        ("files", ("good1.txt", b"Another text with the same name.", "text/plain")),
    ):
        response = api.post("/v1/documents", files=[*good, bad])
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "bad_source"
        assert api.get("/v1/documents").json() == before


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "/etc/passwd.txt",
        "file:///etc/passwd.txt",
        "..\\..\\win.ini.txt",
        "..%2f..%2fetc%2fpasswd.txt",
        "a/../../b.txt",
        "~/.aws/credentials.txt",
    ],
)
def test_upload_names_that_reach_for_other_files_are_refused(api: httpx.Client, name: str) -> None:
    """The path traversals of private-gpt (CVE-2024-3403) and AnythingLLM (CVE-2024-3025)."""
    before = api.get("/v1/documents").json()
    for request in (
        {"json": {"source": name, "text": "Planted."}},
        {"files": [("files", (name, b"Planted.", "text/plain"))]},
    ):
        response = api.post("/v1/documents", **request)
        assert response.status_code == 422, (name, response.text)
        assert response.json()["error"]["code"] == "bad_source"
    assert api.get("/v1/documents").json() == before
