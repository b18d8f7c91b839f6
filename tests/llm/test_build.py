"""llama.cpp's build: the one installed here is ours (every instruction set named, never
AMX, and on an AMX CPU only the AVX2 set), and a build known to crash is refused in one
line, by `rag ask` and `rag doctor` alike, before any model loads."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from rag.llm import build
from tests.test_cli import rag

# /proc/cpuinfo flags (abridged) of a Sapphire Rapids Xeon, where the native build crashed,
# of an AMD EPYC with AVX-512 and no AMX, and of an older laptop CPU without AVX-512.
XEON = frozenset(
    "sse2 sse4_2 avx avx2 fma f16c bmi2 avx512f avx512_vnni avx512_bf16 "
    "avx512vbmi avx_vnni amx_bf16 amx_tile amx_int8".split()
)
EPYC = XEON - {"amx_bf16", "amx_tile", "amx_int8"}
LAPTOP = frozenset("sse2 sse4_2 avx avx2 fma f16c bmi2".split())
NATIVE_ON_XEON = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | "
    "FMA = 1 | BMI2 = 1 | AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | "
    "AVX512_BF16 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 |"
)


def test_the_native_build_on_an_amx_cpu_is_refused_naming_the_fix() -> None:
    problem = build.parse(NATIVE_ON_XEON).problem(XEON)
    assert problem and "AMX" in problem and "#20824" in problem and "make local" in problem
    ours = build.parse("CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 |")
    assert ours.problem(XEON) is None and ours.problem(LAPTOP) is None


def test_a_build_for_instructions_this_cpu_lacks_is_refused() -> None:
    problem = build.parse("CPU : AVX = 1 | AVX2 = 1 | AVX512 = 1 |").problem(LAPTOP)
    assert problem and "AVX512, which this CPU lacks" in problem


def test_our_flags_name_each_instruction_set_and_never_amx() -> None:
    on_xeon = build.cmake_args(XEON).split()
    assert "-DGGML_NATIVE=OFF" in on_xeon and "-DGGML_AVX2=ON" in on_xeon
    for switch in ("AMX_INT8", "AMX_TILE", "AMX_BF16", "AVX512", "AVX512_VNNI", "AVX_VNNI"):
        assert f"-DGGML_{switch}=OFF" in on_xeon  # the build the crash report confirmed safe
    on_epyc = build.cmake_args(EPYC).split()
    assert "-DGGML_AVX512=ON" in on_epyc and "-DGGML_AVX512_VNNI=ON" in on_epyc
    assert "-DGGML_AMX_INT8=OFF" in on_epyc
    assert "-DGGML_AVX512=OFF" in build.cmake_args(LAPTOP).split()
    assert "-DGGML_AVX2=OFF" in build.cmake_args(frozenset({"sse2", "avx"})).split()
    assert build.cmake_args(frozenset({"fp", "asimd", "sve"})) == ""  # arm: no AMX, native kept


def test_a_native_build_is_told_apart_from_ours() -> None:
    assert build.parse(NATIVE_ON_XEON).unlike(build.wanted(XEON)) == [
        "+AMX_INT8",
        "+AVX512",
        "+AVX512_BF16",
        "+AVX512_VBMI",
        "+AVX512_VNNI",
        "+AVX_VNNI",
    ]
    assert (
        build.parse(NATIVE_ON_XEON.replace("AMX_INT8 = 1 | ", "")).unlike(build.wanted(EPYC)) == []
    )


@pytest.fixture
def amx_llama(tmp_path: Path) -> Path:
    """A stand-in llama_cpp package that reports the native build on an AMX CPU (it has
    nothing else: the refusal must come before anything loads)."""
    package = tmp_path / "llama_cpp"
    package.mkdir()
    (package / "__init__.py").write_text(
        f"def llama_print_system_info():\n    return {NATIVE_ON_XEON.encode()!r}\n"
    )
    return tmp_path


def test_ask_and_doctor_refuse_a_crashing_build_in_one_line(
    amx_llama: Path, store: Path, tmp_path: Path
) -> None:
    gguf = tmp_path / "any.gguf"
    gguf.write_bytes(b"GGUF")
    env = {"PYTHONPATH": str(amx_llama), "RAG_LLM__GGUF": str(gguf)}
    asked = rag("ask", "Who went with Putin?", "--provider", "llamacpp", store=store, **env)
    assert asked.returncode == 1 and "Traceback" not in asked.stderr
    assert asked.stderr.count("\n") == 1 and "built with AMX" in asked.stderr
    assert "make local" in asked.stderr
    doctor = rag("doctor", "--check", store=store, **env)
    assert (
        doctor.returncode == 1
        and "llama.cpp: refused: llama.cpp was built with AMX" in doctor.stdout
    )


def test_the_version_built_is_the_version_pinned() -> None:
    from tests.conftest import ROOT

    pin = f"llama_cpp_python=={build.VERSION}\n"
    assert pin in (ROOT / "constraints.txt").read_text()
    assert f'"llama-cpp-python[server]=={build.VERSION}"' in (ROOT / "pyproject.toml").read_text()


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="make local")
def test_the_installed_build_is_ours_without_amx() -> None:
    checked = subprocess.run(
        [sys.executable, "-m", "rag.llm.build", "check"], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    installed, cpu = build.installed(), build.cpu_flags()
    assert "AMX_INT8" not in installed.features and build.not_ours(cpu, installed) is None
    if build.cmake_args(cpu):  # installed from the wheel the script built, not pip's own
        assert build.installed_from()[1].startswith(build.wheel_dir(cpu).as_uri())
    if cpu & {"amx_int8", "amx_tile"}:
        assert "AVX512" not in installed.features
    library = Path(importlib.util.find_spec("llama_cpp").origin).parent / "lib"
    compiled = [f for f in library.iterdir() if ".so" in f.name]
    assert compiled and not any(b"ggml_backend_amx" in f.read_bytes() for f in compiled)
