"""The warehouse schema: one SQLAlchemy Core metadata for SQLite and PostgreSQL.

Why Core and one schema: the embedded default and production must run the same
queries, so every table is declared once with portable types; PostgreSQL gets
``jsonb`` for JSON, month range partitions for the two big tables and row-level
security (see :mod:`thunderline.store.postgres`). Every table carries
``tenant_id``. Times that are part of the data (window bounds, acceptance
times) are ``BIGINT`` microseconds since the epoch, UTC, exactly as in the
contracts; ``inserted_at`` is bookkeeping and never hashed.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSON as PG_JSON
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
#: Decision traces' JSON documents on PostgreSQL are ``json`` (kept as written, validated on
#: input) rather than ``jsonb`` (parsed into a binary tree on input): traces are written by the
#: hundred thousand and read whole, and building jsonb was two thirds of the server's cost of
#: writing one (bench/decisions.py). SQL that wants jsonb operators converts with ``to_jsonb``.
TraceJSONType = sa.JSON().with_variant(PG_JSON(), "postgresql")

#: Tables range-partitioned by month of ``window_start`` on PostgreSQL.
PARTITIONED_BY_MONTH = {"feature_windows": "window_start", "decision_traces": "window_start"}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _id() -> sa.Column:
    return sa.Column("id", sa.String(64), primary_key=True)


def _tenant() -> sa.Column:
    # Part of every primary key: an upsert can never touch another tenant's row, even when
    # two tenants ingest the same bytes and derive the same content id.
    return sa.Column("tenant_id", sa.String(64), primary_key=True)


def _inserted() -> sa.Column:
    return sa.Column("inserted_at", sa.DateTime(timezone=True), nullable=False, default=utcnow)


raw_tick_batches = sa.Table(
    "raw_tick_batches",
    metadata,
    _id(),
    _tenant(),
    sa.Column("venue", sa.String(32), nullable=False),
    sa.Column("symbol", sa.String(64), nullable=False),
    sa.Column("month", sa.String(7), nullable=False),  # YYYY-MM
    sa.Column("source", sa.String(32), nullable=False),  # reader format (lobster, tardis, synthetic, ...)
    sa.Column("source_file", sa.Text, nullable=False),
    sa.Column("path", sa.Text, nullable=False),  # Parquet file in the lake
    sa.Column("seq_min", sa.BigInteger, nullable=False),
    sa.Column("seq_max", sa.BigInteger, nullable=False),
    sa.Column("ts_min", sa.BigInteger, nullable=False),
    sa.Column("ts_max", sa.BigInteger, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    _inserted(),
    sa.Index("ix_raw_tick_batches_partition", "tenant_id", "month", "symbol"),
)

raw_edgar_docs = sa.Table(
    "raw_edgar_docs",
    metadata,
    _id(),
    _tenant(),
    sa.Column("cik", sa.BigInteger, nullable=False),
    sa.Column("accession", sa.String(96), nullable=False),
    sa.Column("form", sa.String(16), nullable=False),
    sa.Column("doc_kind", sa.String(32), nullable=False),
    sa.Column("company_name", sa.Text),
    sa.Column("period_of_report", sa.String(10)),
    sa.Column("filed_date", sa.String(10)),
    sa.Column("accepted_at", sa.BigInteger, nullable=False),  # µs UTC: availability time
    sa.Column("month", sa.String(7), nullable=False),  # of accepted_at
    sa.Column("source", sa.Text),
    sa.Column("amends", sa.String(96)),
    sa.Column("sections", JSONType),
    sa.Column("xbrl", JSONType),
    sa.Column("meta", JSONType),
    sa.Column("content_hash", sa.String(64), nullable=False),
    _inserted(),
    # after inserted_at: migration 0004 added them to existing tables, which append
    sa.Column("sections_redacted", JSONType),  # section names dropped by policy (exhibits, ...); None before 0004
    sa.Column("xbrl_hash", sa.String(64)),  # sha256 of the canonical XBRL facts; None: no XBRL (or before 0004)
    sa.Index("ix_raw_edgar_docs_cik", "tenant_id", "cik", "accepted_at"),
    sa.Index("ix_raw_edgar_docs_accession", "tenant_id", "accession"),
    sa.Index("ix_raw_edgar_docs_month", "tenant_id", "month", "id"),  # tiering pages through a month (0006)
)

feature_windows = sa.Table(
    "feature_windows",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    _tenant(),
    sa.Column("kind", sa.String(16), nullable=False),  # market | edgar
    sa.Column("key", sa.String(64), nullable=False),  # symbol or CIK
    sa.Column("window_start", sa.BigInteger, primary_key=True),  # partition key on PostgreSQL
    sa.Column("window_end", sa.BigInteger, nullable=False),
    sa.Column("available_at", sa.BigInteger, nullable=False),
    sa.Column("feature_schema_version", sa.String(32), nullable=False),
    sa.Column("recipe_version", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # open | filled | superseded
    sa.Column("features", JSONType, nullable=False),
    sa.Column("provenance", JSONType, nullable=False),
    sa.Column("label_spec", JSONType),
    sa.Column("content_hash", sa.String(64), nullable=False),
    _inserted(),
    sa.Index("ix_feature_windows_key", "tenant_id", "kind", "key", sa.text("window_start DESC")),
    sa.Index("ix_feature_windows_schema", "tenant_id", "feature_schema_version", "inserted_at"),
    postgresql_partition_by="RANGE (window_start)",
)

decision_traces = sa.Table(
    "decision_traces",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    _tenant(),
    sa.Column("feature_window_id", sa.String(64), nullable=False),
    sa.Column("symbol", sa.String(64), nullable=False),
    sa.Column("window_start", sa.BigInteger, primary_key=True),  # partition key on PostgreSQL
    sa.Column("window_end", sa.BigInteger, nullable=False),
    sa.Column("router_version", sa.String(64), nullable=False),
    sa.Column("gate_scores", TraceJSONType, nullable=False),
    sa.Column("selected_experts", TraceJSONType, nullable=False),
    sa.Column("expert_actions", TraceJSONType, nullable=False),
    sa.Column("blended_action", sa.String(16), nullable=False),
    sa.Column("blended_confidence", sa.Float, nullable=False),
    # the blend's signed conviction in [-1, 1]; blended_action is derived from it (see DecisionTrace)
    sa.Column("blended_score", sa.Float, nullable=False, server_default=sa.text("0")),
    sa.Column("risk_flags", TraceJSONType, nullable=False),
    sa.Column("embedding", TraceJSONType, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    # lineage kept in the row (see thunderline.lineage.graph): the EDGAR window the as-of join
    # took, the decision batch this trace was written in, and which of that batch's expert
    # versions it lists (bit i = the batch's lineage_ranges row with bit i)
    sa.Column("edgar_window_id", sa.String(64)),
    sa.Column("lineage_batch", sa.String(64)),
    sa.Column("experts_used", sa.BigInteger),
    _inserted(),
    sa.Index("ix_decision_traces_window", "feature_window_id"),
    sa.Index("ix_decision_traces_edgar_window", "edgar_window_id",
             sqlite_where=sa.text("edgar_window_id IS NOT NULL"),
             postgresql_where=sa.text("edgar_window_id IS NOT NULL")),
    sa.Index("ix_decision_traces_recent", "tenant_id", sa.text("inserted_at DESC")),
    postgresql_partition_by="RANGE (window_start)",
)

experts = sa.Table(
    "experts",
    metadata,
    _id(),
    _tenant(),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("registered_model", sa.String(256), nullable=False),
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("alias", sa.String(32)),  # champion | challenger | shadow
    sa.Column("status", sa.String(16), nullable=False),  # loaded | retired | failed
    sa.Column("latency_budget_ms", sa.Float, nullable=False),
    sa.Column("meta", JSONType),
    _inserted(),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow),
    sa.Index("ix_experts_name", "tenant_id", "name"),
)

lineage_edges = sa.Table(
    "lineage_edges",
    metadata,
    _id(),
    _tenant(),
    sa.Column("from_kind", sa.String(32), nullable=False),
    sa.Column("from_id", sa.String(256), nullable=False),
    sa.Column("to_kind", sa.String(32), nullable=False),
    sa.Column("to_id", sa.String(256), nullable=False),
    sa.Column("relation", sa.String(32), nullable=False),
    sa.Column("meta", JSONType),
    _inserted(),
    sa.Index("ix_lineage_from", "from_id"),
    sa.Index("ix_lineage_to", "to_id"),
)

lineage_ranges = sa.Table(
    # Lineage edges that are the same for a whole decision batch, recorded once per batch:
    # router version → every trace of the batch ("routed"), and trace → expert version
    # ("used") for the traces whose ``experts_used`` has ``bit`` set. The traces covered are
    # those with ``lineage_batch = batch_id``, all with ids in [first_trace_id, last_trace_id]
    # (trace ids are time-ordered, so that is a primary-key range scan).
    "lineage_ranges",
    metadata,
    _id(),
    _tenant(),
    sa.Column("node_kind", sa.String(32), nullable=False),  # router_version | expert_version
    sa.Column("node_id", sa.String(256), nullable=False),
    sa.Column("node_end", sa.String(4), nullable=False),  # "from": node → traces; "to": traces → node
    sa.Column("relation", sa.String(32), nullable=False),
    sa.Column("batch_id", sa.String(64), nullable=False),
    sa.Column("bit", sa.Integer),  # None: every trace of the batch
    sa.Column("first_trace_id", sa.String(64), nullable=False),
    sa.Column("last_trace_id", sa.String(64), nullable=False),
    sa.Column("traces", sa.BigInteger, nullable=False),
    _inserted(),
    sa.Index("ix_lineage_ranges_node", "tenant_id", "node_id"),
    sa.Index("ix_lineage_ranges_batch", "tenant_id", "batch_id"),
)

export_jobs = sa.Table(
    "export_jobs",
    metadata,
    _id(),
    _tenant(),
    sa.Column("slice_name", sa.String(128), nullable=False),
    sa.Column("spec", JSONType, nullable=False),
    sa.Column("manifest", JSONType),
    sa.Column("path", sa.Text),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("rows", sa.BigInteger),
    _inserted(),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    _id(),  # content-derived: re-ingesting the same bad row does not duplicate it
    _tenant(),
    sa.Column("stage", sa.String(32), nullable=False),  # raw_ticks | raw_filings | ingress ...
    sa.Column("source", sa.Text, nullable=False),  # file (or request) the row came from
    sa.Column("row_number", sa.BigInteger),  # 1-based line in the source, when it has lines
    sa.Column("field", sa.String(128)),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("raw", sa.Text),
    sa.Column("partition_key", sa.String(64)),
    _inserted(),
    sa.Index("ix_quarantine_source", "tenant_id", "stage", "source"),
)

telemetry_events = sa.Table(
    "telemetry_events",
    metadata,
    _id(),
    _tenant(),
    sa.Column("name", sa.String(128), nullable=False),  # e.g. router.entropy
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("ts", sa.BigInteger, nullable=False),  # µs UTC
    sa.Column("tags", JSONType),
    _inserted(),
    sa.Index("ix_telemetry_name_ts", "tenant_id", "name", "ts"),
)

router_configs = sa.Table(
    "router_configs",
    metadata,
    _id(),
    _tenant(),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("parent_version", sa.String(64)),
    sa.Column("config", JSONType, nullable=False),  # layers, d, embedding stats
    sa.Column("gates", JSONType, nullable=False),  # per layer W_g (d × e) as nested lists
    sa.Column("experts", JSONType, nullable=False),  # per layer: expert names + model versions
    sa.Column("reason", sa.Text),
    sa.Column("is_active", sa.Boolean, nullable=False, default=False),
    _inserted(),
    sa.UniqueConstraint("tenant_id", "version", name="uq_router_configs_version"),
)

landing_files = sa.Table(
    "landing_files",
    metadata,
    _id(),  # sha256 of the file's bytes: the same file is processed exactly once
    _tenant(),
    sa.Column("kind", sa.String(16), nullable=False),  # ticks | edgar
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("format", sa.String(32), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("partitions", JSONType, nullable=False),  # partition keys the file touches
    sa.Column("status", sa.String(16), nullable=False),  # indexed | processed | rejected
    sa.Column("detail", sa.Text),
    _inserted(),
    sa.Index("ix_landing_files_kind", "tenant_id", "kind", "status"),
)

def all_tables() -> list[str]:
    """Every warehouse table, including those declared by other modules on this metadata."""
    return [t.name for t in metadata.sorted_tables]
