"""``thunderline ingest``: index the landing area, then materialize every partition it touches.

Runs through a real Dagster instance at ``DAGSTER_HOME`` (runs and
materializations show in the UI afterwards), one run per partition, EDGAR
first so that market decisions can join the filings they are allowed to see.
Shows a progress bar and ends with a summary: ticks read, rejected (by
reason), windows and traces written, elapsed time.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from tqdm import tqdm

from jobs.keys import EDGAR_JOB, MARKET_JOB, Partitions, build_partitions
from thunderline.config import ConfigError, Settings, load_settings
from thunderline.faults import fault_point
from thunderline.flow.compaction import CompactionSummary, compact_landed
from thunderline.flow.edgar_partition import landing_classifier, submissions_first
from thunderline.flow.ingest_lock import IngestBusy, landing_lease
from thunderline.flow.landing import candidate_files, index_files
from thunderline.flow.ledger import incomplete_partitions
from thunderline.flow.tick_files import classify_tick_file
from thunderline.store.content import tenant_store
from thunderline.store.errors import is_storage_full, storage_failure
from thunderline.stores import open_stores
from thunderline_cli.dagster_instance import QUIET_CONSOLE, VERBOSE_CONSOLE, instance_for
from thunderline_cli.dagster_runs import failure_reason
from thunderline_cli.ingest_pool import RunOutcome, run_parallel, symbol_groups


@dataclass
class IngestReport:
    tick_files_new: int = 0
    edgar_files_new: int = 0
    files_rejected: list[tuple[str, str]] = field(default_factory=list)
    partitions: list[str] = field(default_factory=list)
    totals: Counter = field(default_factory=Counter)
    reject_reasons: Counter = field(default_factory=Counter)
    runs_failed: list[str] = field(default_factory=list)
    failure_reasons: dict[str, str] = field(default_factory=dict)
    error: str | None = None  # why the ingest stopped early (one line), e.g. storage full
    compaction: list[CompactionSummary] = field(default_factory=list)  # one per tenant
    elapsed_s: float = 0.0

    def failure_line(self) -> str | None:
        """One line saying why the ingest did not fully succeed, or None when it did."""
        bits = []
        if self.files_rejected:
            path, why = self.files_rejected[0]
            more = f" (and {len(self.files_rejected) - 1} more)" if len(self.files_rejected) > 1 else ""
            bits.append(f"{len(self.files_rejected)} file(s) rejected whole, first {path}: {why}{more}")
        if self.runs_failed:
            bits.append(f"{len(self.runs_failed)} partition run(s) failed, first {self.runs_failed[0]}")
        return ("ingest failed: " + "; ".join(bits)) if bits else None

    def lines(self) -> list[str]:
        t = self.totals
        out = [
            f"files: {self.tick_files_new} new tick files, {self.edgar_files_new} new EDGAR files, "
            f"{len(self.files_rejected)} rejected whole",
            f"ticks: {t['rows_read']:,} read, {t['rows_kept']:,} kept, {t['rows_rejected']:,} quarantined, "
            f"{t['rows_duplicate']:,} already landed (duplicates)",
            f"filings: {t['docs']:,} documents, {t['docs_rejected']:,} quarantined",
            f"windows: {t['market_windows']:,} market, {t['edgar_windows']:,} edgar; "
            f"decision traces: {t['traces']:,}",
            f"partitions materialized: {len(self.partitions)}; failed runs: {len(self.runs_failed)}",
            f"elapsed: {self.elapsed_s:.1f}s",
        ]
        compacted = CompactionSummary(*(sum(getattr(c, k) for c in self.compaction)
                                        for k in ("groups", "files", "rows", "removed_copies")))
        if compacted.line():
            out.insert(1, compacted.line())
        for reason, n in self.reject_reasons.most_common(8):
            out.append(f"  rejected {n:,}: {reason}")
        for path, why in self.files_rejected[:8]:
            out.append(f"  rejected whole {path}: {why}")
        for key in self.runs_failed[:8]:
            why = self.failure_reasons.get(key)
            out.append(f"  FAILED run for {key}" + (f": {why}" if why else ""))
        if self.error:
            out.insert(0, f"error: {self.error}")
        return out


EXIT_BUSY = 75  # EX_TEMPFAIL: another ingest holds the landing index; try again later


def stray_root_files(landing: Path) -> list[str]:
    """Files directly in the landing directory: ingest reads ``ticks/`` and ``edgar/`` only, so these are skipped."""
    return sorted(p.name for p in landing.iterdir() if p.is_file() and not p.name.startswith("."))


def tags_for(resources: dict, tenant: str, source: str = "cli:ingest") -> dict[str, str]:
    """Run tags (tenant, source, active router version, code version) for a run of ``tenant``."""
    from thunderline.run_tags import active_router_version, run_tags

    router = None
    wh = resources.get("warehouse") if resources else None
    if wh is not None:
        try:
            with wh.get().session(tenant) as s:
                router = active_router_version(s)
        except Exception:  # noqa: BLE001 - a tag is informative; the run itself reports a broken warehouse
            router = None
    return run_tags(tenant, source, router)


def check_partitions_start(parts: Partitions, partitions: list[str]) -> None:
    """One error line when landing data is outside the monthly partitions ``parts``.

    The monthly partitions span the months with data (:func:`thunderline.flow.data_months.partitions_layout`),
    which the landing index has just recorded, so ``parts`` are built after indexing; what can still be
    outside them is data before a pinned THUNDERLINE_FIRST_MONTH or after a pinned THUNDERLINE_LAST_MONTH.
    """
    too_early = sorted({str(p)[:7] for p in partitions if str(p)[:7] < parts.start[:7]})
    if too_early:
        raise ConfigError(f"THUNDERLINE_FIRST_MONTH: landing data for {', '.join(too_early)} is before the first "
                          f"monthly partition {parts.start[:7]}; set THUNDERLINE_FIRST_MONTH={too_early[0]} "
                          "(or unset it) and run again")
    new_gap = sorted({str(p)[:7] for p in partitions if f"{str(p)[:7]}-01" in parts.gaps})
    if new_gap:
        raise ConfigError(f"landing data for {', '.join(new_gap)}: a month without data when the monthly "
                          "partitions were read (no partition for it); run the command again")
    too_late = sorted({str(p)[:7] for p in partitions if str(p)[:7] > parts.last[:7]})
    if too_late:
        raise ConfigError(f"THUNDERLINE_LAST_MONTH: landing data for {', '.join(too_late)} is after the last "
                          f"monthly partition {parts.last[:7]}; set THUNDERLINE_LAST_MONTH={too_late[-1]} "
                          "(or unset it) and run again")


def run_ingest(settings: Settings | None = None, landing: Path | None = None, *, show_progress: bool = True,
               instance: dg.DagsterInstance | None = None, resources: dict | None = None,
               wait_s: float = 0.0, expectations: bool = True, verbose: bool = False,
               compact: bool = True, workers: int = 1) -> IngestReport:
    """Index the landing area and materialize every partition whose steps are not all current.

    Holds the landing-index lease for its whole duration (a concurrent ingest waits up to
    ``wait_s`` seconds, then raises :class:`IngestBusy`). Storage failures (a full disk)
    stop the ingest with ``report.error`` set; what committed stays, the rest is redone
    by the next run. ``expectations=False`` skips the Great Expectations suite on ticks (the
    numpy rules that decide what is kept and quarantined still run). ``verbose`` shows Dagster's log lines of
    every run on the terminal (by default only errors: the progress bar keeps its line; the UI has every event).
    ``compact=False`` ingests small landed files one by one instead of compacting them first
    (:mod:`thunderline.flow.compaction`). ``workers`` > 1 runs the market partitions of different symbols
    on that many forked processes (:mod:`thunderline_cli.ingest_pool`); the embedded profile only.
    """
    settings = settings or load_settings()
    landing = Path(landing) if landing else settings.landing_dir
    if not landing.is_dir():
        raise ConfigError(f"THUNDERLINE_LANDING_DIR={landing}: not a directory")
    t0 = time.perf_counter()
    report = IngestReport()
    with landing_lease(settings.warehouse_url, wait_s=wait_s):
        fault_point("ingest.locked")
        try:
            console = VERBOSE_CONSOLE if verbose else QUIET_CONSOLE
            run_config = console if expectations else \
                console | {"ops": {"raw_ticks": {"config": {"run_expectations": False}}}}
            _ingest_locked(settings, landing, report, show_progress, instance, resources, run_config, compact,
                           workers)
        except Exception as exc:  # noqa: BLE001 - storage failures become report.error, the rest propagate
            report.error = storage_failure(exc)
            if report.error is None:
                raise
    report.elapsed_s = time.perf_counter() - t0
    return report


def _ingest_locked(settings: Settings, landing: Path, report: IngestReport, show_progress: bool,
                   instance: dg.DagsterInstance | None, resources: dict | None, run_config: dict,
                   compact: bool = True, workers: int = 1) -> None:
    # the definitions' monthly partitions span the months with data: they are built after this pass has
    # indexed the landing files (build_partitions), once per tenant
    from resources import build_resources

    instance = instance or instance_for(settings)
    # every tenant with files in the landing area, each indexed and materialized under its own id
    from thunderline.ingress.landing import landing_tenants

    tenants = sorted({settings.tenant_id, *landing_tenants(landing)})
    plans, defs_by_tenant = [], {}
    for tenant in tenants:
        ts = settings.model_copy(update={"tenant_id": tenant})
        store = tenant_store(settings.landed_dir, tenant)
        with open_stores(ts, init_schema=True) as stores:
            with stores.session() as s:
                ticks = index_files(s, "ticks", candidate_files(landing / "ticks"), classify_tick_file,
                                    default_tenant=settings.tenant_id, store=store)
                edgar = index_files(s, "edgar", submissions_first(candidate_files(landing / "edgar")),
                                    landing_classifier(s), default_tenant=settings.tenant_id, store=store)
            fault_point("landing.indexed")
            if compact:  # many small landed files → one per symbol-day, before anything is planned
                report.compaction.append(compact_landed(stores.session, store))
            # what is left to do comes from the step ledger, not from this pass: a partition a crash
            # left half-built is planned again even though its files were indexed by an earlier run
            with stores.session() as s:
                tick_pending = incomplete_partitions(s, "ticks")
                edgar_pending = incomplete_partitions(s, "edgar")
        report.tick_files_new += sum(f.is_new for f in ticks)
        report.edgar_files_new += sum(f.is_new for f in edgar)
        report.files_rejected += [(f.path, f.detail or "") for f in ticks + edgar if f.status == "rejected" and f.is_new]
        res = resources if (resources is not None and tenant == settings.tenant_id) else build_resources(ts)
        edgar_months = _plannable(report, set(edgar_pending))
        tick_parts = _plannable(report, set(tick_pending))
        symbols = sorted({p.split("|")[1] for p in tick_parts})
        known = set(instance.get_dynamic_partitions("symbols"))
        new_symbols = [sym for sym in symbols if sym not in known]
        if new_symbols:
            instance.add_dynamic_partitions("symbols", new_symbols)
        if edgar_months or tick_parts:  # the definitions are built once per tenant, not once per partition
            from thunderline_assets.definitions import build_definitions

            parts = build_partitions(ts)  # after indexing: the months of the files just indexed are partitions
            check_partitions_start(parts, [*edgar_months, *tick_parts])
            defs = build_definitions(ts, resources=res, partitions=parts)
            defs_by_tenant[tenant] = defs
            jobs = {"edgar": defs.resolve_job_def(EDGAR_JOB), "market": defs.resolve_job_def(MARKET_JOB)}
        plans += [(tenant, res, jobs["edgar"], f"{m}-01", m) for m in edgar_months]
        plans += [(tenant, res, jobs["market"],
                   dg.MultiPartitionKey({"month": f"{p[:7]}-01", "symbol": p.split("|")[1]}), p) for p in tick_parts]

    if settings.celery is not None:  # scale-out profile: Dagster's backfills, the run queue, the Celery workers
        _ingest_queued(settings, plans, defs_by_tenant, instance, report, show_progress, run_config)
        return
    _run_plans(settings, plans, instance, run_config, report, show_progress, workers)


def _run_plans(settings: Settings, plans: list, instance: dg.DagsterInstance, run_config: dict,
               report: IngestReport, show_progress: bool, workers: int) -> None:
    """Materialize every plan in process (``workers`` > 1: on forked workers), stopping at a full disk."""
    bar = tqdm(total=len(plans), desc="ingest", unit="partition", disable=not show_progress)

    def run_one(i: int, plan: tuple) -> RunOutcome:
        tenant, res, job, key, _label = plan
        result = job.execute_in_process(partition_key=key, instance=instance, raise_on_error=False, resources=res,
                                        run_config=run_config if job.name == MARKET_JOB else
                                        {"loggers": run_config["loggers"]},
                                        tags=tags_for(res, tenant))
        return _outcome(i, result)

    try:
        for out in _outcomes(plans, run_one, workers):
            tenant, label = plans[out.index][0], plans[out.index][4]
            label = label if tenant == settings.tenant_id else f"{tenant}:{label}"
            report.partitions.append(label)
            _merge(report, out)
            bar.set_postfix_str(label)
            bar.update(1)
            if not out.success:
                report.runs_failed.append(label)
                if out.failure_reason:
                    report.failure_reasons[label] = out.failure_reason
                if is_storage_full(out.failure_reason or ""):
                    report.error = f"storage full while materializing {label} ({out.failure_reason}); " \
                                   "free space and re-run: committed steps are kept, the rest is redone"
                    break
            fault_point("ingest.partition_done")
    finally:
        bar.close()


def _outcomes(plans: list, run_one, workers: int):
    """Each plan's outcome: in plan order on this process, or (``workers`` > 1) EDGAR runs here first and
    each symbol's market runs on one of ``workers`` forked processes (:mod:`thunderline_cli.ingest_pool`)."""
    if workers <= 1:
        for i, plan in enumerate(plans):
            yield run_one(i, plan)
        return
    first, groups = symbol_groups(plans, MARKET_JOB)
    for i in first:
        yield run_one(i, plans[i])
    yield from run_parallel(plans, groups, workers, run_one)


def _ingest_queued(settings: Settings, plans: list, defs_by_tenant: dict, instance: dg.DagsterInstance,
                   report: IngestReport, show_progress: bool, run_config: dict) -> None:
    """The partitions as backfills (EDGAR first, then market, per tenant), waited for with a progress bar.

    The daemon launches the runs through the queue and the Celery workers run their steps; this process only
    submits and follows (thunderline_cli.dagster_runs). Another tenant's runs override the warehouse's tenant."""
    from thunderline_cli.dagster_runs import submit_backfill, wait_backfill

    groups: dict[tuple[str, str], list] = {}
    for tenant, res, job, key, label in plans:
        groups.setdefault((tenant, job.name), []).append((res, key, label))
    bar = tqdm(total=len(plans), desc="ingest (queued)", unit="partition", disable=not show_progress)
    done_before = 0
    try:
        for (tenant, job_name), items in groups.items():
            res = items[0][0]
            config = dict(run_config if job_name == MARKET_JOB else {"loggers": run_config["loggers"]})
            if tenant != settings.tenant_id:
                # the URL by reference: every host has THUNDERLINE_WAREHOUSE_URL, and a password stays out of the run
                config["resources"] = {"warehouse": {"config": {"url": {"env": "THUNDERLINE_WAREHOUSE_URL"},
                                                                "tenant_id": tenant}}}
            backfill_id = submit_backfill(defs_by_tenant[tenant], instance, job_name, [k for _, k, _ in items],
                                          tags=tags_for(res, tenant), title=f"ingest {tenant} {job_name}",
                                          config=config)
            bar.set_postfix_str(f"backfill {backfill_id}")

            def progress(finished: int, runs, base=done_before) -> None:
                bar.n = base + finished
                bar.refresh()

            runs = wait_backfill(instance, backfill_id, progress=progress)
            done_before += len(items)
            prefix = "" if tenant == settings.tenant_id else f"{tenant}:"
            for result in runs.results:
                label = prefix + _label_of(result.run.tags.get("dagster/partition", ""))
                report.partitions.append(label)
                _accumulate(report, result)
                if not result.success:
                    report.runs_failed.append(label)
                    why = failure_reason(result)
                    if why:
                        report.failure_reasons[label] = why
    finally:
        bar.close()


def _label_of(partition: str) -> str:
    """``YYYY-MM`` or ``YYYY-MM|SYM`` from a run's partition tag (``YYYY-MM-01`` / ``YYYY-MM-01|SYM``)."""
    month, _, symbol = partition.partition("|")
    return month[:7] + (f"|{symbol}" if symbol else "")


def _plannable(report: IngestReport, labels: set[str]) -> list[str]:
    """The labels that are partitions; any other (an index entry from before the readers screened
    symbols and times) is reported, never run — a run for it would fail, and every run after it."""
    from thunderline.timebounds import partition_problem

    out = []
    for label in sorted(labels):
        problem = partition_problem(label)
        if problem:
            report.files_rejected.append((label, problem))
        else:
            out.append(label)
    return out


_TOTALS = {
    "raw_ticks": {"rows_read": "rows_read", "rows_kept": "rows_kept", "rows_rejected": "rows_rejected",
                  "rows_duplicate": "rows_duplicate"},
    "market_feature_windows": {"windows": "market_windows"},
    "raw_filings": {"documents": "docs", "rejected": "docs_rejected"},
    "edgar_feature_windows": {"windows": "edgar_windows"},
    "decision_traces": {"traces": "traces"},
}


def _outcome(index: int, result) -> RunOutcome:
    """What the report keeps of one run, as plain data (it may come back from a worker process)."""
    out = RunOutcome(index, result.success, None if result.success else failure_reason(result))
    for ev in result.get_asset_materialization_events():
        mat = ev.materialization
        name = mat.asset_key.path[-1]
        for meta_key, total_key in _TOTALS.get(name, {}).items():
            if meta_key in mat.metadata:
                out.totals[total_key] += int(mat.metadata[meta_key].value)
        if "files_rejected" in mat.metadata:
            from jobs.metadata import table_rows

            for bad in table_rows(mat.metadata["files_rejected"]):  # a table in the UI
                out.files_rejected.append((bad["path"], bad["reason"]))
        if "reject_reasons" in mat.metadata:
            from jobs.metadata import table_rows

            for row in table_rows(mat.metadata["reject_reasons"]):
                out.reject_reasons[row.get("reason", row.get("key"))] += int(row.get("rows", row.get("value", 0)))
    return out


def _merge(report: IngestReport, out: RunOutcome) -> None:
    report.totals.update(out.totals)
    report.reject_reasons.update(out.reject_reasons)
    for item in out.files_rejected:
        if item not in report.files_rejected:
            report.files_rejected.append(item)


def _accumulate(report: IngestReport, result) -> None:
    _merge(report, _outcome(0, result))


def cmd_ingest(args) -> int:
    try:
        report = run_ingest(landing=args.landing, show_progress=not args.quiet, wait_s=args.wait,
                            expectations=not args.no_expectations, verbose=args.verbose,
                            compact=not args.no_compact, workers=args.workers)
    except IngestBusy as exc:
        print(f"thunderline ingest: {exc}", file=sys.stderr)
        return EXIT_BUSY
    where = Path(args.landing) if args.landing else load_settings(create_dirs=False).landing_dir
    stray = stray_root_files(where) if where.is_dir() else []
    if stray:
        from thunderline_cli.errors import CliError

        msg = (f"{len(stray)} file(s) directly in {where} are not read ({', '.join(stray[:3])}"
               f"{', ...' if len(stray) > 3 else ''}): put tick files in {where}/ticks/ and filings in {where}/edgar/")
        if not (report.tick_files_new or report.edgar_files_new or report.partitions):
            raise CliError(f"nothing to ingest: {msg}")
        print(f"thunderline: warning: {msg}", file=sys.stderr)
    for line in report.lines():
        print(line)
    failure = report.failure_line()
    if failure:
        print(failure, file=sys.stderr)
    return 1 if (failure or report.error) else 0


def register(sub) -> None:
    p = sub.add_parser("ingest", help="index the landing area and materialize every partition it touches")
    p.add_argument("--landing", type=Path, default=None, help="landing directory (default THUNDERLINE_LANDING_DIR)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="show Dagster's log lines of every run (default: errors only; the UI keeps every event)")
    p.add_argument("--no-compact", action="store_true",
                   help="ingest many small landed tick files one by one instead of compacting them per symbol-day first")
    p.add_argument("--no-expectations", action="store_true",
                   help="skip the Great Expectations suite on ticks (the rules that quarantine rows still run)")
    p.add_argument("--workers", type=int, default=int(os.environ.get("THUNDERLINE_INGEST_WORKERS", "1")),
                   metavar="N", help="run the market partitions of different symbols on N worker processes "
                   "(default THUNDERLINE_INGEST_WORKERS or 1; EDGAR runs stay serial, first)")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="when another ingest is running, wait up to this long for it (default: fail at once, "
                        f"exit status {EXIT_BUSY})")
    p.set_defaults(func=cmd_ingest)
