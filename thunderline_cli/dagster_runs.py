"""How the CLI runs Dagster jobs: named jobs, tagged runs, and backfills the UI lists.

Why: ``dg.materialize`` shows in the UI as ``__ephemeral_asset_job__`` and "Manually
launched", and a loop of single runs is not a backfill. Here every run is a run of a named
job of the code location, carries the run tags of :mod:`thunderline.run_tags` (tenant,
source, router version, code version), and a set of partitions run together is recorded as
an asset backfill (Backfills tab, with its runs via the ``dagster/backfill`` tag).

The runs execute in this process (``execute_in_process``), like ``thunderline ingest``: no
daemon is needed and the terminal gets the result at once. The backfill record is written
when its runs have finished, with their outcome, so a daemon running beside the CLI never
picks it up and launches the same partitions a second time.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import dagster as dg

from thunderline_cli.dagster_instance import QUIET_CONSOLE, VERBOSE_CONSOLE

BACKFILL_TAG = "dagster/backfill"  # how Dagster ties runs to their backfill


@dataclass
class Runs:
    """Results of the runs of one step, and the backfill they form (if any)."""

    results: list[Any] = field(default_factory=list)
    backfill_id: str | None = None

    @property
    def ok(self) -> bool:
        return all(r.success for r in self.results)

    def materializations(self, asset: str) -> list[dg.AssetMaterialization]:
        return [ev.materialization for r in self.results for ev in r.get_asset_materialization_events()
                if ev.materialization.asset_key.to_user_string() == asset]


def _run_config(config: Mapping[str, Any] | None, verbose: bool) -> dict:
    return {**(config or {}), **(VERBOSE_CONSOLE if verbose else QUIET_CONSOLE)}


def run_job(defs: dg.Definitions, instance: dg.DagsterInstance, job_name: str, *, tags: Mapping[str, str],
            partition_key: str | dg.MultiPartitionKey | None = None, config: Mapping[str, Any] | None = None,
            verbose: bool = False) -> Runs:
    """One run of the named job (with ``partition_key`` if partitioned)."""
    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(partition_key=partition_key, instance=instance, raise_on_error=False,
                                    run_config=_run_config(config, verbose), tags=dict(tags))
    return Runs([result])


def backfill(defs: dg.Definitions, instance: dg.DagsterInstance, job_name: str, partition_keys: Sequence,
             *, tags: Mapping[str, str], title: str, config: Mapping[str, Any] | None = None,
             verbose: bool = False) -> Runs:
    """Run ``job_name`` for every partition key as one backfill: one run per partition, all tagged with the
    backfill id, then the backfill record (assets, partitions, outcome) in the instance."""
    from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill

    backfill_id = uuid.uuid4().hex[:8]  # the form Dagster's own backfill ids take
    started = time.time()
    job = defs.resolve_job_def(job_name)
    run_tags = {**tags, BACKFILL_TAG: backfill_id}
    results = [job.execute_in_process(partition_key=k, instance=instance, raise_on_error=False,
                                      run_config=_run_config(config, verbose), tags=run_tags)
               for k in partition_keys]
    keys = sorted(job.asset_layer.selected_asset_keys, key=lambda k: k.to_user_string())
    record = PartitionBackfill.from_asset_partitions(
        backfill_id=backfill_id, asset_graph=defs.resolve_asset_graph(),
        partition_names=[str(k) for k in partition_keys], asset_selection=keys, backfill_timestamp=started,
        tags=dict(tags), dynamic_partitions_store=instance, all_partitions=False, title=title,
        description=f"{len(partition_keys)} partition(s) of {job_name}, run by the thunderline CLI",
        run_config=None)
    status = BulkActionStatus.COMPLETED_SUCCESS if all(r.success for r in results) else \
        BulkActionStatus.COMPLETED_FAILED
    instance.add_backfill(record.with_status(status).with_end_timestamp(time.time()))
    return Runs(results, backfill_id)
