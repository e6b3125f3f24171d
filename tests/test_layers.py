"""The package's folders are its layers: a module imports only its own layer or lower ones.

Read from the source with ``ast`` (type-only imports count too), so a cycle or an upward
import fails here before it confuses a reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = "skypanel_hubspot_plugin"

#: Lowest first. A module may import its own layer's modules and any lower layer's.
LAYERS: list[set[str]] = [
    {"payloads", "common"},
    {"hookspecs"},
    {"hubspot"},
    {"migrations"},
    {"settings", "audit"},
    # The counts behind the metrics: settled rows and requests are counted where they happen.
    {"metrics"},
    {"mapping"},
    {"page"},
    {"delivery"},
    {"webhooks"},
    {"runtime"},
    # The metrics as Prometheus reads them: counts and gauges from the database.
    {"prometheus"},
    {"admin"},
    # The package's __init__ is its public face: it gathers names from every layer below.
    {
        "__init__",
        "command_options",
        "worker",
        "cli",
        "cli_check",
        "cli_runtime",
        "cli_sync",
        "audit_command",
        "hooks",
        "problems_report",
    },
    # Framework adapters: each wires the plugin, its routes and its commands into one framework.
    {"django", "flask"},
    {"testing", "demo"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _sources() -> dict[str, Path]:
    modules = {}
    for path in (ROOT / PKG).rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        modules[".".join(parts)] = path
    for path in (ROOT / "hooks").glob("*.py"):
        modules[f"{PKG}.hooks.{path.stem}"] = path
    return {name.removesuffix(".__init__"): path for name, path in modules.items()}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{a.name}" for a in node.names] + [module]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        # `from pkg import module` names the module, not pkg's __init__; `from pkg.module
        # import x` names the module.
        if len(targets) > 1 and all(t in known for t in targets[:-1]):
            targets = targets[:-1]
        found.update(t for t in targets if t in known and t != name)
    return found


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


GRAPH = {name: _imports(name, path, set(_sources())) for name, path in _sources().items()}


def test_every_module_belongs_to_a_layer() -> None:
    assert {_layer(m) for m in GRAPH} <= set(RANK)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_go_down_or_sideways(module: str) -> None:
    own = RANK[_layer(module)]
    upward = sorted(t for t in GRAPH[module] if RANK[_layer(t)] > own)
    assert not upward, f"{module} imports a higher layer: {upward}"


def test_no_import_cycle() -> None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(GRAPH[node]):
            if nxt in GRAPH and node != nxt and not _is_package_init(nxt, node):
                if state.get(nxt) == 1:
                    cycle = [*path[path.index(nxt) :], nxt]
                    pytest.fail("import cycle: " + " -> ".join(cycle))
                if nxt not in state:
                    visit(nxt)
        path.pop()
        state[node] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


def _is_package_init(target: str, importer: str) -> bool:
    """Importing a submodule runs its package's __init__; that is not an edge back."""
    return importer.startswith(target + ".")
