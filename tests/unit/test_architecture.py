"""The import graph keeps the architecture: layers point one way and nothing cycles.

ui → agent → optimizers → memory; inside agent, cli → graph → run → llm. Imports inside
functions count like any other: a cycle hidden in a function is still a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("memory", "optimizers", "agent", "ui")
AGENT_LAYERS = ("agent.llm", "agent.run", "agent.graph", "agent.cli")
GRADIO_MODULES = {"ui.app", "ui.layout"}  # the modules that build the page


def _modules() -> dict[str, Path]:
    found = {}
    for package in LAYERS:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(path: Path) -> Iterator[str]:
    """Every absolute module name ``path`` imports, at any depth of its code."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _graph() -> dict[str, set[str]]:
    edges = {}
    for name, path in MODULES.items():
        targets = {_resolve(imported) for imported in _imports(path)}
        edges[name] = {t for t in targets if t is not None and t != name}
    return edges


EDGES = _graph()


def _rank(module: str, layers: tuple[str, ...]) -> int | None:
    return next(
        (i for i, layer in enumerate(layers) if module == layer or module.startswith(layer + ".")),
        None,
    )


def test_layers_point_one_way():
    against = [
        f"{source} imports {target}"
        for source, targets in EDGES.items()
        for target in targets
        if (_rank(target, LAYERS) or 0) > (_rank(source, LAYERS) or 0)
    ]
    assert not against, "imports against ui → agent → optimizers → memory:\n" + "\n".join(against)


def test_agent_packages_point_one_way():
    against = []
    for source, targets in EDGES.items():
        mine = _rank(source, AGENT_LAYERS)
        for target in targets:
            theirs = _rank(target, AGENT_LAYERS)
            if mine is not None and theirs is not None and theirs > mine:
                against.append(f"{source} imports {target}")
    assert not against, "imports against cli → graph → run → llm:\n" + "\n".join(against)


def test_no_import_cycle():
    """Tarjan's strongly connected components: any with two modules or more is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in EDGES[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in EDGES:
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_gradio_only_where_the_page_is_built():
    users = {
        name
        for name, path in MODULES.items()
        if any(imported.split(".")[0] == "gradio" for imported in _imports(path))
    }
    assert users <= GRADIO_MODULES, f"gradio imported in {sorted(users - GRADIO_MODULES)}"
