"""The lineage tree of a model version laid out for an inline SVG: inputs on the left, the version on the right.

:func:`charter.services.lineage.upstream` gives the tree; this only places it. Each node sits in
the column of its distance from the root; leaves take rows in order and a parent sits level with
the middle of its inputs. The template draws boxes, labels and the curved edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from charter.services.lineage import LineageNode

BOX_WIDTH = 210
BOX_HEIGHT = 40
COLUMN_GAP = 90
ROW_GAP = 18
PAD = 12
MAX_NODES = 80
LABEL = 30


@dataclass(frozen=True)
class PlacedNode:
    x: float
    y: float
    kind: str
    ref: str
    label: str
    note: str
    href: str


@dataclass(frozen=True)
class PlacedEdge:
    path: str
    label: str
    label_x: float
    label_y: float


@dataclass
class Layout:
    width: float = 0.0
    height: float = 0.0
    nodes: list[PlacedNode] = field(default_factory=list)
    edges: list[PlacedEdge] = field(default_factory=list)
    truncated: bool = False


def layout(root: LineageNode) -> Layout:
    """Place ``root`` and its inputs (at most :data:`MAX_NODES`; ``truncated`` says when more were left out)."""
    budget = [MAX_NODES]
    root = _pruned(root, budget)
    placed = Layout(truncated=budget[0] < 0)
    depth = _depth(root)
    rows = [0]

    def visit(node: LineageNode, level: int) -> float:
        ys = [visit(source, level + 1) for _, source in node.inputs]
        if ys:
            y = (min(ys) + max(ys)) / 2
        else:
            y = PAD + rows[0] * (BOX_HEIGHT + ROW_GAP)
            rows[0] += 1
        x = PAD + (depth - level) * (BOX_WIDTH + COLUMN_GAP)
        start_x = x - COLUMN_GAP
        for (edge, _), source_y in zip(node.inputs, ys, strict=True):
            a, b = source_y + BOX_HEIGHT / 2, y + BOX_HEIGHT / 2
            middle = (start_x + x) / 2
            path = f"M{start_x:.0f},{a:.0f} C{middle:.0f},{a:.0f} {middle:.0f},{b:.0f} {x:.0f},{b:.0f}"
            label = " / ".join(part for part in (edge.role, edge.transform) if part)
            placed.edges.append(PlacedEdge(path, label, middle, (a + b) / 2 - 4))
        placed.nodes.append(_node(node, x, y))
        return y

    visit(root, 0)
    placed.width = 2 * PAD + (depth + 1) * BOX_WIDTH + depth * COLUMN_GAP
    placed.height = 2 * PAD + max(rows[0], 1) * (BOX_HEIGHT + ROW_GAP) - ROW_GAP
    return placed


def _pruned(node: LineageNode, budget: list[int]) -> LineageNode:
    """The tree in depth-first order up to the budget of nodes; ``budget[0] < 0`` afterwards when cut."""
    budget[0] -= 1
    kept = []
    for edge, source in node.inputs:
        if budget[0] <= 0:
            budget[0] = -1
            break
        kept.append((edge, _pruned(source, budget)))
    return LineageNode(node.kind, node.ref, node.aliases, tuple(kept))


def _depth(node: LineageNode) -> int:
    return 1 + max((_depth(source) for _, source in node.inputs), default=-1)


def _node(node: LineageNode, x: float, y: float) -> PlacedNode:
    name, _, version = node.ref.partition("@")
    base = "/models/" if node.kind == "model" else "/datasets/"
    href = base + quote(name, safe="") + (f"?version={quote(version, safe='')}" if version else "")
    label = node.ref if len(node.ref) <= LABEL else node.ref[: LABEL - 1] + "…"
    note = node.kind + (f" · {', '.join(node.aliases)}" if node.aliases else "")
    return PlacedNode(x, y, node.kind, node.ref, label, note, href)
