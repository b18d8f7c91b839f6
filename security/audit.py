"""Audit the pinned dependencies (constraints.txt) against known vulnerabilities, offline.

This machine reaches only the package registries, not PyPI's JSON API or OSV, so
`pip-audit` cannot look anything up here. The audit reads a snapshot of the PyPA advisory
database (github.com/pypa/advisory-database, OSV format) kept in security/advisories.json,
cut down to the packages pinned; the snapshot's date is printed with every run. Where a
network is at hand, run `pip-audit -r constraints.txt` as well: it sees newer advisories.

    python security/audit.py                  # exit 1 if a pin is known-vulnerable
    python security/audit.py --refresh DIR    # rebuild the snapshot from a checkout

The gate fails closed: a missing or unreadable snapshot, or a pin file with no pins, is
an error, not a pass.
"""

import argparse
import json
import re
import sys
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

HERE = Path(__file__).resolve().parent
SNAPSHOT = HERE / "advisories.json"
PINS = HERE.parent / "constraints.txt"
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;#]+)")


def pins(path: Path) -> dict[str, str]:
    """Each pinned package's version, by canonical name."""
    found = {
        canonicalize_name(m.group(1)): m.group(2)
        for line in path.read_text().splitlines()
        if (m := PIN.match(line.strip()))
    }
    if not found:
        raise SystemExit(f"error: no `name==version` pins in {path}")
    return found


def affects(affected: dict, version: str) -> bool:
    """Whether an OSV `affected` entry covers the version (listed, or inside a range)."""
    if version in affected.get("versions", []):
        return True
    try:
        mine = Version(version.split("+")[0])
    except InvalidVersion:
        return False
    for span in affected.get("ranges", []):
        if span.get("type") != "ECOSYSTEM":
            continue
        low, events = None, span.get("events", [])
        for event in events:
            if "introduced" in event:
                low = Version("0") if event["introduced"] == "0" else Version(event["introduced"])
            elif low is not None and ("fixed" in event or "last_affected" in event):
                high = Version(event.get("fixed") or event["last_affected"])
                if low <= mine and (mine < high if "fixed" in event else mine <= high):
                    return True
                low = None
        if low is not None and low <= mine:  # introduced and never fixed
            return True
    return False


def audit(pinned: dict[str, str], snapshot: dict) -> list[str]:
    """One line per pin an advisory covers."""
    findings = []
    for name, version in sorted(pinned.items()):
        for advisory in snapshot["advisories"].get(name, []):
            if any(affects(a, version) for a in advisory["affected"]):
                aliases = ", ".join(advisory.get("aliases", []))
                findings.append(
                    f"{name}=={version}: {advisory['id']} ({aliases}) {advisory['summary']}"
                )
    return findings


def refresh(checkout: Path, pinned: dict[str, str]) -> dict:
    """The snapshot for these packages from a checkout of pypa/advisory-database."""
    import subprocess

    import yaml

    commit = subprocess.run(
        ["git", "-C", str(checkout), "log", "-1", "--format=%H %cI"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    advisories: dict[str, list] = {}
    for folder in sorted((checkout / "vulns").iterdir()):
        name = canonicalize_name(folder.name)
        if name not in pinned:
            continue
        for file in sorted(folder.glob("*.yaml")):
            entry = yaml.safe_load(file.read_text())
            if entry.get("withdrawn"):
                continue
            advisories.setdefault(name, []).append(
                {
                    "id": entry["id"],
                    "aliases": entry.get("aliases", []),
                    "summary": " ".join(
                        str(entry.get("summary") or entry.get("details", "")).split()
                    )[:200],
                    "affected": [
                        {"ranges": a.get("ranges", []), "versions": a.get("versions", [])}
                        for a in entry["affected"]
                        if canonicalize_name(a["package"]["name"]) == name
                    ],
                }
            )
    return {
        "source": "https://github.com/pypa/advisory-database",
        "license": "CC-BY-4.0",
        "commit": commit[0],
        "date": commit[1],
        "advisories": advisories,
    }


def main() -> int:
    """Run the audit (or rebuild the snapshot); 0 when no pin is known-vulnerable."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pins", type=Path, default=PINS)
    parser.add_argument("--snapshot", type=Path, default=SNAPSHOT)
    parser.add_argument(
        "--refresh",
        type=Path,
        metavar="DIR",
        help="a checkout of pypa/advisory-database to rebuild the snapshot from",
    )
    args = parser.parse_args()
    pinned = pins(args.pins)
    if args.refresh:
        args.snapshot.write_text(json.dumps(refresh(args.refresh, pinned), indent=1) + "\n")
        print(f"wrote {args.snapshot}")
        return 0
    try:
        snapshot = json.loads(args.snapshot.read_text())
        snapshot["advisories"], snapshot["date"]
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: no usable advisory snapshot at {args.snapshot} ({exc})", file=sys.stderr)
        return 1
    findings = audit(pinned, snapshot)
    known = sum(len(v) for v in snapshot["advisories"].values())
    print(
        f"audited {len(pinned)} pins against {known} advisories for them "
        f"(PyPA advisory database as of {snapshot['date'][:10]}, commit {snapshot['commit'][:10]})"
    )
    for line in findings:
        print(f"VULNERABLE {line}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
