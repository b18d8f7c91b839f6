"""llama.cpp's build, judged before a local model loads: one known to crash on this CPU is
refused in one line that names the fix.

llama-cpp-python compiles llama.cpp for the machine it is installed on (-march=native). On
a CPU with AMX (Intel Xeon, Sapphire Rapids and later) that build carries ggml's AMX matrix
code, which segfaults while answering (llama.cpp issue #20824; seen with 0.3.36 and the
Qwen2.5-Coder Q4_K_M models). scripts/install-llama.sh builds instead for the instruction
sets this CPU has, by name, never AMX, and on an AMX CPU only the AVX2 set (`cmake_args`). A build's
features are read in a child process, so a library that crashes on import takes only that
process down. Run as `python -m rag.llm.build cmake-args | check`.
"""

import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rag.errors import LLMUnavailable

VERSION = "0.3.36"  # as pinned in constraints.txt and pyproject.toml (a test holds them equal)
FIX = "rebuild it with `make local` (scripts/install-llama.sh)"
CPUINFO = Path("/proc/cpuinfo")

# llama.cpp's name for each x86 feature a build may use, its CMake switch, and the
# /proc/cpuinfo flag of a CPU that runs it. A build turns on those of BASE this CPU has;
BASE = (
    ("AVX", "GGML_AVX", "avx"),
    ("AVX2", "GGML_AVX2", "avx2"),
    ("FMA", "GGML_FMA", "fma"),
    ("F16C", "GGML_F16C", "f16c"),
    ("BMI2", "GGML_BMI2", "bmi2"),
)
# those of WIDE too, unless the CPU has AMX: the native builds that crashed there had them,
# the fault was not isolated from AMX, and the build the crash report confirmed safe had
# none of them. Elsewhere they make prompts 1.45x faster (README, "The local model's build").
WIDE = (
    ("AVX_VNNI", "GGML_AVX_VNNI", "avx_vnni"),
    ("AVX512", "GGML_AVX512", "avx512f"),
    ("AVX512_VBMI", "GGML_AVX512_VBMI", "avx512vbmi"),
    ("AVX512_VNNI", "GGML_AVX512_VNNI", "avx512_vnni"),
    ("AVX512_BF16", "GGML_AVX512_BF16", "avx512_bf16"),
)
# and never AMX, whose matrix code is what crashes (only AMX_INT8 is reported).
AMX = (
    ("AMX_INT8", "GGML_AMX_INT8", "amx_int8"),
    ("AMX_TILE", "GGML_AMX_TILE", "amx_tile"),
    ("AMX_BF16", "GGML_AMX_BF16", "amx_bf16"),
)
ALL = BASE + WIDE + AMX
CPU_FLAG = {name: flag for name, _, flag in ALL}


@dataclass(frozen=True)
class Build:
    """An installed llama.cpp build, as its system info reports it."""

    features: frozenset[str]  # e.g. {"AVX2", "FMA"}: the instruction sets compiled in
    info: str  # llama_print_system_info()'s line

    def problem(self, cpu: frozenset[str]) -> str | None:
        """Why this build must not run on a CPU with these flags, or None."""
        if "AMX_INT8" in self.features:
            return (
                "llama.cpp was built with AMX (the native build on an AMX CPU), whose "
                f"matrix code segfaults while answering (llama.cpp #20824): {FIX}"
            )
        missing = sorted(f for f in self.features if f in CPU_FLAG and CPU_FLAG[f] not in cpu)
        if missing and cpu:
            return (
                f"llama.cpp was built for {', '.join(missing)}, which this CPU lacks "
                f"(built on another machine?): {FIX}"
            )
        return None

    def unlike(self, wanted: frozenset[str]) -> list[str]:
        """How this build's x86 features differ from the wanted ones ([] if not at all)."""
        found = self.features & set(CPU_FLAG)
        return [f"+{f}" for f in sorted(found - wanted)] + [f"-{f}" for f in sorted(wanted - found)]


def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """This CPU's feature flags (empty where /proc/cpuinfo is not Linux's on x86)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def wanted(cpu: frozenset[str]) -> frozenset[str]:
    """The features a build for this CPU turns on."""
    allowed = BASE if cpu & {flag for _, _, flag in AMX} else BASE + WIDE
    return frozenset(name for name, _, flag in allowed if flag in cpu)


def cmake_args(cpu: frozenset[str]) -> str:
    """CMAKE_ARGS for llama-cpp-python on this CPU: not native, each instruction set
    named. Empty off x86 (no AMX there: the native build is kept)."""
    if "sse2" not in cpu:
        return ""
    on = wanted(cpu)
    switches = [f"-D{switch}={'ON' if name in on else 'OFF'}" for name, switch, _ in ALL]
    return " ".join(
        ["-DGGML_NATIVE=OFF", "-DGGML_SSE42=" + ("ON" if "sse4_2" in cpu else "OFF"), *switches]
    )


def wheel_dir(cpu: frozenset[str]) -> Path:
    """Where scripts/install-llama.sh keeps the wheel it builds for this version and CPU:
    the folder's name holds a digest of both."""
    from platformdirs import user_cache_dir

    key = hashlib.sha256(f"{VERSION} {cmake_args(cpu)}".encode()).hexdigest()[:16]
    return Path(user_cache_dir("rag-news")) / "wheels" / f"llama-cpp-python-{key}"


def installed_from() -> tuple[str | None, str | None]:
    """The installed llama-cpp-python's version, and the file it was installed from
    (None for a build pip made itself, from its index or its cache)."""
    from importlib import metadata

    try:
        found = metadata.distribution("llama_cpp_python")
    except metadata.PackageNotFoundError:
        return None, None
    origin = json.loads(found.read_text("direct_url.json") or "{}").get("url")
    return found.version, origin


def not_ours(cpu: frozenset[str], build: Build) -> str | None:
    """How the installed build differs from the one scripts/install-llama.sh makes here."""
    version, origin = installed_from()
    if version != VERSION:
        return f"llama-cpp-python {version} is installed, not {VERSION}"
    if not cmake_args(cpu):
        return None  # off x86 the script keeps pip's own (native) build
    if not (origin or "").startswith(wheel_dir(cpu).as_uri()):
        return f"it was installed from {origin or 'a build of pip’s own (its cache?)'}"
    differs = build.unlike(wanted(cpu))
    return f"its instruction sets differ ({' '.join(differs)})" if differs else None


def parse(info: str) -> Build:
    """A build from llama_print_system_info()'s "CPU : AVX = 1 | AVX2 = 1 | ..." line."""
    features = set()
    for item in info.replace("\n", "|").split("|"):
        name, _, value = item.rpartition(" : ")[2].partition("=")
        if value.strip() == "1":
            features.add(name.strip())
    return Build(frozenset(features), info.strip())


PROBE = "import sys, llama_cpp; sys.stdout.write(llama_cpp.llama_print_system_info().decode())"


@cache
def installed() -> Build:
    """The installed llama-cpp-python's build, read in a child process; LLMUnavailable if
    it is missing or crashes there."""
    try:
        probe = subprocess.run(
            [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        raise LLMUnavailable("llama.cpp did not report its build within 120 s") from None
    if probe.returncode != 0:
        if "No module named 'llama_cpp'" in probe.stderr:
            raise LLMUnavailable(
                "the llamacpp provider needs llama-cpp-python: make local (compiles it, 5-9 min)"
            )
        raise LLMUnavailable(
            f"llama.cpp failed on loading ({exit_reason(probe.returncode)}): "
            f"{last_line(probe.stderr)}; {FIX}"
        )
    return parse(probe.stdout)


def check() -> Build:
    """The installed build, if it is safe on this CPU; LLMUnavailable in one line if not."""
    build = installed()
    if problem := build.problem(cpu_flags()):
        raise LLMUnavailable(problem)
    return build


def verdict() -> tuple[bool, str]:
    """For `rag doctor`: whether the installed llama.cpp (if any) may run here, in a line."""
    from importlib.util import find_spec

    if find_spec("llama_cpp") is None:
        return True, "llama.cpp: not installed (only the llamacpp provider needs it: make local)"
    try:
        build = check()
    except LLMUnavailable as exc:
        return False, f"llama.cpp: refused: {exc}"
    return True, f"llama.cpp: ok for this CPU ({', '.join(sorted(build.features)) or 'generic'})"


def exit_reason(code: int) -> str:
    """A child's exit status in words: "exit 1", "signal SIGSEGV"."""
    if code < 0:
        import signal

        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit {code}"


def last_line(text: str) -> str:
    """The last line of a child's output that says something."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


def main(argv: list[str]) -> int:
    """`cmake-args`: CMAKE_ARGS for this CPU. `wheel-dir`: where its wheel is kept. `check`:
    exit 1 unless the installed build is safe here and is the one those arguments make."""
    cpu = cpu_flags()
    if argv in (["cmake-args"], ["wheel-dir"]):
        print(cmake_args(cpu) if argv == ["cmake-args"] else wheel_dir(cpu))
        return 0
    if argv != ["check"]:
        print("usage: python -m rag.llm.build cmake-args | wheel-dir | check", file=sys.stderr)
        return 2
    try:
        build = check()
    except LLMUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if differs := not_ours(cpu, build):
        print(
            f"error: the installed llama.cpp is not the build scripts/install-llama.sh makes "
            f"for this CPU: {differs}; {FIX}",
            file=sys.stderr,
        )
        return 1
    print(f"llama.cpp build ok: {build.info}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
