"""Load benchmark of the running service on loopback: requests/s and p50/p95 latency of
POST /v1/ask at 1, 4 and 16 concurrent clients, beside two baselines measured in the same
run against the same server: GET /healthz (the HTTP stack alone) and POST /v1/search
(retrieval without answering); and the server's memory (RSS of all its processes).

    .venv/bin/python bench/http_bench.py [--corpus evals/squad-dev-48/corpus] [--requests 200]
                                         [--deployments embedded-1,server-1,server-2]

Deployments: `embedded-1` is `rag serve` on its own store folder (the default); `server-N`
is `rag serve --workers N` in front of a `chroma run` server on the same machine;
`:reader-off` after either runs it with RAG_READER__ENABLED=false (the baseline for the
reader's cost: `--deployments embedded-1:reader-off,embedded-1`). Each indexes the corpus
(re-used when unchanged), starts its processes on free 127.0.0.1 ports and stops them at the
end. Request counts are bounded; nothing leaves the machine. With --json FILE the figures
are also written there.
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
from contextlib import ExitStack
from pathlib import Path
from statistics import quantiles

import httpx

ROOT = Path(__file__).resolve().parents[1]
RAG = str(Path(sys.executable).with_name("rag"))
CHROMA = str(Path(sys.executable).with_name("chroma"))
LEVELS = (1, 4, 16)


def questions(path: Path, count: int) -> list[str]:
    """A fixed spread of the benchmark's questions."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    step = max(len(rows) // count, 1)
    return [rows[i * step]["question"] for i in range(count)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command: list[str], port: int, health: str, env: dict[str, str], stack: ExitStack) -> str:
    """A process serving on a loopback port, once `health` answers; stopped with the stack."""
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )

    def stop() -> None:
        process.terminate()
        process.wait(timeout=30)

    stack.callback(stop)
    url = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        if process.poll() is not None:
            raise SystemExit(f"{' '.join(command)} exited with {process.returncode}")
        try:
            if httpx.get(f"{url}{health}", timeout=1).status_code == 200:
                return url
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"{' '.join(command)} did not start")


def deploy(name: str, corpus: Path, store: Path, stack: ExitStack) -> tuple[str, list[int]]:
    """Index the corpus and start the deployment; (its URL, the pids of its processes)."""
    kind, _, variant = name.partition(":")
    if variant not in ("", "reader-off"):
        raise SystemExit(f"{name}: the only variant is :reader-off")
    workers = 1 if kind == "embedded-1" else int(kind.removeprefix("server-"))
    env = os.environ | {"RAG_STORE__PATH": str(store)}
    if variant == "reader-off":
        env["RAG_READER__ENABLED"] = "false"
    if kind != "embedded-1":
        port = free_port()
        chroma = start(
            [
                CHROMA,
                "run",
                "--path",
                str(store.with_name(store.name + "-chroma")),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            port,
            "/api/v2/heartbeat",
            dict(os.environ),
            stack,
        )
        env["RAG_STORE__URL"] = chroma
    print(f"{name}: indexing {corpus} (re-used when unchanged)", file=sys.stderr)
    subprocess.run([RAG, "ingest", str(corpus)], check=True, stdout=subprocess.DEVNULL, env=env)
    port = free_port()
    url = start(
        [RAG, "serve", "--port", str(port), "--workers", str(workers)], port, "/readyz", env, stack
    )
    seen = set()
    while len(seen) < workers:  # every worker up, not just the first
        seen.add(
            int(httpx.get(f"{url}/readyz", headers={"connection": "close"}).headers["x-rag-worker"])
        )
    return url, sorted(seen)


def rss_mb(pids: list[int]) -> float:
    """Resident memory of these processes, in MB, from /proc."""
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


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
        response = (
            local.client.get(route) if payload is None else local.client.post(route, json=payload)
        )
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
    parser.add_argument(
        "--questions", type=Path, default=ROOT / "evals/squad-dev-48/questions.jsonl"
    )
    parser.add_argument("--store", type=Path, default=ROOT / "evals/.cache/bench-store")
    parser.add_argument(
        "--requests",
        type=int,
        default=200,
        help="per route and level (of 48, the p95 is the third-worst)",
    )
    parser.add_argument(
        "--deployments",
        default="embedded-1",
        help="comma-separated: embedded-1, server-1, server-2, ...",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    asked = questions(args.questions, args.requests)
    routes = {
        "GET /healthz (baseline)": ("/healthz", [None] * args.requests),
        "POST /v1/search (baseline)": ("/v1/search", [{"query": q} for q in asked]),
        "POST /v1/ask": ("/v1/ask", [{"question": q} for q in asked]),
    }
    figures = []
    print(f"{len(asked)} requests per route and level; {os.cpu_count()} cores\n")
    print(
        "| deployment | route | clients | requests/s | p50 ms | p95 ms |\n|---|---|---|---|---|---|"
    )
    for name in args.deployments.split(","):
        with ExitStack() as stack:
            url, pids = deploy(name, args.corpus, args.store, stack)
            # Warm up as traffic would: every question once, so each article's sentence
            # vectors are in every worker's cache before anything is timed.
            measure(url, "/v1/ask", [{"question": q} for q in asked] * len(pids), 4)
            for route_name, (route, payloads) in routes.items():
                for clients in LEVELS:
                    row = {
                        "deployment": name,
                        "route": route_name,
                        "clients": clients,
                        **measure(url, route, payloads, clients),
                    }
                    figures.append(row)
                    print(
                        "| {deployment} | {route} | {clients} | {rps:.1f} | {p50:.0f} | "
                        "{p95:.0f} |".format(**row),
                        flush=True,
                    )
            memory = rss_mb(pids)  # the workers (an embedded store lives inside them)
            figures.append({"deployment": name, "rss_mb": memory, "workers": len(pids)})
            print(
                f"| {name} | RSS of the {len(pids)} API process(es) | | {memory:.0f} MB | | |",
                flush=True,
            )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
