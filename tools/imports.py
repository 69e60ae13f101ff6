"""Draw lanza's import graph and fail on a circle or on an import up the floors.

The house has floors (``docs/architecture.md``): each package of ``src/lanza`` lives on
one, and may import from its own floor and the floors below, never above. Within a floor,
packages may use each other as long as the package graph stays free of circles; within a
package, modules may not import each other in a circle either.

Every import counts, at the top of a module or inside a function, except those under
``if TYPE_CHECKING:`` (annotations only, never executed). A lazy import still makes the
importer depend on what it imports, so it is no way around a floor.

Run ``python tools/imports.py`` (exit 1 and one line per fault), or ``--graph`` for the
package graph in Graphviz's dot language.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "lanza"

# Bottom to top. A package not listed here is a fault: a new package picks its floor.
FLOORS: tuple[tuple[str, frozenset[str]], ...] = (
    ("foundation", frozenset({"lanza", "errors", "settings", "clock", "processes", "records"})),
    ("stores", frozenset({"store", "security", "hardware", "registry", "experiments"})),
    ("kit", frozenset({"runtime", "workspace", "api", "web"})),
    (
        "features",
        frozenset(
            {
                "training",
                "serving",
                "monitoring",
                "batch",
                "pages",
                "advisor",
                "optimize",
                "llm",
                "tracing",
            }
        ),
    ),
    ("operations", frozenset({"automation", "cloud"})),
    ("entry", frozenset({"server", "cli", "__main__"})),
)
FLOOR_OF = {package: level for level, (_, packages) in enumerate(FLOORS) for package in packages}


@dataclass(frozen=True)
class Edge:
    """One ``import`` of one lanza module by another."""

    source: str
    target: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.source.replace('.', '/')}.py:{self.line}"


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package by dotted name (``lanza.serving.dataplane``)."""
    found = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> Iterator[Edge]:
    """The lanza modules that ``name`` imports, outside ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for child in ast.walk(statement)
    }
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from lanza.serving import dataplane`` imports the module, not the package.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            if target == "lanza" or target.startswith("lanza."):
                yield Edge(name, _module(target, known), node.lineno)


def _module(target: str, known: dict[str, Path]) -> str:
    while target not in known and "." in target:
        target = target.rpartition(".")[0]
    return target


def package_of(module: str) -> str:
    """``lanza.serving.dataplane`` → ``serving``; ``lanza`` itself → ``lanza``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "lanza"


def faults(root: Path = ROOT) -> list[str]:
    """Every import up a floor, every package circle and every module circle."""
    known = modules(root)
    edges = [edge for name, path in known.items() for edge in imports(name, path, known)]
    found = []
    for package in sorted({package_of(name) for name in known} - set(FLOOR_OF)):
        found.append(f"package lanza.{package} has no floor: add it to FLOORS in tools/imports.py")
    reported = set()
    for edge in edges:
        source, target = package_of(edge.source), package_of(edge.target)
        if (edge.source, edge.target) in reported:
            continue
        reported.add((edge.source, edge.target))
        if source in FLOOR_OF and target in FLOOR_OF and FLOOR_OF[target] > FLOOR_OF[source]:
            found.append(
                f"{edge.where}: {source} ({FLOORS[FLOOR_OF[source]][0]}) imports {edge.target} "
                f"from a higher floor ({FLOORS[FLOOR_OF[target]][0]})"
            )
    packages: dict[str, set[str]] = defaultdict(set)
    within: dict[str, set[str]] = defaultdict(set)
    for edge in edges:
        source, target = package_of(edge.source), package_of(edge.target)
        if source != target:
            packages[source].add(target)
        elif edge.source != edge.target:
            within[edge.source].add(edge.target)
    found += [f"package circle: {' -> '.join(c)}" for c in circles(packages)]
    found += [f"module circle: {' -> '.join(c)}" for c in circles(within)]
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle per strongly connected part of ``graph`` with more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    parts: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            part = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                part.append(top)
                if top == node:
                    break
            if len(part) > 1:
                parts.append(_cycle(sorted(part), graph))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return parts


def _cycle(part: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A path around the part, from its first node back to it, for the message."""
    members, start = set(part), part[0]
    path, seen = [start], {start}
    node = start
    while True:
        nxt = sorted(graph[node] & members)
        back = [n for n in nxt if n == start]
        if back and len(path) > 1:
            return [*path, start]
        fresh = [n for n in nxt if n not in seen]
        if not fresh:
            return [*path, start]
        node = fresh[0]
        path.append(node)
        seen.add(node)


def dot(root: Path = ROOT) -> str:
    """The package graph, one node per package, ranked by floor."""
    known = modules(root)
    pairs = {
        (package_of(e.source), package_of(e.target))
        for name, path in known.items()
        for e in imports(name, path, known)
        if package_of(e.source) != package_of(e.target)
    }
    lines = ["digraph lanza {", "  rankdir=BT;"]
    for name, packages in FLOORS:
        lines.append(f"  {{ rank=same; /* {name} */ {' '.join(sorted(packages))}; }}")
    lines += [f'  "{a}" -> "{b}";' for a, b in sorted(pairs)]
    return "\n".join([*lines, "}"])


def main(argv: list[str]) -> int:
    if "--graph" in argv:
        print(dot())
        return 0
    found = faults()
    for line in found:
        print(line)
    print(f"{len(found)} import fault(s)" if found else "imports: no circle, no import up a floor")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
