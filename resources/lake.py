from __future__ import annotations

import dagster as dg

from thunderline.store.lake import Lake


class LakeResource(dg.ConfigurableResource):
    """The Parquet lake directory for tick batches."""

    root: str

    def get(self) -> Lake:
        return Lake(self.root)
