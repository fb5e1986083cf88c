"""edgar_poll_sensor: poll the watched companies' EDGAR filings into the landing area.

Thin: the work is :class:`thunderline.sources.edgar_poller.EdgarPoller` (durable download queue,
shared SEC rate budget, telemetry). What it lands is picked up by ``edgar_fill_sensor`` like any
other file. Stopped by default — it talks to SEC — and it refuses to poll without
``THUNDERLINE_SEC_USER_AGENT`` (a contact) and ``THUNDERLINE_SEC_WATCH`` (CIKs).
"""

from __future__ import annotations

import dagster as dg

from sensors._common import dump_cursor, load_cursor
from thunderline.config import Settings

MIN_INTERVAL_S = 300  # SEC publishes filings continuously; a company's JSON changes a few times a day


def evaluate_edgar_poll(context: dg.SensorEvaluationContext, settings: Settings | None = None) -> dg.SkipReason:
    from thunderline.config import load_settings
    from thunderline.sources.edgar_poller import PollRequest, poller_from_settings, record_poll
    from thunderline.sources.sec_http import SecConfigError, SecFetchError

    settings = settings or load_settings()
    if not settings.sec_watch:
        return dg.SkipReason("THUNDERLINE_SEC_WATCH names no CIK to poll")
    try:
        poller = poller_from_settings(settings)
    except SecConfigError as exc:
        return dg.SkipReason(str(exc))
    cursor = load_cursor(context)
    lines = []
    try:
        for cik in settings.sec_watch:
            try:
                report = poller.poll(PollRequest(cik, settings.sec_forms, settings.sec_since))
            except SecFetchError as exc:
                context.log.warning(f"EDGAR poll of CIK {cik} failed: {exc}")
                lines.append(f"CIK {cik}: {exc}")
                continue
            record_poll(poller, report)
            cursor[str(cik)] = {"landed": report.landed, "queued": report.queue_depth, "failed": len(report.failed)}
            lines += report.lines()
    finally:
        poller.close()
    context.update_cursor(dump_cursor(cursor))
    return dg.SkipReason("; ".join(lines)[:2000] or "nothing to poll")


def build_edgar_poll_sensor(interval_s: int, settings: Settings | None = None) -> dg.SensorDefinition:
    """The poll sensor for ``settings`` (the Definitions' own; None: read from the environment at each tick)."""

    @dg.sensor(name="edgar_poll_sensor", minimum_interval_seconds=max(interval_s, MIN_INTERVAL_S),
               default_status=dg.DefaultSensorStatus.STOPPED,
               description="Polls THUNDERLINE_SEC_WATCH companies' EDGAR submissions and downloads new filings "
                           "into the landing area (≤ THUNDERLINE_SEC_MAX_RPS requests/s, durable queue); "
                           "edgar_fill_sensor ingests them.")
    def edgar_poll_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        return evaluate_edgar_poll(context, settings)

    return edgar_poll_sensor
