"""The MCP server as agents reach it, driven by the official SDK's own clients: `rag mcp`
started as a subprocess over stdio, and /mcp on a real `rag serve` behind a key."""

import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import anyio
import httpx
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.api.conftest import Server

RAG = str(Path(sys.executable).with_name("rag"))
SEEDS = sorted(p.name for p in (Path(__file__).resolve().parents[2] / "seeds").iterdir())
QUESTION = "Which article of the UN Charter does the defence clause invoke?"
KEY = "mcp-test-key"


async def agent_session(session: ClientSession) -> None:
    """What an agent does: read the instructions and tools, then search, ask, list and read,
    checking every offset against the document's own text; then two mistakes."""
    started = await session.initialize()
    assert "cite" in started.instructions.lower()
    tools = {t.name: t for t in (await session.list_tools()).tools}
    assert set(tools) == {"search", "ask", "list_documents", "read_document"}
    assert all(t.annotations.read_only_hint for t in tools.values())
    assert "filters" in tools["search"].input_schema["properties"]

    async def call(name: str, **arguments: object) -> dict:
        result = await session.call_tool(name, arguments)
        assert not result.is_error, result.content
        return result.structured_content

    listed = await call("list_documents")
    assert sorted(d["source"] for d in listed["documents"]) == SEEDS
    texts = {}
    for source in SEEDS:
        document = await call("read_document", source=source)
        assert document["source"] == source and document["text"]
        texts[source] = document["text"]

    hits = (await call("search", query="bamboo diplomacy", top_k=3))["hits"]
    assert len(hits) == 3
    assert all(texts[h["source"]][h["start"] : h["end"]] == h["text"] for h in hits)
    only = await call("search", query="treaty", filters={"source": [SEEDS[0]]})
    assert {h["source"] for h in only["hits"]} == {SEEDS[0]}

    answer = await call("ask", question=QUESTION)
    assert "Article 51" in answer["answer"] and not answer["refused"]
    assert answer["citations"]
    for citation in answer["citations"]:
        quote = texts[citation["source"]][citation["start"] : citation["end"]]
        assert quote == citation["quote"] and f"[{citation['index']}]" in answer["answer"]
        assert citation["title"]

    for name, arguments, code in (
        ("ask", {"question": "   "}, "invalid_question"),
        ("read_document", {"source": "no-such-article.txt"}, "unknown_document"),
    ):
        failed = await session.call_tool(name, arguments)
        said = " ".join(c.text for c in failed.content)
        assert failed.is_error and code in said and "Traceback" not in said


def drive(session: Callable[[], Awaitable[None]]) -> None:
    """Run an async client to its end, within two minutes."""

    async def bounded() -> None:
        with anyio.fail_after(120):
            await session()

    anyio.run(bounded)


def test_rag_mcp_over_stdio_searches_asks_lists_and_reads(store: Path, tmp_path: Path) -> None:
    server = StdioServerParameters(
        command=RAG, args=["mcp"], env=dict(os.environ) | {"RAG_STORE__PATH": str(store)}
    )

    async def session() -> None:
        with (tmp_path / "stderr").open("w") as errors:
            async with stdio_client(server, errlog=errors) as (read, write):
                async with ClientSession(read, write) as client:
                    await agent_session(client)

    drive(session)


@pytest.fixture(scope="module")
def keyed(served_store: Path) -> Iterator[Server]:
    with Server(served_store, RAG_API__KEYS=KEY) as running:
        yield running


def test_mcp_over_http_needs_the_key_and_refuses_in_our_error_body(keyed: Server) -> None:
    hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    refused = httpx.post(f"{keyed.url}/mcp", json=hello, timeout=30)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"
    key = {"authorization": f"Bearer {KEY}", "accept": "application/json, text/event-stream"}
    rebound = httpx.post(
        f"{keyed.url}/mcp", json=hello, headers=key | {"host": "evil.test"}, timeout=30
    )
    assert rebound.status_code == 421
    assert rebound.json()["error"]["message"] == "MCP: Invalid Host header"

    async def session() -> None:
        headers = {"authorization": f"Bearer {KEY}"}
        async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
            async with streamable_http_client(f"{keyed.url}/mcp", http_client=http) as streams:
                async with ClientSession(*streams[:2]) as client:
                    await agent_session(client)

    drive(session)


def test_rag_mcp_asks_the_server_that_holds_the_store(
    keyed: Server, served_store: Path, tmp_path: Path
) -> None:
    env = dict(os.environ) | {"RAG_STORE__PATH": str(served_store), "RAG_API__KEYS": KEY}
    server = StdioServerParameters(command=RAG, args=["mcp"], env=env)
    errors = tmp_path / "stderr"

    async def session() -> None:
        with errors.open("w") as sink:
            async with stdio_client(server, errlog=sink) as (read, write):
                async with ClientSession(read, write) as client:
                    await agent_session(client)

    drive(session)
    assert "asking the server at" in errors.read_text()
