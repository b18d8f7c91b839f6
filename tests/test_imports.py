"""The shape of the code, read from its import statements (those inside functions too): the
library stands alone, and no two modules import each other, however indirectly."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PACKAGES = ("rag", "api", "cli", "evals")
# What the library must never import: the adapters, the evals, and the terminal's libraries.
NOT_IN_THE_LIBRARY = (
    "api",
    "evals",
    "cli",
    "click",
    "rich",
    "prompt_toolkit",
    "fastapi",
    "starlette",
    "uvicorn",
    "mcp",
)


def module_name(path: Path) -> str:
    """rag/answering/evidence.py -> rag.answering.evidence; a package's __init__ is the package."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module name a file imports, absolute, wherever the import statement stands."""
    names, package = (
        set(),
        module_name(path).rsplit(".", 1)[0] if path.stem != "__init__" else module_name(path),
    )
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the file's package, up level - 1
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + [base]
                ).strip(".")
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}  # `from pkg import module`
    return names


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for name in PACKAGES for p in sorted((ROOT / name).rglob("*.py"))}


def graph() -> dict[str, set[str]]:
    """Each project module and the project modules it imports."""
    modules = project_modules()
    return {
        name: {m for m in imported(path) if m in modules and m != name}
        for name, path in modules.items()
    }


def test_the_module_list_is_whole() -> None:
    modules = project_modules()
    assert {"rag.pipeline", "rag.events", "api.app", "cli.main", "cli.chat", "evals.runner"} <= set(
        modules
    )


@pytest.mark.parametrize("path", sorted((ROOT / "rag").rglob("*.py")), ids=lambda p: module_name(p))
def test_the_library_imports_no_adapter(path: Path) -> None:
    bad = sorted(m for m in imported(path) if m.split(".")[0] in NOT_IN_THE_LIBRARY)
    assert not bad, f"{module_name(path)} imports {bad}"


def test_only_their_users_import_the_integrations() -> None:
    """rag.integrations serves other frameworks: the library and adapters never need it."""
    users = sorted(
        name
        for name, targets in graph().items()
        if any(t.startswith("rag.integrations") for t in targets)
        and not name.startswith("rag.integrations")
    )
    assert not users, f"{users} import rag.integrations"


def test_no_import_cycle() -> None:
    edges, cycles = graph(), []
    state: dict[str, str] = {}  # "open" while on the path, "done" after

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(edges[module]):
            if state.get(target) == "open":
                cycles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_checker_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    """The checks above would pass vacuously if lazy imports were missed."""
    assert "cli.service" in imported(ROOT / "cli" / "main.py")
    assert {"rag.pipeline"} <= graph()["cli.service"]
