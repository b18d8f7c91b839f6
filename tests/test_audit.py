"""The offline dependency audit: a known-vulnerable pin fails it, a missing snapshot fails
it, and today's pins pass it."""

import subprocess
import sys
from pathlib import Path

AUDIT = Path(__file__).resolve().parents[1] / "security" / "audit.py"


def audit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(AUDIT), *args], capture_output=True, text=True, timeout=60
    )


def test_the_pinned_set_has_no_known_vulnerable_pin() -> None:
    result = audit()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "audited" in result.stdout and "PyPA advisory database as of" in result.stdout


def test_a_known_vulnerable_pin_fails_the_audit(tmp_path: Path) -> None:
    pins = tmp_path / "constraints.txt"
    pins.write_text("starlette==0.26.1\nfastapi==0.115.0\nJinja2==2.10\n")
    result = audit("--pins", str(pins))
    assert result.returncode == 1
    flagged = {
        line.split("==")[0].removeprefix("VULNERABLE ")
        for line in result.stdout.splitlines()
        if line.startswith("VULNERABLE")
    }
    assert flagged == {"starlette", "jinja2"}
    assert "CVE-2023-29159" in result.stdout  # Starlette's path traversal, fixed in 0.27.0


def test_the_audit_fails_closed_without_its_snapshot_or_pins(tmp_path: Path) -> None:
    missing = audit("--snapshot", str(tmp_path / "none.json"))
    assert missing.returncode == 1 and "no usable advisory snapshot" in missing.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing pinned\n")
    assert audit("--pins", str(empty)).returncode == 1
