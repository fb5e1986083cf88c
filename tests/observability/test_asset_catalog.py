"""The code location as a whole: every asset says what it is, and its shape matches a checked-in snapshot.

The snapshot (tests/snapshots/assets.txt) lists each asset key with its group, partitions
definition, deps (with any non-default partition mapping) and checks, sorted, so a rename, a
lost dependency or a changed partitioning shows up as a diff in review. After an intended change:

    THUNDERLINE_UPDATE_SNAPSHOT=1 .venv/bin/pytest tests/observability/test_asset_catalog.py
"""

import datetime as dt
import difflib
import os
from pathlib import Path

import dagster as dg
import pytest

from resources import build_resources
from thunderline.config import load_settings
from thunderline_assets.definitions import build_definitions

SNAPSHOT = Path(__file__).resolve().parents[1] / "snapshots" / "assets.txt"
UPDATE_ENV = "THUNDERLINE_UPDATE_SNAPSHOT"
HEADER = (
    "# Thunderline's asset definitions: key, group, partitions, deps [partition mapping], checks.\n"
    "# Written by tests/observability/test_asset_catalog.py; after an intended change regenerate with\n"
    f"#   {UPDATE_ENV}=1 .venv/bin/pytest tests/observability/test_asset_catalog.py\n"
)


@pytest.fixture(scope="module")
def defs(tmp_path_factory) -> dg.Definitions:
    home = tmp_path_factory.mktemp("home")
    # pinned months: the snapshot's partitions do not depend on the date or on data (the settings' own, not the
    # environment's: the definitions are built for these settings)
    settings = load_settings({"THUNDERLINE_HOME": str(home), "THUNDERLINE_FIRST_MONTH": "2010-01",
                              "THUNDERLINE_LAST_MONTH": "current"})
    return build_definitions(settings, resources=build_resources(settings))


def _next_month_start() -> dt.date:
    today = dt.datetime.now(dt.timezone.utc).date()
    return dt.date(today.year + (today.month == 12), today.month % 12 + 1, 1)


def describe_partitions(p) -> str:
    if p is None:
        return "none"
    if isinstance(p, dg.MultiPartitionsDefinition):
        return "multi(" + ", ".join(f"{d.name}: {describe_partitions(d.partitions_def)}"
                                    for d in p.partitions_defs) + ")"
    if isinstance(p, dg.DynamicPartitionsDefinition):
        return f"dynamic({p.name})"
    if isinstance(p, dg.StaticPartitionsDefinition):
        return "static(" + ", ".join(p.get_partition_keys()) + ")"
    if isinstance(p, dg.TimeWindowPartitionsDefinition):
        kind = type(p).__name__.removesuffix("PartitionsDefinition").lower()
        end = f", end={p.end:%Y-%m-%d}" if p.end else ""
        if p.end and p.end.date() == _next_month_start():  # the test session runs to the current month:
            end = ", end=<next month>"  # a snapshot must not change when the calendar does
        return (f"{kind}(start={p.start:%Y-%m-%d}{end}, end_offset={p.end_offset}, tz={p.timezone}, "
                f"cron='{p.cron_schedule}', fmt={p.fmt})")
    return type(p).__name__


def describe_mapping(m) -> str:
    if m is None:
        return ""
    dim = getattr(m, "partition_dimension_name", None)
    return f" [{type(m).__name__}" + (f"({dim})" if dim else "") + "]"


def snapshot_text(defs: dg.Definitions) -> str:
    checks: dict[dg.AssetKey, list[str]] = {}
    for ck in defs.resolve_asset_graph().asset_check_keys:
        checks.setdefault(ck.asset_key, []).append(ck.name)
    blocks = []
    for spec in sorted(defs.resolve_all_asset_specs(), key=lambda s: s.key.to_user_string()):
        deps = sorted(f"{d.asset_key.to_user_string()}{describe_mapping(d.partition_mapping)}" for d in spec.deps)
        blocks.append("\n".join([
            spec.key.to_user_string(),
            f"  group: {spec.group_name}",
            f"  partitions: {describe_partitions(spec.partitions_def)}",
            f"  deps: {', '.join(deps) or '-'}",
            f"  checks: {', '.join(sorted(checks.get(spec.key, []))) or '-'}",
        ]))
    return HEADER + "\n".join(blocks) + "\n"


def test_every_asset_has_kinds_owners_group_and_description(defs):
    specs = defs.resolve_all_asset_specs()
    assert len(specs) >= 10
    problems = []
    for spec in specs:
        key = spec.key.to_user_string()
        if not spec.group_name or spec.group_name == "default":
            problems.append(f"{key}: no group_name")
        if not spec.kinds:
            problems.append(f"{key}: no kinds")
        if not spec.owners:
            problems.append(f"{key}: no owners")
        elif not all(o.startswith("team:") or "@" in o for o in spec.owners):
            problems.append(f"{key}: owners must be 'team:<name>' or an email, got {spec.owners}")
        if not (spec.description or "").strip():
            problems.append(f"{key}: no description")
    assert not problems, "assets must say what they are (STYLE.md):\n" + "\n".join(problems)


def test_definitions_match_the_checked_in_snapshot(defs):
    text = snapshot_text(defs)
    if os.environ.get(UPDATE_ENV) == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(text)
    assert SNAPSHOT.exists(), f"{SNAPSHOT} is missing; create it with {UPDATE_ENV}=1"
    stored = SNAPSHOT.read_text()
    if stored != text:
        diff = "".join(difflib.unified_diff(stored.splitlines(True), text.splitlines(True),
                                            "tests/snapshots/assets.txt (checked in)", "definitions (now)"))
        pytest.fail(f"asset definitions differ from the snapshot; if intended, regenerate with "
                    f"{UPDATE_ENV}=1 .venv/bin/pytest {Path(__file__).relative_to(SNAPSHOT.parents[2])}\n{diff}")


def test_snapshot_describes_partitions_exactly():
    """The renderer itself: a month × symbol definition and a single-dimension mapping read as intended."""
    from jobs.keys import build_partitions
    from thunderline.config import load_settings

    month_symbol = build_partitions(load_settings({"THUNDERLINE_FIRST_MONTH": "2010-01",
                                                   "THUNDERLINE_LAST_MONTH": "current"}, create_dirs=False)).month_symbol
    assert describe_partitions(month_symbol) == (
        "multi(month: monthly(start=2010-01-01, end=<next month>, end_offset=1, tz=UTC, cron='0 0 1 * *', "
        "fmt=%Y-%m-%d), "
        "symbol: dynamic(symbols))")
    assert describe_mapping(dg.AllPartitionMapping()) == " [AllPartitionMapping]"
    assert describe_mapping(None) == ""
