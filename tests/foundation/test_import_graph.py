"""The import graph has no cycle: not between modules, not between packages.

Walks every import the code makes — at the top of a module or inside a function, since a
lazy import still ties the two modules together — with grimp (import-linter's graph), then
looks for strongly connected components. A cycle means one of two modules cannot be read,
tested or moved without the other; the fix is a third, lower module both can import.
"""

from __future__ import annotations

import grimp
import pytest

ROOTS = ("thunderline", "thunderline_assets", "thunderline_cli", "sensors", "jobs", "resources")


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph(*ROOTS, cache_dir=None)


def package_of(graph, module: str) -> str:
    """The package a module sits in (a package stands for itself)."""
    if graph.find_children(module) or "." not in module:
        return module
    return module.rsplit(".", 1)[0]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
    return out


def module_edges(graph) -> dict[str, set[str]]:
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def package_edges(graph) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for m, targets in module_edges(graph).items():
        src = package_of(graph, m)
        for t in targets:
            dst = package_of(graph, t)
            # a package's __init__ importing its own modules is not a cycle between packages
            if dst != src and not dst.startswith(src + ".") and not src.startswith(dst + "."):
                edges.setdefault(src, set()).add(dst)
    return edges


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_cycle_between_modules(graph):
    found = cycles(module_edges(graph))
    assert not found, "import cycles between modules:\n" + "\n".join(" ↔ ".join(c) for c in found)


def test_no_cycle_between_packages(graph):
    found = cycles(package_edges(graph))
    assert not found, "import cycles between packages:\n" + "\n".join(" ↔ ".join(c) for c in found)
