"""Warehouse tables of the learning loop: realised labels, paper PnL, evaluation metrics, promotions.

Why a module of their own: the learning loop owns these tables, but they live on
the one shared :data:`thunderline.store.schema.metadata`, so
``Warehouse.init_schema`` creates them (with row-level security on PostgreSQL)
like every other table. ``tenant_id`` is part of every primary key.

* ``labels``: one row per (tenant, feature window, label spec). Written when the
  window is first seen (``status = pending``) and filled once the future windows
  exist (``filled``), or marked ``gap`` when the data moved past the horizon
  without the windows the label needs. ``realised_at`` is the data time the label
  became knowable (end of the last window it reads); ``latency_us`` is that minus
  the window's ``available_at``. ``filled_at`` is wall-clock bookkeeping.
* ``pnl``: one row per (tenant, decision trace, cost model): the blended action's
  paper position, forward return, gross, cost and net, and the net attributed to
  each live expert by blend weight.
* ``evaluation_metrics``: one row per (tenant, scope, actor, version, basis):
  hit rate, information coefficient, turnover, drawdown and PnL of the blend or of
  one expert over a scope (a month, or a promotion evaluation window).
* ``promotion_events``: every blue/green transition (shadow → challenger →
  champion, rejections, rollbacks) with who, why and the evidence.
"""

from __future__ import annotations

import sqlalchemy as sa

from thunderline.store.schema import JSONType, metadata, utcnow


def _pk_tenant() -> sa.Column:
    return sa.Column("tenant_id", sa.String(64), primary_key=True)


def _inserted() -> sa.Column:
    return sa.Column("inserted_at", sa.DateTime(timezone=True), nullable=False, default=utcnow)


labels = sa.Table(
    "labels",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # content_id(tenant, feature window, spec id)
    _pk_tenant(),
    sa.Column("feature_window_id", sa.String(64), nullable=False),
    sa.Column("symbol", sa.String(64), nullable=False),
    sa.Column("month", sa.String(7), nullable=False),  # of window_start
    sa.Column("window_start", sa.BigInteger, nullable=False),
    sa.Column("window_end", sa.BigInteger, nullable=False),
    sa.Column("available_at", sa.BigInteger, nullable=False),
    sa.Column("spec_id", sa.String(32), nullable=False),  # e.g. class_h1_db2bps
    sa.Column("spec", JSONType, nullable=False),
    sa.Column("horizon", sa.Integer, nullable=False),  # in non-overlapping windows
    sa.Column("label_type", sa.String(8), nullable=False),  # delta | class
    sa.Column("status", sa.String(8), nullable=False),  # pending | filled | gap
    sa.Column("filled", sa.Boolean, nullable=False),
    sa.Column("fwd_return", sa.Float),  # log return over the horizon; NULL until filled
    sa.Column("label", sa.String(8)),  # buy | sell | hold (class specs), NULL for delta or unfilled
    sa.Column("realised_at", sa.BigInteger),  # µs UTC: end of the last window the label reads
    sa.Column("latency_us", sa.BigInteger),  # realised_at − available_at
    sa.Column("entry_spread_bps", sa.Float),  # quoted spread where a position would be entered / exited
    sa.Column("exit_spread_bps", sa.Float),
    sa.Column("filled_at", sa.DateTime(timezone=True)),
    _inserted(),
    sa.Index("ix_labels_symbol_time", "tenant_id", "symbol", "window_start"),
    sa.Index("ix_labels_window", "tenant_id", "feature_window_id"),
    sa.Index("ix_labels_month_status", "tenant_id", "month", "status"),
)

pnl = sa.Table(
    "pnl",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # content_id(tenant, trace, cost model)
    _pk_tenant(),
    sa.Column("decision_trace_id", sa.String(64), nullable=False),
    sa.Column("feature_window_id", sa.String(64), nullable=False),
    sa.Column("symbol", sa.String(64), nullable=False),
    sa.Column("month", sa.String(7), nullable=False),
    sa.Column("window_start", sa.BigInteger, nullable=False),
    sa.Column("router_version", sa.String(64), nullable=False),
    sa.Column("cost_model", sa.String(64), nullable=False),  # CostModel.id
    sa.Column("horizon", sa.Integer, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("position", sa.Float, nullable=False),  # +1 buy, −1 sell, 0 otherwise (unit notional)
    sa.Column("fwd_return", sa.Float, nullable=False),
    sa.Column("gross", sa.Float, nullable=False),
    sa.Column("cost", sa.Float, nullable=False),
    sa.Column("net", sa.Float, nullable=False),
    sa.Column("attribution", JSONType, nullable=False),  # expert → {version, share, net}
    _inserted(),
    sa.Index("ix_pnl_month", "tenant_id", "month", "symbol", "window_start"),
    sa.Index("ix_pnl_trace", "tenant_id", "decision_trace_id"),
)

evaluation_metrics = sa.Table(
    "evaluation_metrics",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # content_id(tenant, scope, actor, version, basis, cost)
    _pk_tenant(),
    sa.Column("scope", sa.String(64), nullable=False),  # "2025-04", or "promotion:<from>..<to>"
    sa.Column("actor", sa.String(128), nullable=False),  # "blend" or an expert name
    sa.Column("version", sa.String(64), nullable=False),  # router version (blend) or model version; "*" = all
    sa.Column("basis", sa.String(16), nullable=False),  # blend | attributed | standalone | replay
    sa.Column("cost_model", sa.String(64), nullable=False),
    sa.Column("n", sa.BigInteger, nullable=False),
    sa.Column("n_positions", sa.BigInteger, nullable=False),
    sa.Column("hit_rate", sa.Float),
    sa.Column("ic", sa.Float),
    sa.Column("turnover", sa.Float),
    sa.Column("max_drawdown", sa.Float),
    sa.Column("gross", sa.Float, nullable=False),
    sa.Column("cost", sa.Float, nullable=False),
    sa.Column("net", sa.Float, nullable=False),
    sa.Column("detail", JSONType),
    _inserted(),
    sa.Index("ix_evaluation_scope", "tenant_id", "scope", "actor"),
)

promotion_events = sa.Table(
    "promotion_events",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # content_id(tenant, expert, version, transition, at)
    _pk_tenant(),
    sa.Column("expert", sa.String(128), nullable=False),
    sa.Column("registered_model", sa.String(256), nullable=False),
    sa.Column("version", sa.String(32), nullable=False),  # the version the event is about
    sa.Column("from_state", sa.String(16), nullable=False),  # none | shadow | challenger | champion
    sa.Column("to_state", sa.String(16), nullable=False),  # shadow | challenger | champion | retired
    sa.Column("decision", sa.String(16), nullable=False),  # registered | promoted | held | rejected | rolled_back
    sa.Column("previous_champion", sa.String(32)),  # champion version before the event
    sa.Column("champion_after", sa.String(32)),  # champion version after the event
    sa.Column("actor", sa.String(128), nullable=False),  # who: a person or the job/schedule that decided
    sa.Column("reason", sa.Text, nullable=False),  # why, in words
    sa.Column("metrics", JSONType, nullable=False),  # the evidence (both sides' metrics, the gate's thresholds)
    sa.Column("mlflow_run_id", sa.String(64)),  # the run recording the event in MLflow
    sa.Column("at_us", sa.BigInteger, nullable=False),  # wall clock, µs UTC
    _inserted(),
    sa.Index("ix_promotion_events_expert", "tenant_id", "expert", "at_us"),
)

LEARNING_TABLES = ("labels", "pnl", "evaluation_metrics", "promotion_events")

#: One row per (evaluation run, fold, model, clock horizon): the signal quality of an expert, the
#: blend or a baseline out of sample (``thunderline evaluate``; :mod:`thunderline.evaluation.walkforward`).
signal_evaluations = sa.Table(
    "signal_evaluations",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # content_id(tenant, run, fold, model, horizon)
    _pk_tenant(),
    sa.Column("run_id", sa.String(64), nullable=False),  # content_id of the evaluation spec
    sa.Column("fold", sa.Integer, nullable=False),
    sa.Column("train_start", sa.BigInteger, nullable=False),
    sa.Column("train_end", sa.BigInteger, nullable=False),
    sa.Column("test_start", sa.BigInteger, nullable=False),
    sa.Column("test_end", sa.BigInteger, nullable=False),
    sa.Column("model", sa.String(128), nullable=False),  # "blend", an expert name, or "baseline:linear_ofi"
    sa.Column("horizon_ms", sa.Integer, nullable=False),
    sa.Column("n", sa.BigInteger, nullable=False),
    sa.Column("rank_ic", sa.Float),
    sa.Column("rank_ic_lo", sa.Float),
    sa.Column("rank_ic_hi", sa.Float),
    sa.Column("ic", sa.Float),
    sa.Column("ic_lo", sa.Float),
    sa.Column("ic_hi", sa.Float),
    sa.Column("hit_rate", sa.Float),
    sa.Column("turnover", sa.Float),
    sa.Column("net_bps", sa.Float),
    sa.Column("null_band", sa.Float),
    sa.Column("detail", JSONType),
    _inserted(),
    sa.Index("ix_signal_evaluations_run", "tenant_id", "run_id"),
)
