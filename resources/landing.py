from __future__ import annotations

from pathlib import Path

import dagster as dg

from thunderline.store.content import ContentStore, tenant_store


class LandingResource(dg.ConfigurableResource):
    """The landing directory the sensors watch: ``ticks/`` and ``edgar/`` under ``root``.

    ``landed``: the content store root (``$THUNDERLINE_HOME/landed``). The sensors index new
    files through it, as ``thunderline ingest`` and ``thunderline live`` do, so a partition run
    reads the content-addressed copy whichever of them saw the file first. Empty: no copies
    (the landing path is read; deleting or rewriting it then changes what a re-run reads).
    """

    root: str
    landed: str = ""

    def content_store(self, tenant_id: str) -> ContentStore | None:
        return tenant_store(self.landed, tenant_id) if self.landed else None

    @property
    def ticks(self) -> Path:
        return Path(self.root) / "ticks"

    @property
    def edgar(self) -> Path:
        return Path(self.root) / "edgar"
