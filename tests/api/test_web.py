"""Pages, feeds and a watched folder, as users bring them in: a real web site on a loopback
address (pages from scrapinghub's article-extraction benchmark), `rag ingest` and `rag
serve` started as a user starts them, and every fetch the service must refuse."""

import gzip
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rag.extraction import visible_tree
from rag.pipeline import build_pipeline
from rag.settings import load_settings
from tests.api.conftest import RAG, Server
from tests.conftest import ROOT, SEEDS
from tests.rag.test_pdf import article_pdf, encrypted_pdf, image_pdf

BENCHMARK = ROOT / "evals" / "article-extraction"
PAGES = {  # three of the benchmark's pages, each with a menu in a <nav>
    "hostages": "a1fca19b884e0e946ad3fbe2a7f5031e5e3b23372702a76db302b6143c77cb31",
    "plague": "ea25dd7edff4d27973600f35728f20aed5a3eedcc23257d9c3afc3d3e840c3de",
    "power": "d0382c0d9573a0a7beb1e649012d04ec7275ac23513ca6ca59e51477b028283c",
}
HOST = "127.0.0.2"  # the site's address: allowed in these tests; 127.0.0.1 is not
LIMITS = {
    "RAG_INGEST__ALLOW_PRIVATE": HOST,
    "RAG_INGEST__TIMEOUT_S": "1",
    "RAG_INGEST__MAX_BYTES": "2000000",
}
FULL_CONTENT = (
    "<p>The harbour authority of Port Elspeth opened a second tidal lock on Monday, "
    "doubling the number of cargo ships that can enter at low water.</p>" * 5
)


def page(name: str) -> bytes:
    return gzip.decompress((BENCHMARK / "html" / f"{PAGES[name]}.html.gz").read_bytes())


def truth(name: str) -> str:
    return json.loads((BENCHMARK / "ground-truth.json").read_text())[PAGES[name]]["articleBody"]


def rss(items: list[tuple[str, str, str | None]]) -> bytes:
    """An RSS 2.0 feed of (title, link, full content or None) items."""
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link>"
        "<pubDate>Wed, 20 Nov 2019 08:00:00 GMT</pubDate>"
        + (f"<content:encoded><![CDATA[{content}]]></content:encoded>" if content else "")
        + "</item>"
        for title, link, content in items
    )
    return (
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>Test wire</title><link>http://{HOST}/</link>{body}</channel></rss>"
    ).encode()


class Site:
    """A news site on HOST: article pages, feeds, and pages that misbehave."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer((HOST, 0), self.handler())
        self.server.daemon_threads = True
        self.url = f"http://{HOST}:{self.server.server_port}"
        self.requests: list[str] = []
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def routes(self) -> dict[str, tuple[int, str, bytes | str]]:
        """Path -> (status, content type, body; for a 3xx, the Location)."""
        u = self.url
        return {
            **{f"/news/{n}.html": (200, "text/html; charset=utf-8", page(n)) for n in PAGES},
            "/feed.xml": (
                200,
                "application/rss+xml",
                rss(
                    [(n, f"{u}/news/{n}.html", None) for n in PAGES]
                    + [("Second lock at Port Elspeth", f"{u}/gone.html", FULL_CONTENT)]
                ),
            ),
            "/mixed.xml": (
                200,
                "application/rss+xml",
                rss(
                    [
                        ("huge", f"{u}/huge.html", None),
                        ("zip", f"{u}/file.zip", None),
                        ("slow", f"{u}/slow.html", None),
                        ("private", f"{u}/to-private", None),
                        ("plague", f"{u}/news/plague.html", None),
                        ("plague again", f"{u}/news/plague.html?from=rss", None),
                    ]
                ),
            ),
            "/broken.xml": (200, "application/rss+xml", b"<rss><channel><item>no end"),
            "/huge.html": (200, "text/html", b"<html><body>" + b"<p>word</p>" * 300_000),
            "/file.zip": (200, "application/zip", b"PK\x03\x04" + b"\x00" * 100),
            "/storm.pdf": (200, "application/pdf", article_pdf()),
            "/scan.pdf": (200, "application/pdf", image_pdf()),
            "/to-private": (302, "", "http://10.0.0.1/admin"),
            "/to-loopback": (
                302,
                "",
                f"http://127.0.0.1:{self.server.server_port}/news/plague.html",
            ),
            "/to-file": (302, "", "file:///etc/passwd"),
        }

    def handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.requests.append(self.path)
                if self.path == "/slow.html":
                    time.sleep(3)  # past RAG_INGEST__TIMEOUT_S
                    return
                path = self.path.split("?")[0]
                status, kind, body = site.routes().get(path, (404, "text/plain", b"gone"))
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("location", body)
                    self.end_headers()
                    return
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    running = Site()
    yield running
    running.close()


def rag(*args: str, store: Path, **env: str) -> subprocess.CompletedProcess:
    environment = os.environ | {"RAG_STORE__PATH": str(store)} | LIMITS | env
    return subprocess.run(
        [RAG, *args], capture_output=True, text=True, env=environment, timeout=300
    )


def error_line(result: subprocess.CompletedProcess) -> str:
    """The one line a failed command printed (asserting it is one line and it failed)."""
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def flat(text: str) -> str:
    """Text on one line, without soft hyphens (the benchmark's bodies keep some)."""
    return " ".join(text.replace("\u00ad", "").split())


def menus(html: bytes) -> list[str]:
    """The page's navigation text: each <nav>'s words, where it has four or more."""
    tree = visible_tree(html.decode("utf-8"))
    found = (flat(nav.text_content()) for nav in tree.iter("nav"))
    return [text for text in found if len(text.split()) >= 4]


def test_a_feed_is_indexed_from_its_articles_and_answered_with_citations(
    site: Site, tmp_path: Path, embedder: object
) -> None:
    store = tmp_path / "store"
    first = rag("ingest", "--feed", f"{site.url}/feed.xml", store=store)
    assert first.returncode == 0, first.stderr
    assert "indexed 4, unchanged 0, skipped 0" in first.stdout

    settings = load_settings(store={"path": store})
    pipeline = build_pipeline(settings, embedder=embedder)
    records = {r["url"]: r for r in pipeline.documents()}
    for name in PAGES:
        record = records[f"{site.url}/news/{name}.html"]
        text = pipeline.source_text(record["source"])
        assert flat(text)[:200] == flat(truth(name))[:200]  # the article, not the page's top
        for menu in menus(page(name)):
            assert menu not in flat(text), f"{name}'s navigation was indexed: {menu[:60]}"
        assert record["date"] == "2019-11-20" or record["date"].startswith("2019-11")
    carried = records[f"{site.url}/gone.html"]  # its page is gone: the feed's content is used
    assert carried["title"] == "Second lock at Port Elspeth"
    assert carried["date"] == "2019-11-20"  # from the feed: the content states no date
    assert "second tidal lock" in pipeline.source_text(carried["source"])
    pipeline.index.close()

    asked = rag(
        "ask",
        "Which university were Kevin King and Timothy Weeks professors at?",
        "--json",
        store=store,
    )
    answer = json.loads(asked.stdout)
    assert not answer["refused"] and answer["citations"], asked.stderr
    quote = answer["citations"][0]["quote"]
    assert "American University of Kabul" in answer["answer"]
    assert flat(quote) in flat(truth("hostages"))
    cited = answer["citations"][0]
    source_text = build_pipeline(settings, embedder=embedder).source_text(cited["source"])
    assert source_text[cited["start"] : cited["end"]] == quote

    fetched_before = len(site.requests)
    again = rag("ingest", "--feed", f"{site.url}/feed.xml", store=store)
    assert "indexed 0, unchanged 4, skipped 0" in again.stdout, again.stderr
    assert site.requests[fetched_before:] == ["/feed.xml"]  # known pages are not fetched again


def refused_urls(site: Site) -> list[str]:
    port = site.server.server_port
    return [
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        f"http://localhost:{port}/news/plague.html",
        f"http://127.0.0.1:{port}/news/plague.html",
        f"http://2130706433:{port}/news/plague.html",  # 127.0.0.1 written as a number
        f"{site.url}/to-private",
        f"{site.url}/to-loopback",
        f"{site.url}/to-file",
        "file:///etc/passwd",
        "ftp://example.com/news.html",
    ]


def test_fetches_that_could_be_turned_against_us_are_refused_over_the_cli(
    site: Site, tmp_path: Path
) -> None:
    asked_before = len(site.requests)
    for url in refused_urls(site):
        line = error_line(rag("ingest", url, store=tmp_path / "store"))
        assert "refused" in line, line
    # the site was asked only for the redirects, and never for what they pointed to
    assert sorted(site.requests[asked_before:]) == ["/to-file", "/to-loopback", "/to-private"]


def test_bad_pages_and_feeds_are_one_line_errors_and_nothing_else_is_lost(
    site: Site, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    expected = {
        f"{site.url}/huge.html": "limit",
        f"{site.url}/file.zip": "application/zip",
        f"{site.url}/slow.html": "no answer within",
        f"{site.url}/missing.html": "404",
    }
    for url, reason in expected.items():
        assert reason in error_line(rag("ingest", url, store=store))
    assert "not a well-formed RSS or Atom feed" in error_line(
        rag("ingest", "--feed", f"{site.url}/broken.xml", store=store)
    )
    mixed = rag("ingest", "--feed", f"{site.url}/mixed.xml", store=store)
    assert mixed.returncode == 0, mixed.stderr
    assert "indexed 1, unchanged 0, skipped 5" in mixed.stdout
    warnings = [line for line in mixed.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 5 and "refused" in " ".join(warnings)
    assert "same text as" in warnings[-1]  # the same page under another URL
    listed = rag("documents", "--json", store=store)
    assert [d["url"] for d in json.loads(listed.stdout)] == [f"{site.url}/news/plague.html"]


def test_the_api_fetches_pages_and_feeds_and_refuses_the_rest(site: Site, tmp_path: Path) -> None:
    with Server(tmp_path / "store", **LIMITS) as server, server.client() as client:
        fed = client.post("/v1/documents", json={"feed": f"{site.url}/mixed.xml"})
        assert fed.status_code == 201, fed.text
        outcomes = {r.get("url") or r["source"]: r["status"] for r in fed.json()}
        assert sorted(outcomes.values()) == ["indexed"] + ["skipped"] * 5
        one = client.post("/v1/documents", json={"url": f"{site.url}/news/plague.html"})
        assert one.status_code == 200 and one.json()[0]["status"] == "unchanged", one.text
        for url in refused_urls(site):
            response = client.post("/v1/documents", json={"url": url})
            assert response.status_code == 422, (url, response.text)
            error = response.json()["error"]
            assert error["code"] == "url_refused" and "\n" not in error["message"], url
        for path in ("/etc/passwd", str(BENCHMARK / "LICENSE")):  # files on the server
            local = client.post("/v1/documents", json={"feed": path})
            assert local.status_code == 422 and local.json()["error"]["code"] == "url_refused"
        bad = client.post("/v1/documents", json={"feed": f"{site.url}/broken.xml"})
        assert bad.status_code == 422 and "RSS or Atom" in bad.json()["error"]["message"]
        slow = client.post("/v1/documents", json={"url": f"{site.url}/slow.html"})
        assert slow.status_code == 422 and slow.json()["error"]["code"] == "fetch_failed"
        listed = client.get("/v1/documents").json()
        assert [d["url"] for d in listed] == [f"{site.url}/news/plague.html"]
        pdf = client.post("/v1/documents", json={"url": f"{site.url}/storm.pdf"})
        assert pdf.status_code == 201 and pdf.json()[0]["source"].endswith(".pdf"), pdf.text
        scan = client.post("/v1/documents", json={"url": f"{site.url}/scan.pdf"})
        assert scan.status_code == 422 and "no text layer" in scan.json()["error"]["message"]
        files = [("storm.pdf", article_pdf()), ("locked.pdf", encrypted_pdf("secret"))]
        upload = client.post("/v1/documents", files=[("files", f) for f in files])
        assert upload.status_code == 422 and "encrypted" in upload.json()["error"]["message"]
        assert len(client.get("/v1/documents").json()) == 2  # the upload wrote nothing
        hits = client.post("/v1/search", json={"query": "breakwater storm harbour"}).json()
        best = hits[0]
        text = client.get(f"/v1/documents/{best['source']}/text").json()["text"]
        assert best["source"].endswith(".pdf") and text[best["start"] : best["end"]] == best["text"]
        through = rag("ingest", f"{site.url}/news/power.html", store=tmp_path / "store")
        assert "indexed 1, unchanged 0, skipped 0 document(s) through the server" in through.stdout
        assert len(client.get("/v1/documents").json()) == 3


def test_a_watched_folder_is_followed_by_search(tmp_path: Path) -> None:
    folder, store = tmp_path / "inbox", tmp_path / "store"
    folder.mkdir()
    shutil.copy(SEEDS / "001_1346c328f81362a0.txt", folder)
    with Server(store) as server, server.client() as client:
        watcher = subprocess.Popen(
            [RAG, "ingest", "--watch", str(folder)],
            env=os.environ | {"RAG_STORE__PATH": str(store)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # Ctrl-C must reach it however the test run was started (one started in the
            # background, as CI may be, passes SIGINT on ignored)
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:

            def sources_for(query: str) -> set[str]:
                hits = client.post("/v1/search", json={"query": query, "top_k": 3}).json()
                return {h["source"] for h in hits if query.lower() in h["text"].lower()}

            def eventually(check: "object") -> None:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    if check():
                        return
                    time.sleep(0.5)
                pytest.fail(f"search did not follow the folder: {watcher.stderr}")

            eventually(lambda: client.get("/v1/documents").json())
            note = folder / "harbour.md"
            note.write_text("# Harbour\n\nThe Port Elspeth tidal lock opened on Monday.\n")
            eventually(lambda: sources_for("Port Elspeth tidal lock") == {"harbour.md"})
            note.write_text("# Harbour\n\nThe Port Elspeth ferry pier closed on Friday.\n")
            eventually(lambda: sources_for("Port Elspeth ferry pier") == {"harbour.md"})
            assert not sources_for("tidal lock")
            note.unlink()
            eventually(
                lambda: (
                    "harbour.md" not in {d["source"] for d in client.get("/v1/documents").json()}
                )
            )
            assert not sources_for("Port Elspeth")
        finally:
            watcher.send_signal(signal.SIGINT)
            _, stderr = watcher.communicate(timeout=30)
        assert watcher.returncode == 0, stderr
        assert "stopped watching" in stderr
