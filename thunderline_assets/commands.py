"""Commands that drive the Dagster instance (ingest, demo). Registered into the CLI parser."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the Dagster-driven subcommands. Domain modules extend this as they land."""
    from thunderline_assets import demo_command, experts_command, ingest_command

    ingest_command.register(sub)
    demo_command.register(sub)
    experts_command.register(sub)

    from thunderline.lineage.cli import register as register_lineage

    register_lineage(sub)

    from thunderline.ingress.cli import register as register_ingress

    register_ingress(sub)  # serve, keys

    from thunderline_assets.live_command import register as register_live

    register_live(sub)  # live

    from thunderline_assets.learning_command import register as register_learn

    register_learn(sub)  # learn loop | promote [--rollback]
