"""Print a walk as a tree: what a person reading ``thunderline lineage ID`` wants to see."""

from __future__ import annotations

from collections import defaultdict
from typing import Mapping, Sequence

from thunderline.lineage.graph import LineageStep


def format_tree(root_id: str, root_kind: str | None, steps: Sequence[LineageStep], direction: str, depth: int,
                notes: Mapping[str, str] | None = None) -> str:
    """Render ``steps`` (from :func:`walk`) hanging off ``root_id``; ``notes[node]`` is printed beside a node
    (where a tick batch tiered to cold storage now lives).

    A node reachable along several paths is printed under each parent; a node
    already on the current path (a cycle) is printed once more, marked, and not
    expanded.
    """
    children: dict[str, list[LineageStep]] = defaultdict(list)
    for s in steps:
        children[s.via].append(s)
    for v in children.values():
        v.sort(key=lambda s: (s.kind, s.node_id, s.relation))
    arrow = "inputs (upstream)" if direction == "up" else "outputs (downstream)"
    notes = notes or {}

    def note(node: str) -> str:
        return f"  — {notes[node]}" if node in notes else ""

    lines = [f"{root_kind or '?'} {root_id}{note(root_id)}  — {arrow}, depth ≤ {depth}"]

    def visit(node: str, prefix: str, path: frozenset[str], level: int) -> None:
        kids = children.get(node, []) if level < depth else []
        for i, s in enumerate(kids):
            last = i == len(kids) - 1
            cycle = s.node_id in path
            lines.append(f"{prefix}{'└── ' if last else '├── '}{s.kind} {s.node_id}  [{s.relation}]"
                         + ("  (cycle)" if cycle else "") + note(s.node_id))
            if not cycle:
                visit(s.node_id, prefix + ("    " if last else "│   "), path | {s.node_id}, level + 1)

    visit(root_id, "", frozenset({root_id}), 0)
    if len(lines) == 1:
        lines.append("(no lineage edges)")
    return "\n".join(lines)
