"""``thunderline lineage ID [--up|--down] [--depth N]``: print a node's lineage as a tree.

Needs nothing from Dagster. Configuration and warehouse failures propagate to
the CLI's one-line error handling; a node without edges exits 1 with a message.
"""

from __future__ import annotations

import argparse
import sys

from thunderline.lineage.graph import MAX_DEPTH


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lineage", help="print the lineage of a node id (window, trace, batch, filing, expert …)")
    p.add_argument("node_id", help="e.g. a decision trace id, or thunderline.expert.<name>/<version>")
    way = p.add_mutually_exclusive_group()
    way.add_argument("--up", dest="direction", action="store_const", const="up", help="inputs (default)")
    way.add_argument("--down", dest="direction", action="store_const", const="down", help="outputs")
    p.add_argument("--depth", type=_depth, default=5, help=f"edges to follow, 1..{MAX_DEPTH} (default 5)")
    p.set_defaults(direction="up", func=run)


def _depth(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 1 <= n <= MAX_DEPTH:
        raise argparse.ArgumentTypeError(f"must be in 1..{MAX_DEPTH}, got {n}")
    return n


def run(args: argparse.Namespace) -> int:
    from thunderline.config import load_settings
    from thunderline.lineage import describe
    from thunderline.stores import open_stores

    settings = load_settings()
    with open_stores(settings, check=True) as stores, stores.session() as s:
        text = describe(s, args.node_id, args.direction, args.depth)
    if text is None:
        print(f"thunderline: no lineage edges touch {args.node_id!r} for tenant {settings.tenant_id!r}", file=sys.stderr)
        return 1
    print(text)
    return 0
