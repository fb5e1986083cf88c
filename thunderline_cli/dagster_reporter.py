"""Reports the live path's micro-batches to the Dagster instance, off the latency path.

``thunderline live`` writes windows and traces itself; the UI learns of them through
``report_runless_asset_event`` from a background thread (a slow instance never delays a decision).
"""

from __future__ import annotations

import queue
import sys
import threading

from thunderline.flow.live import MicroBatch
from thunderline.partitioning import split_label

LIVE_ASSETS = ("raw_ticks", "market_feature_windows", "decision_traces")


class DagsterReporter:
    """Reports each micro-batch's materializations to the Dagster instance from a background thread."""

    def __init__(self, instance) -> None:
        self.instance = instance
        self.q: queue.Queue = queue.Queue()
        self.known: set[str] = set(instance.get_dynamic_partitions("symbols"))
        self.reported = 0
        self.thread = threading.Thread(target=self._run, name="dagster-reporter", daemon=True)
        self.thread.start()

    def submit(self, mb: MicroBatch) -> None:
        self.q.put(mb)

    def close(self, timeout: float = 30.0) -> None:
        self.q.put(None)
        self.thread.join(timeout)

    def _run(self) -> None:
        import dagster as dg

        while (mb := self.q.get()) is not None:
            try:
                self._report(mb, dg)
            except Exception as exc:  # noqa: BLE001 - the UI misses one event; the data is in the warehouse
                print(f"thunderline live: reporting {mb.path} to Dagster failed: {exc}", file=sys.stderr)

    def _report(self, mb: MicroBatch, dg) -> None:
        for part in mb.partitions:
            month, symbol = split_label(part)
            if symbol not in self.known:
                self.instance.add_dynamic_partitions("symbols", [symbol])
                self.known.add(symbol)
            key = dg.MultiPartitionKey({"month": f"{month}-01", "symbol": symbol})
            meta = {"reported_by": "thunderline live", "file": dg.MetadataValue.path(mb.path),
                    "ticks": mb.ticks, "windows": mb.windows, "traces": mb.traces,
                    "flow.market.lag_ms": dg.MetadataValue.float(mb.lag_ms)}
            for asset in LIVE_ASSETS:
                if asset == "decision_traces" and not mb.traces:
                    continue
                self.instance.report_runless_asset_event(
                    dg.AssetMaterialization(asset_key=asset, partition=key, metadata=meta))
                self.reported += 1
