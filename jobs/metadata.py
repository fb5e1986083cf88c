"""Metadata the Dagster UI renders well: rounded numbers, tables instead of JSON, column schemas, MLflow links.

Why one helper: assets used to attach ``MetadataValue.json`` dicts (one blob, nothing to
sort or plot) and raw floats (``83496.77772487905``). :func:`clean` turns a whole
metadata mapping into what a person reads — every float to 6 significant digits,
every JSON dict/list into a :class:`dagster.TableMetadataValue` with a schema — so an
asset body stays one ``MaterializeResult(metadata=clean({...}))``.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable, Mapping

import dagster as dg

SIGNIFICANT = 6

#: (key column, value column) names for tables made from flat ``{key: number}`` dicts
DEFAULT_COLUMNS: dict[str, tuple[str, str]] = {
    "reject_reasons": ("reason", "rows"), "reasons": ("reason", "rows"), "actions": ("action", "traces"),
    "risk_flags": ("flag", "traces"), "status": ("status", "labels"), "by_kind": ("kind", "documents"),
    "by_status": ("status", "windows"), "net_by_router_version": ("router_version", "net"),
    "expert_latency_ms": ("expert", "ms"), "dead_bands": ("horizon", "dead_band"),
    "gap_rate_by_spec": ("spec", "gap_rate"),
}


def num(x: float | int | None, digits: int = SIGNIFICANT) -> float:
    """``x`` as a float rounded to ``digits`` significant digits (NaN/inf/None → 0.0, which Dagster can plot)."""
    if x is None:
        return 0.0
    x = float(x)
    if not math.isfinite(x):
        return 0.0
    return float(f"{x:.{digits}g}")


def _cell(v: Any) -> Any:
    if isinstance(v, bool) or v is None or isinstance(v, (int, str)):
        return v
    if isinstance(v, float):
        return num(v)
    return json.dumps(v, sort_keys=True, default=str)


def _type(values: Iterable[Any]) -> str:
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {bool} and kinds:
        return "bool"
    if kinds <= {int} and kinds:
        return "int"
    if kinds <= {int, float} and kinds:
        return "float"
    return "string"


def table(value: Mapping | list, key: str = "key", value_name: str = "value") -> dg.TableMetadataValue:
    """A table from ``{k: scalar}``, ``{k: {col: v}}``, ``[{col: v}, ...]`` or ``[scalar, ...]``."""
    if isinstance(value, Mapping):
        if value and all(isinstance(v, Mapping) for v in value.values()):
            rows = [{key: str(k), **{str(c): _cell(x) for c, x in v.items()}} for k, v in value.items()]
        else:
            rows = [{key: str(k), value_name: _cell(v)} for k, v in value.items()]
    else:
        rows = [{str(c): _cell(x) for c, x in r.items()} if isinstance(r, Mapping) else {value_name: _cell(r)}
                for r in value]
    columns: list[str] = []
    for r in rows:
        columns += [c for c in r if c not in columns]
    if not columns:
        columns = [key, value_name] if isinstance(value, Mapping) else [value_name]
    schema = dg.TableSchema(columns=[dg.TableColumn(c, _type(r.get(c) for r in rows)) for c in columns])
    records = [dg.TableRecord({c: r.get(c) for c in columns}) for r in rows]
    return dg.MetadataValue.table(records, schema=schema)


def clean(meta: Mapping[str, Any], columns: Mapping[str, tuple[str, str]] | None = None) -> dict[str, Any]:
    """Round every float, turn every JSON dict/list into a table (names from ``columns`` or DEFAULT_COLUMNS)."""
    names = {**DEFAULT_COLUMNS, **dict(columns or {})}
    out: dict[str, Any] = {}
    for k, v in meta.items():
        raw = v.value if isinstance(v, dg.JsonMetadataValue) else v
        if isinstance(v, dg.FloatMetadataValue):
            out[k] = dg.MetadataValue.float(num(v.value))
        elif isinstance(raw, float):
            out[k] = dg.MetadataValue.float(num(raw))
        elif isinstance(raw, (Mapping, list)) and not isinstance(v, dg.MetadataValue) or isinstance(
                v, dg.JsonMetadataValue):
            out[k] = table(raw or {}, *names.get(k, ("key", "value")))
        else:
            out[k] = v
    return out


def column_schema(sa_table) -> dg.TableSchema:
    """A SQLAlchemy table's columns (name, SQL type, nullability, comment) as the UI's column schema."""
    return dg.TableSchema(columns=[
        dg.TableColumn(c.name, str(c.type).lower(), description=c.comment or None,
                       constraints=dg.TableColumnConstraints(nullable=bool(c.nullable) and not c.primary_key))
        for c in sa_table.columns])


def arrow_column_schema(schema) -> dg.TableSchema:
    """A pyarrow schema as the UI's column schema."""
    return dg.TableSchema(columns=[
        dg.TableColumn(f.name, str(f.type), constraints=dg.TableColumnConstraints(nullable=f.nullable))
        for f in schema])


def table_definition_metadata(sa_table) -> dict[str, Any]:
    """Static metadata for an asset that writes ``sa_table``: its name and column schema, shown before any run."""
    return {"dagster/table_name": sa_table.name, "dagster/column_schema": column_schema(sa_table)}


def mlflow_version_url(ui_base: str, registered_model: str, version: str | int) -> dg.UrlMetadataValue:
    """Link to a registered model version's page in the MLflow UI."""
    return dg.MetadataValue.url(f"{ui_base.rstrip('/')}/#/models/{registered_model}/versions/{version}")


def table_rows(value) -> list[dict[str, Any]]:
    """The rows of a table metadata value (or of a legacy JSON one) as plain dicts."""
    value = getattr(value, "value", value)
    if isinstance(value, dg.TableMetadataValue):
        return [dict(r.data) for r in value.records]
    if isinstance(value, Mapping):
        return [{"key": k, "value": v} for k, v in value.items()]
    return list(value or [])
