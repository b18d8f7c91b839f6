"""Load benchmark of the running service on loopback: requests/s and p50/p95 latency of
POST /v1/ask at 1, 4 and 16 concurrent clients, beside two baselines measured in the same
run against the same server: GET /healthz (the HTTP stack alone) and POST /v1/search
(retrieval without answering).

    .venv/bin/python bench/http_bench.py [--corpus evals/squad-dev-48/corpus] [--requests 200]

It indexes the corpus (re-used when unchanged), starts `rag serve` on a free 127.0.0.1
port, and stops it at the end. Request counts are bounded; nothing leaves the machine.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from statistics import quantiles

import httpx

ROOT = Path(__file__).resolve().parents[1]
RAG = str(Path(sys.executable).with_name("rag"))
LEVELS = (1, 4, 16)


def questions(path: Path, count: int) -> list[str]:
    """A fixed spread of the benchmark's questions."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    step = max(len(rows) // count, 1)
    return [rows[i * step]["question"] for i in range(count)]


def start_server(store: Path) -> tuple[subprocess.Popen, str]:
    """`rag serve` on a free loopback port, once /healthz answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = os.environ | {"RAG_STORE__PATH": str(store)}
    process = subprocess.Popen([RAG, "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start")


def measure(url: str, route: str, payloads: list[dict | None], clients: int) -> dict:
    """Send every payload with `clients` concurrent keep-alive connections (one per
    client thread); throughput and latency."""
    local = threading.local()
    opened: list[httpx.Client] = []

    def send(payload: dict | None) -> float:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, timeout=120)
            opened.append(local.client)
        began = time.perf_counter()
        response = (local.client.get(route) if payload is None
                    else local.client.post(route, json=payload))
        response.raise_for_status()
        return (time.perf_counter() - began) * 1000

    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = list(pool.map(send, payloads))
    elapsed = time.perf_counter() - began
    for client in opened:
        client.close()
    cuts = quantiles(latencies, n=20, method="inclusive")
    return {"rps": len(payloads) / elapsed, "p50": cuts[9], "p95": cuts[18]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "evals/squad-dev-48/corpus")
    parser.add_argument("--questions", type=Path,
                        default=ROOT / "evals/squad-dev-48/questions.jsonl")
    parser.add_argument("--store", type=Path, default=ROOT / "evals/.cache/bench-store")
    parser.add_argument("--requests", type=int, default=200,
                        help="per route and level (of 48, the p95 is the third-worst)")
    args = parser.parse_args()
    print(f"indexing {args.corpus} into {args.store} (re-used when unchanged)", file=sys.stderr)
    subprocess.run([RAG, "ingest", str(args.corpus)], check=True, stdout=subprocess.DEVNULL,
                   env=os.environ | {"RAG_STORE__PATH": str(args.store)})
    asked = questions(args.questions, args.requests)
    process, url = start_server(args.store)
    try:
        # Warm up as traffic would: every question once, so each article's sentence vectors
        # are in the server's cache before anything is timed.
        measure(url, "/v1/ask", [{"question": q} for q in asked], 4)
        routes = {"GET /healthz (baseline)": ("/healthz", [None] * args.requests),
                  "POST /v1/search (baseline)": ("/v1/search", [{"query": q} for q in asked]),
                  "POST /v1/ask": ("/v1/ask", [{"question": q} for q in asked])}
        print(f"{len(asked)} requests per route and level; server: 1 uvicorn worker, "
              f"{os.cpu_count()} cores\n")
        print("| route | clients | requests/s | p50 ms | p95 ms |\n|---|---|---|---|---|")
        for name, (route, payloads) in routes.items():
            for clients in LEVELS:
                print(f"| {name} | {clients} | "
                      "{rps:.1f} | {p50:.0f} | {p95:.0f} |".format(**measure(url, route, payloads, clients)),
                      flush=True)
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
