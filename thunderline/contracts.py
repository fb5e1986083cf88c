"""Data contracts shared by every layer.

Why this module exists: readers, kernels, the router, the warehouse and the
HTTP ingress must agree on one shape per record. Each contract is a frozen
dataclass (for code that handles a few records) plus an Arrow schema (for code
that handles millions). Conventions, guaranteed everywhere:

* time is ``int64`` microseconds since the Unix epoch, UTC (``*_us`` / ``ts``);
* prices are exact ``Decimal`` at the edges (parsing, XBRL) and float64 inside
  kernels and these schemas;
* ``tenant_id`` is on every record; it is stamped by the ingress, never taken
  from a payload;
* ``FEATURE_SCHEMA_VERSION`` changes whenever a feature's meaning changes, and
  is stored on every FeatureWindow so old windows stay interpretable.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from thunderline.hashing import (
    Encoded,
    content_hash,
    content_id,
    content_ids_of_lists,
    float_dict_rows,
    time_ordered_id,
)

FEATURE_SCHEMA_VERSION = "fs-2"
DEFAULT_BOOK_DEPTH = 10
DEFAULT_TENANT = "default"

# Event types of a MarketTick.
EVENT_QUOTE = 0  # book changed (new order, cancel, delete, snapshot row)
EVENT_TRADE = 1  # execution (visible or hidden); trade_* fields are set
EVENT_STATUS = 2  # trading halt / resume; price fields are NaN

WindowKind = Literal["market", "edgar"]
WindowStatus = Literal["open", "filled", "superseded"]
Action = Literal["buy", "sell", "hold", "abstain"]
ACTIONS: tuple[str, ...] = ("buy", "sell", "hold", "abstain")


def _list_f64() -> pa.DataType:
    return pa.list_(pa.float64())


# --------------------------------------------------------------------------- ticks
@dataclass(frozen=True)
class OrderBookSnapshot:
    """Top-N levels of one side-pair of the book, best level first.

    Empty levels are NaN price / 0 size. Lengths of the four arrays are equal
    (the depth N, default 10).
    """

    bid_px: tuple[float, ...]
    bid_sz: tuple[float, ...]
    ask_px: tuple[float, ...]
    ask_sz: tuple[float, ...]

    def __post_init__(self) -> None:
        n = len(self.bid_px)
        if not (len(self.bid_sz) == len(self.ask_px) == len(self.ask_sz) == n):
            raise ValueError("OrderBookSnapshot: the four level arrays must have equal length")

    @property
    def depth(self) -> int:
        return len(self.bid_px)


@dataclass(frozen=True)
class MarketTick:
    """One market event: the book (top of book + optional levels) after it, and the trade if any.

    ``seq`` is strictly increasing per (venue, symbol) within a source; ``trade_side``
    is the aggressor (+1 buyer-initiated, -1 seller-initiated, 0 unknown/none).
    ``source``/``source_row`` say where the row came from (file and 1-based line)
    so a rejected or surprising value can be traced back.
    """

    tenant_id: str
    venue: str
    symbol: str
    ts: int
    seq: int
    event_type: int
    bid_px: float
    bid_sz: float
    ask_px: float
    ask_sz: float
    trade_px: float = float("nan")
    trade_sz: float = 0.0
    trade_side: int = 0
    book: OrderBookSnapshot | None = None
    source: str = ""
    source_row: int = 0


TICK_SCHEMA = pa.schema(
    [
        pa.field("tenant_id", pa.string(), nullable=False),
        pa.field("venue", pa.string(), nullable=False),
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("ts", pa.int64(), nullable=False),
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("event_type", pa.int8(), nullable=False),
        pa.field("bid_px", pa.float64()),
        pa.field("bid_sz", pa.float64()),
        pa.field("ask_px", pa.float64()),
        pa.field("ask_sz", pa.float64()),
        pa.field("trade_px", pa.float64()),
        pa.field("trade_sz", pa.float64()),
        pa.field("trade_side", pa.int8()),
        # Order book levels (OrderBookSnapshot), best first; null when the source has only top of book.
        pa.field("book_bid_px", _list_f64()),
        pa.field("book_bid_sz", _list_f64()),
        pa.field("book_ask_px", _list_f64()),
        pa.field("book_ask_sz", _list_f64()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_row", pa.int64(), nullable=False),
    ],
    metadata={"thunderline.contract": "MarketTick", "time_unit": "us_since_epoch_utc"},
)


#: The book list columns of TICK_SCHEMA (best level first).
BOOK_FIELDS = ("book_bid_px", "book_bid_sz", "book_ask_px", "book_ask_sz")
#: Lake layout ``levels``: a batch whose every row carries a book of the same depth D stores each list
#: column as D plain float64 columns ``<field>_1 … <field>_D`` (schema metadata ``thunderline.book_depth``).
#: A list column decodes through Parquet's repetition levels and is flattened again by the reader; plain
#: columns decode straight into the arrays the window kernel reads.
LAKE_BOOK_DEPTH_KEY = b"thunderline.book_depth"


def book_level_column(field: str, level: int) -> str:
    """The lake column of book level ``level`` (1-based) of list field ``field`` (layout ``levels``)."""
    return f"{field}_{level}"


# --------------------------------------------------------------------------- EDGAR
@dataclass(frozen=True)
class EDGARDoc:
    """One parsed EDGAR document (a filing, or a late part of one).

    ``accepted_at_us`` is the acceptance time in UTC: the moment the information
    became public and therefore its *availability time* for point-in-time joins.
    ``sections`` maps item ids ("1A", "7", "II-1A" ...) to {title, text, confidence,
    start, end}; ``xbrl_facts`` is a list of fact dicts with Decimal-as-string values.
    """

    tenant_id: str
    cik: int
    accession: str
    form: str
    company_name: str
    period_of_report: str | None  # ISO date
    filed_date: str | None  # ISO date
    accepted_at_us: int
    doc_kind: str  # submission | html | xbrl_instance | companyfacts | submissions_json
    source: str
    sections: dict[str, Any] = field(default_factory=dict)
    xbrl_facts: list[dict[str, Any]] = field(default_factory=list)
    amends: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        return content_hash(dataclasses.asdict(self))

    @property
    def id(self) -> str:
        return content_id("edgar_doc", {"tenant_id": self.tenant_id, "hash": self.content_hash})


EDGAR_DOC_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("tenant_id", pa.string(), nullable=False),
        pa.field("cik", pa.int64(), nullable=False),
        pa.field("accession", pa.string(), nullable=False),
        pa.field("form", pa.string(), nullable=False),
        pa.field("company_name", pa.string()),
        pa.field("period_of_report", pa.string()),
        pa.field("filed_date", pa.string()),
        pa.field("accepted_at_us", pa.int64(), nullable=False),
        pa.field("doc_kind", pa.string(), nullable=False),
        pa.field("source", pa.string()),
        pa.field("sections_json", pa.string()),
        pa.field("xbrl_json", pa.string()),
        pa.field("amends", pa.string()),
        pa.field("content_hash", pa.string(), nullable=False),
    ],
    metadata={"thunderline.contract": "EDGARDoc"},
)


# --------------------------------------------------------------------------- features
@dataclass(frozen=True)
class FeatureWindow:
    """Features of one key (symbol or CIK) over [window_start_us, window_end_us).

    ``available_at_us`` is when the window could first be known: the window end
    for market windows, the acceptance time for EDGAR windows. No consumer may
    use a window before that instant (no look-ahead). ``provenance`` lists the
    inputs (tick batch ids + seq ranges, or accession numbers + doc ids).
    ``label_spec`` says how the window's label is realised later; the label
    itself lives in the labels table and never feeds this window's decision.
    """

    tenant_id: str
    kind: str
    key: str
    window_start_us: int
    window_end_us: int
    available_at_us: int
    recipe_version: str
    features: dict[str, float]
    provenance: dict[str, Any]
    status: str = "filled"
    feature_schema_version: str = FEATURE_SCHEMA_VERSION
    label_spec: dict[str, Any] = field(default_factory=dict)

    def hashed_content(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "kind": self.kind,
            "key": self.key,
            "window_start_us": self.window_start_us,
            "window_end_us": self.window_end_us,
            "available_at_us": self.available_at_us,
            "recipe_version": self.recipe_version,
            "feature_schema_version": self.feature_schema_version,
            "features": self.features,
            "provenance": self.provenance,
            "status": self.status,
            "label_spec": self.label_spec,
        }

    @cached_property
    def content_hash(self) -> str:  # frozen: computed once per object
        return content_hash(self.hashed_content())

    @cached_property
    def id(self) -> str:
        """Identity = (tenant, kind, key, window, recipe, schema): a re-computation replaces, never duplicates."""
        return content_id(
            "feature_window",
            [self.tenant_id, self.kind, self.key, self.window_start_us, self.window_end_us,
             self.recipe_version, self.feature_schema_version],
        )

    def with_stored_id(self, stored_id: str) -> "FeatureWindow":
        """This window with ``id`` taken from storage, where it was derived from these same columns.

        Seeds the cached property instead of re-deriving it (a uuid5 per window, on every load)."""
        self.__dict__["id"] = stored_id
        return self


FEATURE_WINDOW_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("tenant_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("key", pa.string(), nullable=False),
        pa.field("window_start_us", pa.int64(), nullable=False),
        pa.field("window_end_us", pa.int64(), nullable=False),
        pa.field("available_at_us", pa.int64(), nullable=False),
        pa.field("recipe_version", pa.string(), nullable=False),
        pa.field("feature_schema_version", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("features_json", pa.string(), nullable=False),
        pa.field("provenance_json", pa.string(), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
    ],
    metadata={"thunderline.contract": "FeatureWindow"},
)


# --------------------------------------------------------------------------- decisions
@dataclass(frozen=True)
class ExpertAction:
    """What one expert said about one window, and how long it took."""

    layer: int
    expert: str
    model_version: str
    alias: str  # champion | challenger | shadow
    action: str
    confidence: float
    latency_ms: float
    weight: float  # router blend weight within its layer (0 for shadow)
    flags: tuple[str, ...] = ()
    #: signed conviction in [-1, 1] (p(up) - p(down)); positive = the mid is expected to rise
    score: float = 0.0


@dataclass(frozen=True)
class DecisionTrace:
    """The auditable record of one routed window.

    Everything needed to explain and replay the decision: the router version and
    per-layer gate scores and selected experts, every expert's action with
    confidence and latency, the blend, risk flags and a fixed-size behaviour
    embedding (Thunderbit). ``latency`` fields are measured and therefore *not*
    part of the content hash; everything else is.
    """

    tenant_id: str
    feature_window_id: str
    symbol: str
    window_start_us: int
    window_end_us: int
    router_version: str
    gate_scores: list[list[float]]  # per layer: scores over that layer's experts
    selected_experts: list[list[str]]  # per layer: kept experts in kept order
    expert_actions: list[ExpertAction]
    blended_action: str
    blended_confidence: float
    risk_flags: list[str]
    embedding: list[float]
    #: the blend's signed conviction in [-1, 1] (positive = the mid is expected to rise over the label
    #: horizon); ``blended_action`` is derived from it by the router version's fitted thresholds, unless
    #: risk forced ``abstain``/``halt``
    blended_score: float = 0.0

    def hashed_content(self) -> dict[str, Any]:
        """Every field except measured latencies (built by hand: dataclasses.asdict deep-copies)."""
        acts = [
            {"layer": a.layer, "expert": a.expert, "model_version": a.model_version, "alias": a.alias,
             "action": a.action, "confidence": a.confidence, "weight": a.weight, "flags": list(a.flags),
             "score": a.score}
            for a in self.expert_actions
        ]
        return {
            "tenant_id": self.tenant_id, "feature_window_id": self.feature_window_id, "symbol": self.symbol,
            "window_start_us": self.window_start_us, "window_end_us": self.window_end_us,
            "router_version": self.router_version, "gate_scores": self.gate_scores,
            "selected_experts": self.selected_experts, "expert_actions": acts,
            "blended_action": self.blended_action, "blended_confidence": self.blended_confidence,
            "blended_score": self.blended_score, "risk_flags": self.risk_flags, "embedding": self.embedding,
        }

    @cached_property
    def content_hash(self) -> str:  # frozen: computed once per object
        return content_hash(self.hashed_content())

    @property
    def id(self) -> str:
        """Content-derived and time-ordered: the window's start (ms) leads, so traces written in time
        order append to the primary-key index (see :func:`thunderline.hashing.time_ordered_id`)."""
        return time_ordered_id("decision_trace", self.window_start_us,
                               [self.tenant_id, self.feature_window_id, self.router_version])


def feature_window_ids(windows) -> list[str]:
    """Every window's :attr:`FeatureWindow.id`, derived in bulk for windows that have not derived it yet.

    Same ids as the property (tests hold them equal); windows loaded from the
    warehouse would otherwise hash their identity one at a time on the decision path.
    """
    todo = [w for w in windows if "id" not in w.__dict__]
    if todo:
        ids = content_ids_of_lists("feature_window", [
            [w.tenant_id for w in todo], [w.kind for w in todo], [w.key for w in todo],
            [int(w.window_start_us) for w in todo], [int(w.window_end_us) for w in todo],
            [w.recipe_version for w in todo], [w.feature_schema_version for w in todo]])
        for w, i in zip(todo, ids):
            w.__dict__["id"] = i  # the cached_property's slot: same value it would compute
    return [w.id for w in windows]


def feature_window_hashes(windows) -> list[str]:
    """Every window's :attr:`FeatureWindow.content_hash`, the feature dicts encoded in bulk.

    Same hashes as the property (tests hold them equal): windows whose features are all
    Python floats over the same keys have their feature dicts encoded together by
    :func:`~thunderline.hashing.float_dict_rows`, the rest of the content by
    :func:`~thunderline.hashing.canonical_bytes`. Why: the feature dict is most of a
    window's bytes, and hashing windows one at a time was a large share of persisting a
    live micro-batch. Any other window (an int or numpy value among its features) takes the property.
    """
    groups: dict[tuple, list] = {}
    for w in windows:
        if "content_hash" not in w.__dict__ and all(type(v) is float for v in w.features.values()):
            groups.setdefault(tuple(w.features), []).append(w)
    for keys, group in groups.items():
        rows = float_dict_rows(keys, np.array([list(w.features.values()) for w in group], dtype=np.float64)
                               .reshape(len(group), len(keys)))
        for w, feats in zip(group, rows):
            w.__dict__["content_hash"] = content_hash({**w.hashed_content(), "features": Encoded(feats)})
    return [w.content_hash for w in windows]


DECISION_TRACE_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("tenant_id", pa.string(), nullable=False),
        pa.field("feature_window_id", pa.string(), nullable=False),
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("window_start_us", pa.int64(), nullable=False),
        pa.field("window_end_us", pa.int64(), nullable=False),
        pa.field("router_version", pa.string(), nullable=False),
        pa.field("blended_action", pa.string(), nullable=False),
        pa.field("blended_confidence", pa.float64(), nullable=False),
        pa.field("blended_score", pa.float64(), nullable=False),
        pa.field("trace_json", pa.string(), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
    ],
    metadata={"thunderline.contract": "DecisionTrace"},
)


def to_decimal(text: str, *, where: str = "") -> Decimal:
    """Parse an exact decimal at the edge; raise ValueError naming ``where`` on bad input."""
    try:
        d = Decimal(text.strip())
    except Exception as exc:  # decimal.InvalidOperation and friends
        raise ValueError(f"{where}: not a decimal number: {text!r}") from exc
    if not d.is_finite():
        raise ValueError(f"{where}: not a finite number: {text!r}")
    return d


def as_float_array(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)
