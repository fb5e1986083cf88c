"""How the CLI runs Dagster jobs: named jobs, tagged runs, backfills the UI lists, one progress line.

Why: ``dg.materialize`` shows in the UI as ``__ephemeral_asset_job__`` and "Manually
launched", and a loop of single runs is not a backfill. Here every run is a run of a named
job of the code location, carries the run tags of :mod:`thunderline.run_tags` (tenant,
source, router version, code version), and a set of partitions run together is recorded as
an asset backfill (Backfills tab, with its runs via the ``dagster/backfill`` tag).

Embedded (the default), the runs execute in this process (``execute_in_process``), like
``thunderline ingest``: no daemon is needed and the terminal gets the result at once. The
backfill record is written when its runs have finished, with their outcome, so a daemon
running beside the CLI never picks it up and launches the same partitions a second time.
Under the scale-out profile (``thunderline deploy celery``) :func:`submit_backfill` hands the
partitions to Dagster's backfill machinery instead and :func:`wait_backfill` follows it: the
daemon queues the runs, the Celery workers run their steps.

:class:`RunSession` is what a command holds while it submits runs: the definitions, the
instance, the tags, and a progress bar on its own line (stderr). Dagster's own per-run log
lines reach the terminal only with ``verbose`` (``-v``); by default only errors do, and every
event stays in the instance for the UI.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import dagster as dg

from thunderline_cli.dagster_instance import QUIET_CONSOLE, VERBOSE_CONSOLE, instance_for

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

    def output_metadata(self, node: str) -> list[dict[str, Any]]:
        """The metadata of ``node``'s outputs (op jobs, e.g. the gate retraining), one dict per run, values unwrapped."""
        return [{k: getattr(v, "value", v) for k, v in ev.event_specific_data.metadata.items()}
                for r in self.results for ev in r.all_events
                if ev.event_type_value == "STEP_OUTPUT" and ev.step_key == node]

    def failure(self) -> str | None:
        """The first failed step of these runs and its error, in one line."""
        return next((failure_reason(r) or "run failed" for r in self.results if not r.success), None)


def failure_reason(result) -> str | None:
    """The first failed step of a run and its error, in one line (the wrappers Dagster adds unwrapped)."""
    for ev in result.all_events:
        if ev.event_type_value == "STEP_FAILURE":
            err = ev.step_failure_data.error
            while err is not None and err.cause is not None and err.cls_name in _WRAPPERS:
                err = err.cause
            msg = (err.message or "").strip().splitlines()[0] if err else ""
            return f"{ev.step_key}: {msg}"
    return None


_WRAPPERS = {"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"}


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
             verbose: bool = False, after_each: Callable[[Any, Any], None] | None = None) -> Runs:
    """Run ``job_name`` for every partition key as one backfill: one run per partition, all tagged with the
    backfill id, then the backfill record (assets, partitions, outcome) in the instance. ``after_each(key,
    result)`` is called after every run (progress)."""
    from dagster._core.execution.backfill import BulkActionStatus

    backfill_id = uuid.uuid4().hex[:8]  # the form Dagster's own backfill ids take
    started = time.time()
    job = defs.resolve_job_def(job_name)
    run_tags = {**tags, BACKFILL_TAG: backfill_id}
    results = []
    for k in partition_keys:
        results.append(job.execute_in_process(partition_key=k, instance=instance, raise_on_error=False,
                                              run_config=_run_config(config, verbose), tags=run_tags))
        if after_each:
            after_each(k, results[-1])
    record = _backfill_record(defs, instance, job_name, partition_keys, backfill_id, started, tags, title, None)
    status = BulkActionStatus.COMPLETED_SUCCESS if all(r.success for r in results) else \
        BulkActionStatus.COMPLETED_FAILED
    instance.add_backfill(record.with_status(status).with_end_timestamp(time.time()))
    return Runs(results, backfill_id)


class RunSession:
    """One command's Dagster runs: the code location's definitions, the instance at DAGSTER_HOME, the run tags
    (router version read afresh for every run: the loop itself publishes router versions) and a progress bar."""

    def __init__(self, settings, *, source: str, instance: dg.DagsterInstance | None = None,
                 resources: dict | None = None, verbose: bool = False, progress: bool = False,
                 desc: str = "runs") -> None:
        from tqdm import tqdm

        from resources import build_resources
        from thunderline_assets.definitions import build_definitions

        self.settings, self.source, self.verbose = settings, source, verbose
        self.instance = instance or instance_for(settings)
        self.defs = build_definitions(settings, resources=resources or build_resources(settings))
        self.bar = tqdm(total=0, desc=desc, unit="run", disable=not progress, leave=False)

    def close(self) -> None:
        self.bar.close()

    def write(self, line: str) -> None:
        """A line of output above the progress bar (the bar stays on its own line)."""
        self.bar.write(line)

    def tags(self) -> dict[str, str]:
        from thunderline.run_tags import tags_for_settings

        return tags_for_settings(self.settings, self.source)

    def expect(self, n: int) -> None:
        """``n`` more runs are coming (the bar's total grows as the loop learns what it will run)."""
        self.bar.total += n
        self.bar.refresh()

    def _tick(self, job_name: str, key: Any = None) -> None:
        self.bar.set_postfix_str(f"{job_name} {key}" if key is not None else job_name)
        self.bar.update(1)

    def run(self, job_name: str, *, partition_key: Any = None, config: Mapping[str, Any] | None = None) -> Runs:
        runs = run_job(self.defs, self.instance, job_name, tags=self.tags(), partition_key=partition_key,
                       config=config, verbose=self.verbose)
        self._tick(job_name, partition_key)
        return runs

    def backfill(self, job_name: str, partition_keys: Sequence, *, title: str,
                 config: Mapping[str, Any] | None = None) -> Runs:
        if getattr(self.settings, "celery", None) is not None:  # scale-out profile: the daemon, queue and workers
            return self._queued_backfill(job_name, list(partition_keys), title=title, config=config)
        return backfill(self.defs, self.instance, job_name, list(partition_keys), tags=self.tags(), title=title,
                        config=config, verbose=self.verbose, after_each=lambda k, _: self._tick(job_name, k))

    def _queued_backfill(self, job_name: str, partition_keys: list, *, title: str,
                         config: Mapping[str, Any] | None) -> Runs:
        backfill_id = submit_backfill(self.defs, self.instance, job_name, partition_keys, tags=self.tags(),
                                      title=title, config=config)
        seen = {"n": 0}

        def progress(finished: int, _runs) -> None:
            for _ in range(finished - seen["n"]):
                self._tick(job_name, f"backfill {backfill_id}")
            seen["n"] = max(seen["n"], finished)

        return wait_backfill(self.instance, backfill_id, progress=progress)


def _backfill_record(defs: dg.Definitions, instance: dg.DagsterInstance, job_name: str, partition_keys: Sequence,
                     backfill_id: str, started: float, tags: Mapping[str, str], title: str,
                     run_config: Mapping[str, Any] | None):
    """An asset backfill of ``job_name``'s assets over ``partition_keys`` (status REQUESTED)."""
    from dagster._core.execution.backfill import PartitionBackfill

    job = defs.resolve_job_def(job_name)
    keys = sorted(job.asset_layer.selected_asset_keys, key=lambda k: k.to_user_string())
    return PartitionBackfill.from_asset_partitions(
        backfill_id=backfill_id, asset_graph=defs.resolve_asset_graph(),
        partition_names=[str(k) for k in partition_keys], asset_selection=keys, backfill_timestamp=started,
        tags=dict(tags), dynamic_partitions_store=instance, all_partitions=False, title=title,
        description=f"{len(partition_keys)} partition(s) of {job_name}, run by the thunderline CLI",
        run_config=dict(run_config) if run_config is not None else None)


@dataclass
class QueuedRun:
    """A finished run launched by the daemon, read back from the instance: the part of
    ``ExecuteInProcessResult`` the CLI reads (success, events, materializations)."""

    run: dg.DagsterRun
    all_events: list = field(default_factory=list)

    @property
    def success(self) -> bool:
        return self.run.status == dg.DagsterRunStatus.SUCCESS

    def get_asset_materialization_events(self) -> list:
        return [ev for ev in self.all_events if ev.event_type_value == "ASSET_MATERIALIZATION"]


def submit_backfill(defs: dg.Definitions, instance: dg.DagsterInstance, job_name: str, partition_keys: Sequence,
                    *, tags: Mapping[str, str], title: str, config: Mapping[str, Any] | None = None) -> str:
    """Hand ``partition_keys`` of ``job_name`` to Dagster's backfill machinery (scale-out profile): the daemon
    turns the backfill into queued runs, the queue starts them, their steps run on the Celery workers. The
    Backfills tab shows it from this moment. Returns the backfill id."""
    backfill_id = uuid.uuid4().hex[:8]
    instance.add_backfill(_backfill_record(defs, instance, job_name, partition_keys, backfill_id, time.time(), tags,
                                           title, _run_config(config, False)))
    return backfill_id


def wait_backfill(instance: dg.DagsterInstance, backfill_id: str, *, progress=None, poll_s: float = 1.0,
                  timeout_s: float | None = None) -> Runs:
    """Wait until the daemon has finished backfill ``backfill_id``; ``progress(done, runs)`` after each poll.
    Raises TimeoutError after ``timeout_s`` (None: wait as long as it takes — Ctrl-C leaves it running)."""
    from dagster._core.execution.backfill import BULK_ACTION_TERMINAL_STATUSES

    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        record = instance.get_backfill(backfill_id)
        runs = instance.get_runs(dg.RunsFilter(tags={BACKFILL_TAG: backfill_id}))
        if progress is not None:
            progress(sum(r.is_finished for r in runs), runs)
        if record is not None and record.status in BULK_ACTION_TERMINAL_STATUSES and all(r.is_finished for r in runs):
            break
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"backfill {backfill_id} not finished after {timeout_s:.0f}s "
                               f"(status {record.status.value if record else 'missing'})")
        time.sleep(poll_s)
    results = [QueuedRun(r, [e.dagster_event for e in instance.all_logs(r.run_id) if e.is_dagster_event])
               for r in sorted(runs, key=lambda r: r.tags.get("dagster/partition", ""))]
    return Runs(results, backfill_id)
