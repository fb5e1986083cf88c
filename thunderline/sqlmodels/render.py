"""Rendering a model's ``{{ … }}`` calls for one SQL dialect (``sqlite`` or ``postgresql``).

The macro set is deliberately tiny — only what differs between the two
databases. Every expansion is a single line (line numbers are preserved).

| call | renders |
|---|---|
| ``ref('m')`` / ``source('t')`` | a tenant-filtered subquery of ``sqlm_m`` / warehouse table ``t``; must be followed by ``AS alias`` |
| ``var('name', default)`` | a SQL literal from the run's vars (or the default) |
| ``json_each('expr', 'alias')`` | FROM item: one row per element of a JSON array, element in ``alias.value`` |
| ``json_each_text('expr', 'key', 'alias')`` | FROM item: the elements of ``expr[key]`` as text in ``alias.value`` |
| ``json_text('expr', 'key')`` / ``json_float(…)`` | ``expr[key]`` as text / double precision |
| ``utc_date('us')`` / ``utc_hour('us')`` | µs-since-epoch → ``YYYY-MM-DD`` / ``YYYY-MM-DDTHH:00:00Z`` text, UTC |

Tenant scoping: a ref or source never reaches a table unfiltered. The filter's
right-hand side is the session's tenant as a checked literal (tables, and views
on SQLite) or, for views on PostgreSQL, ``current_setting('thunderline.tenant_id', true)``
so the view answers for whichever tenant reads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from thunderline.sqlmodels.parse import Call, SqlModel

DIALECTS = ("sqlite", "postgresql")
PG_TENANT_SETTING = "current_setting('thunderline.tenant_id', true)"
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ALIAS_AFTER = re.compile(r"\s+AS\s+[A-Za-z_]\w*", re.IGNORECASE)


class RenderError(ValueError):
    """Raised by a macro; the renderer turns it into a SqlModelError with the call's line."""


def tenant_literal(tenant_id: str) -> str:
    if not _TENANT.match(tenant_id or ""):
        raise RenderError(f"tenant id {tenant_id!r} cannot be used in SQL (letters, digits, '_', '.', '-')")
    return f"'{tenant_id}'"


def sql_literal(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        raise RenderError(f"var values must be numbers or strings, got {value!r}")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise RenderError(f"var values must be numbers or strings, got {type(value).__name__}")


@dataclass
class RenderContext:
    dialect: str
    tenant_expr: str  # right-hand side of "tenant_id = …"
    relations: Mapping[str, str]  # ref name → relation
    sources: frozenset[str]
    vars: Mapping[str, Any] = field(default_factory=dict)


def _one_line(expr: Any, what: str) -> str:
    if not isinstance(expr, str) or not expr.strip() or "\n" in expr:
        raise RenderError(f"{what} must be a one-line SQL expression string")
    return expr


def _key(key: Any) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise RenderError(f"JSON key {key!r} must be an identifier ([A-Za-z_][A-Za-z0-9_]*)")
    return key


def _alias(alias: Any) -> str:
    if not isinstance(alias, str) or not _KEY.match(alias):
        raise RenderError(f"alias {alias!r} must be an identifier")
    return alias


def _args(call: Call, n_min: int, n_max: int) -> tuple:
    if not n_min <= len(call.args) <= n_max:
        want = str(n_min) if n_min == n_max else f"{n_min}-{n_max}"
        raise RenderError(f"{call.fn}() takes {want} argument(s), got {len(call.args)}")
    return call.args


def _ref(call: Call, ctx: RenderContext) -> str:
    (name,) = _args(call, 1, 1)
    if name not in ctx.relations:
        raise RenderError(f"ref({name!r}): no model named {name!r} (known: {', '.join(sorted(ctx.relations)) or 'none'})")
    return f"(SELECT * FROM {ctx.relations[name]} WHERE tenant_id = {ctx.tenant_expr})"


def _source(call: Call, ctx: RenderContext) -> str:
    (name,) = _args(call, 1, 1)
    if name not in ctx.sources:
        raise RenderError(f"source({name!r}): not a warehouse table")
    return f"(SELECT * FROM {name} WHERE tenant_id = {ctx.tenant_expr})"


def _var(call: Call, ctx: RenderContext) -> str:
    args = _args(call, 1, 2)
    name = args[0]
    if name in ctx.vars:
        return sql_literal(ctx.vars[name])
    if len(args) == 2:
        return sql_literal(args[1])
    raise RenderError(f"var({name!r}) is not set and has no default")


def _json_each(call: Call, ctx: RenderContext) -> str:
    expr, alias = _args(call, 2, 2)
    expr, alias = _one_line(expr, "json_each's first argument"), _alias(alias)
    if ctx.dialect == "sqlite":
        return f"json_each({expr}) AS {alias}"
    return f"jsonb_array_elements(to_jsonb({expr})) AS {alias}(value)"  # json or jsonb columns alike


def _json_each_text(call: Call, ctx: RenderContext) -> str:
    expr, key, alias = _args(call, 3, 3)
    expr, key, alias = _one_line(expr, "json_each_text's first argument"), _key(key), _alias(alias)
    if ctx.dialect == "sqlite":
        return f"json_each({expr}, '$.\"{key}\"') AS {alias}"
    return f"jsonb_array_elements_text(to_jsonb({expr}) -> '{key}') AS {alias}(value)"


def _json_text(call: Call, ctx: RenderContext) -> str:
    expr, key = _args(call, 2, 2)
    expr, key = _one_line(expr, "json_text's first argument"), _key(key)
    if ctx.dialect == "sqlite":
        return f"json_extract({expr}, '$.\"{key}\"')"
    return f"({expr} ->> '{key}')"


def _json_float(call: Call, ctx: RenderContext) -> str:
    expr, key = _args(call, 2, 2)
    expr, key = _one_line(expr, "json_float's first argument"), _key(key)
    if ctx.dialect == "sqlite":
        return f"CAST(json_extract({expr}, '$.\"{key}\"') AS REAL)"
    return f"CAST({expr} ->> '{key}' AS DOUBLE PRECISION)"


def _utc(fmt_sqlite: str, fmt_pg: str) -> Callable[[Call, RenderContext], str]:
    def render(call: Call, ctx: RenderContext) -> str:
        (expr,) = _args(call, 1, 1)
        expr = _one_line(expr, f"{call.fn}'s argument")
        if ctx.dialect == "sqlite":
            return f"strftime('{fmt_sqlite}', ({expr}) / 1000000, 'unixepoch')"
        return f"to_char(to_timestamp(({expr}) / 1000000) AT TIME ZONE 'UTC', '{fmt_pg}')"

    return render


MACROS: dict[str, Callable[[Call, RenderContext], str]] = {
    "ref": _ref,
    "source": _source,
    "var": _var,
    "json_each": _json_each,
    "json_each_text": _json_each_text,
    "json_text": _json_text,
    "json_float": _json_float,
    "utc_date": _utc("%Y-%m-%d", "YYYY-MM-DD"),
    "utc_hour": _utc("%Y-%m-%dT%H:00:00Z", 'YYYY-MM-DD"T"HH24:00:00"Z"'),
}


def render(model: SqlModel, ctx: RenderContext) -> str:
    """The model's SQL for ``ctx.dialect``, line for line; raises the model's SqlModelError on a bad call."""
    if ctx.dialect not in DIALECTS:
        raise model.error(None, f"unsupported dialect {ctx.dialect!r} (use {' or '.join(DIALECTS)})")
    out, pos = [], 0
    for call in model.calls:
        macro = MACROS.get(call.fn)
        if macro is None:
            raise model.error(call.line, f"unknown template function {call.fn}() (known: {', '.join(sorted(MACROS))})")
        try:
            expansion = macro(call, ctx)
        except RenderError as exc:
            raise model.error(call.line, str(exc)) from None
        if call.fn in ("ref", "source") and not _ALIAS_AFTER.match(model.text, call.end):
            raise model.error(call.line, f"{call.fn}({call.args[0]!r}) must be followed by 'AS <alias>'")
        out += [model.text[pos:call.start], expansion]
        pos = call.end
    out.append(model.text[pos:])
    return "".join(out)
