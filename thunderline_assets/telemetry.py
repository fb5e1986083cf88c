"""flow_telemetry: the last day's telemetry events summarised as Dagster metadata (table + plottable numbers).

Why an asset: the Dagster UI plots numeric metadata across materializations, so
one materialization a night (the nightly observability job) turns
``telemetry_events`` into trend lines per event (p95 lag, PSI, router entropy…)
beside the assets they describe, plus a table of the day's distribution.
"""

import dagster as dg

from jobs.metadata import clean
from resources import WarehouseResource
from thunderline.telemetry import EVENTS, Summary, now_us, read_events, summarize
from thunderline_assets.asset_specs import AssetSpecs

ASSETS = AssetSpecs()  # flow_telemetry, made with the other domains' assets (asset_specs.py)

DAY_US = 86_400_000_000


def telemetry_metadata(summaries: list[Summary]) -> dict[str, dg.MetadataValue]:
    """A table of every event's distribution and one ``p95/<event>`` number per event (plotted in the UI)."""
    cols = [dg.TableColumn("event", "string"), dg.TableColumn("unit", "string"), dg.TableColumn("count", "int"),
            *[dg.TableColumn(c, "float") for c in ("mean", "p50", "p95", "p99", "max", "last")]]
    rows = [dg.TableRecord({"event": s.name, "unit": EVENTS[s.name].unit if s.name in EVENTS else "",
                            "count": s.count, "mean": s.mean, "p50": s.p50, "p95": s.p95, "p99": s.p99,
                            "max": s.max, "last": s.last}) for s in summaries]
    out: dict[str, dg.MetadataValue] = {
        "events": dg.MetadataValue.table(rows, schema=dg.TableSchema(columns=cols)),
        "event_count": dg.MetadataValue.int(sum(s.count for s in summaries)),
    }
    out.update({f"p95/{s.name}": dg.MetadataValue.float(s.p95) for s in summaries})
    return out


@ASSETS.asset(
    group_name="observability",
    kinds={"sql"},
    owners=["team:data-platform"],
    description="Telemetry of the last 24 h (lag, throughput, router, experts, drift, risk, ladder) as a table "
                "and per-event p95 numbers the UI plots across nights.",
)
def flow_telemetry(warehouse: WarehouseResource) -> dg.MaterializeResult:
    until = now_us()
    with warehouse.session() as s:
        summaries = summarize(read_events(s, since_us=until - DAY_US, until_us=until))
    return dg.MaterializeResult(metadata=clean({**telemetry_metadata(summaries), "window_hours": 24}))

