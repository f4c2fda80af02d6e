"""The package's module-level imports form no cycle (issue 18), so the folders can be read one way.

Every module-level import counts, those under `if TYPE_CHECKING:` too (a type named across a cycle is
a concept in the wrong place), in `vlmeval/` and in the built-in tasks (`tasks/`, `vlmeval_tasks`).
Imports inside functions are left out: they are how heavy packages load lazily.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"vlmeval": ROOT / "vlmeval", "vlmeval_tasks": ROOT / "tasks"}


def _module_level_imports(tree: ast.Module) -> list[ast.stmt]:
    """Imports at module level, including those in `if TYPE_CHECKING:` (and its else)."""
    found: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found += [n for n in [*node.body, *node.orelse] if isinstance(n, (ast.Import, ast.ImportFrom))]
    return found


def module_imports() -> dict[str, set[str]]:
    modules: dict[str, set[str]] = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = (package, *path.relative_to(folder).with_suffix("").parts)
            name = ".".join(parts).removesuffix(".__init__")
            imported: set[str] = set()
            for node in _module_level_imports(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vlmeval"):
                    imported |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
                elif isinstance(node, ast.Import):
                    imported |= {alias.name for alias in node.names if alias.name.startswith("vlmeval")}
            modules[name] = imported
    return {name: {m for m in imported if m in modules and m != name} for name, imported in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the current path, 2 finished

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt, [*path, nxt])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def test_the_finder_sees_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_vlmeval_imports_in_no_circle() -> None:
    graph = module_imports()
    assert "vlmeval.engine.runner" in graph and "vlmeval.reporting.leaderboard_formats" in graph
    assert "vlmeval_tasks.vqav2" in graph and "vlmeval.judge" in graph["vlmeval.task"]  # a TYPE_CHECKING import
    assert find_cycle(graph) is None
