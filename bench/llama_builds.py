"""What a llama.cpp build's instruction sets are worth: prompt and generation speed of the
local model under two builds of llama-cpp-python, each in its own child process, taken in
turns (ABAB...) so that a busy moment of the machine falls on both.

    python -m bench.llama_builds --build ours=DIR --build native=DIR [--model PATH]

Each DIR is a folder holding an installed llama_cpp package (`pip install --no-deps
--target DIR WHEEL`); the first build is the baseline the others are compared with.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from rag.settings import load_settings
from rag.weights import resolve

# A news-sized prompt (about 500 tokens) and a short reply, as the generative answerer asks.
PROMPT = "Summarise the passage in one sentence.\n\n" + " ".join(
    f"Paragraph {n}: Russian President Vladimir Putin arrived in Pyongyang for a two-day visit, "
    "his first in 24 years, and signed a comprehensive strategic partnership treaty with "
    "North Korean leader Kim Jong-un that includes a mutual defence clause."
    for n in range(12)
)
ONE_RUN = """
import json, sys, time, llama_cpp
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=2048, n_threads=int(sys.argv[2]),
                      n_threads_batch=int(sys.argv[2]), verbose=False, seed=0)
tokens = llm.tokenize(sys.argv[3].encode())
began = time.perf_counter()
llm.eval(tokens)
prompt_s = time.perf_counter() - began
began, made = time.perf_counter(), 0
for token in llm.generate([], temp=0.0, reset=False):
    made += 1
    if made == 64:
        break
print(json.dumps({"prompt_tps": len(tokens) / prompt_s,
                  "gen_tps": made / (time.perf_counter() - began),
                  "info": llama_cpp.llama_print_system_info().decode().strip()}))
"""


def run_once(folder: Path, model: Path, threads: int) -> dict:
    """One load, one prompt, 64 generated tokens, in a child that imports this build."""
    env = os.environ | {"PYTHONPATH": str(folder)}
    out = subprocess.run(
        [sys.executable, "-c", ONE_RUN, str(model), str(threads), PROMPT],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Run each build in turns and print prompt and generation tokens per second."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", action="append", required=True, help="NAME=DIR")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    model = resolve(args.model, load_settings().llm.models_dir)
    builds = dict(item.split("=", 1) for item in args.build)
    runs: dict[str, list[dict]] = {name: [] for name in builds}
    for _ in range(args.rounds):
        for name, folder in builds.items():
            runs[name].append(run_once(Path(folder), model, args.threads))
    base = next(iter(builds))
    median = {
        name: {k: statistics.median(r[k] for r in rs) for k in ("prompt_tps", "gen_tps")}
        for name, rs in runs.items()
    }
    print(f"model {model.name}, {args.threads} threads, median of {args.rounds} runs each")
    print("| build | prompt tok/s | generation tok/s | vs " + base + " | features |")
    print("|---|---|---|---|---|")
    for name, m in median.items():
        ratio = (
            f"{m['prompt_tps'] / median[base]['prompt_tps']:.2f}x / "
            f"{m['gen_tps'] / median[base]['gen_tps']:.2f}x"
        )
        print(
            f"| {name} | {m['prompt_tps']:.0f} | {m['gen_tps']:.1f} | {ratio} | "
            f"{runs[name][0]['info']} |"
        )


if __name__ == "__main__":
    main()
