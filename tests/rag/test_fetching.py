"""Fetching URLs against a real HTTP server on 127.0.0.1: pages and redirects come back, and
URLs that would reach our own network, or answers too large, slow or of the wrong type, fail
with a one-line message."""

import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rag.errors import FetchFailed, UrlRefused
from rag.fetching import check_url, fetch
from rag.settings import IngestSettings

PAGE = b"<html><head><title>Rain</title></head><body><p>It rained all day.</p></body></html>"
HTML = {"text/html", "application/xhtml+xml"}
LOCAL = IngestSettings(allow_private="127.0.0.1", timeout_s=0.5, max_bytes=1000, max_redirects=3)
DEFAULT = IngestSettings()


class Server(ThreadingHTTPServer):
    """The test server: it counts connections and records each request it reads."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.connections = 0
        self.seen: list[dict[str, str | None]] = []
        self.stop = threading.Event()

    def verify_request(self, request, client_address) -> bool:
        self.connections += 1
        return True

    def handle_error(self, request, client_address) -> None:
        """Stay quiet when a client hangs up early (the size cap does), report the rest."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    @property
    def paths(self) -> list[str | None]:
        return [request["path"] for request in self.seen]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen.append(
            {
                "path": self.path,
                "host": self.headers["Host"],
                "agent": self.headers["User-Agent"],
                "encoding": self.headers["Accept-Encoding"],
            }
        )
        match self.path:
            case "/page":
                last_modified = {"Last-Modified": "Tue, 03 Jun 2025 10:00:00 GMT"}
                self.reply(200, PAGE, "text/html; charset=UTF-8", last_modified)
            case "/redirect":
                self.reply(302, b"", "text/plain", {"Location": "/page"})
            case "/to-private":
                self.reply(302, b"", "text/plain", {"Location": "http://10.0.0.1/"})
            case "/to-file":
                self.reply(301, b"", "text/plain", {"Location": "file:///etc/passwd"})
            case "/loop":
                self.reply(307, b"", "text/plain", {"Location": "/loop"})
            case "/big":
                self.reply(200, b"x" * 2000, "text/html")
            case "/stream":
                self.stream_without_length()
            case "/zip":
                self.reply(200, b"PK\x03\x04", "application/zip")
            case "/slow":
                self.server.stop.wait(5)  # past the client's timeout; set at teardown
                self.close_connection = True
            case _:
                self.reply(404, b"not here", "text/plain")

    def reply(self, status: int, body: bytes, media_type: str, headers=None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def stream_without_length(self) -> None:
        """Chunks of HTML, 10 MB of them unless the client hangs up first."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        try:
            for _ in range(10_000):
                self.wfile.write(b"3e8\r\n" + b"<p>" * 333 + b"p\r\n")
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass


@pytest.fixture
def server() -> Iterator[Server]:
    """A real HTTP server on 127.0.0.1, on a free port, shut down after the test."""
    httpd = Server()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.stop.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def resolve_as(monkeypatch: pytest.MonkeyPatch, names: dict[str, list[str]]) -> None:
    """Make the resolver answer these names with these IPv4 addresses (a stand-in for DNS)."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in names:
            return [
                (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))
                for address in names[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def refusal(url: str, settings: IngestSettings = DEFAULT) -> str:
    """The one-line message fetch refuses the URL with."""
    with pytest.raises(UrlRefused) as caught:
        fetch(url, settings, accept=HTML)
    message = str(caught.value)
    assert "\n" not in message
    return message


def failure(url: str, settings: IngestSettings = LOCAL) -> str:
    """The one-line message fetch fails with, for a reason other than a refused URL."""
    with pytest.raises(FetchFailed) as caught:
        fetch(url, settings, accept=HTML)
    assert not isinstance(caught.value, UrlRefused)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(url)
    return message


def test_fetches_a_page(server: Server) -> None:
    page = fetch(f"{server.base}/page", LOCAL, accept=HTML)
    assert page.body == PAGE
    assert (page.url, page.media_type, page.charset) == (
        f"{server.base}/page",
        "text/html",
        "utf-8",
    )
    assert page.last_modified == "Tue, 03 Jun 2025 10:00:00 GMT"
    assert server.seen[0]["agent"] == LOCAL.user_agent
    assert server.seen[0]["encoding"] == "identity"


def test_follows_a_redirect_to_the_final_url(server: Server) -> None:
    page = fetch(f"{server.base}/redirect", LOCAL, accept=HTML)
    assert (page.url, page.body) == (f"{server.base}/page", PAGE)
    assert server.paths == ["/redirect", "/page"]


def test_a_proxy_in_the_environment_is_not_used(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9")
    assert fetch(f"{server.base}/page", LOCAL, accept=HTML).body == PAGE


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("10.0.0.1", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("localhost", "a loopback address"),
        ("127.0.0.1", "a loopback address"),
        ("2130706433", "a loopback address"),  # 127.0.0.1 as one number
        ("[::ffff:127.0.0.1]", "a loopback address"),
        ("[::1]", "a loopback address"),
        ("[2002:7f00:1::]", "a loopback address"),  # 6to4 of 127.0.0.1
        ("[64:ff9b::7f00:1]", "a loopback address"),  # NAT64 of 127.0.0.1
        ("0.0.0.0", "an unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("[ff02::1]", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("[fe80::1]", "a link-local address"),
        ("[fc00::1]", "a private address"),
        ("100.64.0.1", "not a public address"),
    ],
)
def test_refuses_addresses_of_our_own_network_without_connecting(
    server: Server, host: str, kind: str
) -> None:
    url = f"http://{host}:{server.server_port}/latest/meta-data/"
    message = refusal(url)
    assert message.startswith(f"{url}: refused: ")
    assert kind in message and "RAG_INGEST__ALLOW_PRIVATE" in message
    assert server.connections == 0


def test_the_private_address_message_names_the_address_and_the_setting() -> None:
    assert refusal("http://10.0.0.1/") == (
        "http://10.0.0.1/: refused: 10.0.0.1 is a private address "
        "(set RAG_INGEST__ALLOW_PRIVATE to allow it)"
    )


def test_allowing_another_network_does_not_allow_loopback(server: Server) -> None:
    settings = IngestSettings(allow_private="10.0.0.0/8")
    assert "127.0.0.1 is a loopback address" in refusal(f"{server.base}/page", settings)
    assert server.connections == 0


def test_refuses_a_name_that_resolves_to_loopback(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolve_as(monkeypatch, {"news.example": ["127.0.0.1"]})
    url = f"http://news.example:{server.server_port}/page"
    assert "127.0.0.1 is a loopback address" in refusal(url)
    assert server.connections == 0
    # Allowed, the name is connected to by its address and still sent as the Host.
    assert fetch(url, LOCAL, accept=HTML).body == PAGE
    assert server.seen[0]["host"] == f"news.example:{server.server_port}"


@pytest.mark.parametrize(
    "addresses", [["93.184.216.34", "127.0.0.1"], ["127.0.0.1", "93.184.216.34"]]
)
def test_refuses_a_name_when_any_of_its_addresses_is_forbidden(
    server: Server, monkeypatch: pytest.MonkeyPatch, addresses: list[str]
) -> None:
    resolve_as(monkeypatch, {"two.example": addresses})
    message = refusal(f"http://two.example:{server.server_port}/page")
    assert "127.0.0.1 is a loopback address" in message
    assert server.connections == 0


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "not an http or https URL"),
        ("ftp://example.com/x", "not an http or https URL"),
        ("data:text/html,<p>hi</p>", "not an http or https URL"),
        ("example.com/news", "not an http or https URL"),
        ("http:///news", "the URL has no host"),
        ("http://example.com:99999/", "port 99999 is out of range"),
        ("http://[::1/", "not a valid URL"),
    ],
)
def test_refuses_urls_of_the_wrong_shape(url: str, reason: str) -> None:
    with pytest.raises(UrlRefused) as caught:
        check_url(url)
    assert str(caught.value).startswith(f"{url}: refused: {reason}")
    assert reason in refusal(url)


def test_refuses_credentials_in_the_url_without_repeating_them() -> None:
    message = refusal("http://reader:hunter22@example.com/news")
    assert message == "http://example.com/news: refused: the URL carries a user name or password"


def test_check_url_returns_a_good_url() -> None:
    assert check_url("https://example.com/news?id=1") == "https://example.com/news?id=1"


def test_refuses_a_redirect_to_a_private_address(server: Server) -> None:
    url = f"{server.base}/to-private"
    message = refusal(url, LOCAL)
    assert message.startswith(f"{url} (redirected to http://10.0.0.1/): refused: 10.0.0.1 is")
    assert server.paths == ["/to-private"]


def test_refuses_a_redirect_to_a_file(server: Server) -> None:
    message = refusal(f"{server.base}/to-file", LOCAL)
    assert "(redirected to file:/etc/passwd): refused: not an http or https URL" in message


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/loop", ": more than 3 redirects"),
        ("/big", ": the body is over the 1,000-byte limit (2,000 bytes)"),
        ("/stream", ": the body is over the 1,000-byte limit"),
        ("/zip", ": served as application/zip, not one of: application/xhtml+xml, text/html"),
        ("/missing", ": the server answered 404 Not Found"),
        ("/slow", ": no answer within 0.5 s"),
    ],
)
def test_fails_with_a_one_line_reason(server: Server, path: str, reason: str) -> None:
    assert failure(f"{server.base}{path}").endswith(reason)


def test_fails_when_nothing_listens() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    assert ": could not connect (" in failure(f"http://127.0.0.1:{port}/page")
