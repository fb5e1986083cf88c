from __future__ import annotations

from pathlib import Path

import dagster as dg


class LandingResource(dg.ConfigurableResource):
    """The landing directory the sensors watch: ``ticks/`` and ``edgar/`` under ``root``."""

    root: str

    @property
    def ticks(self) -> Path:
        return Path(self.root) / "ticks"

    @property
    def edgar(self) -> Path:
        return Path(self.root) / "edgar"
