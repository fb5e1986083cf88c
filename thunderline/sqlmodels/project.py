"""A set of SQL models: dependency graph from ``ref()``, topological order, compilation.

Loading checks the whole project up front — every ``ref`` names a model, every
``source`` a warehouse table, there is no cycle — so a broken project fails
when it is loaded (e.g. when Dagster loads the code location), with the file
and line, not half-way through a run.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from thunderline.sqlmodels.parse import SqlModel, SqlModelError, load_models
from thunderline.sqlmodels.render import PG_TENANT_SETTING, RenderContext, RenderError, render, tenant_literal

#: Lines of :attr:`CompiledModel.select` before the model's first line.
BODY_OFFSET = 1
DISPLAY_TENANT = ":tenant"


@dataclass(frozen=True)
class CompiledModel:
    name: str
    path: Path
    dialect: str
    materialized: str
    relation: str
    sql: str  # the model rendered for the dialect, line for line
    select: str  # ``sql`` wrapped so every output row carries the tenant_id

    @property
    def body_offset(self) -> int:
        return BODY_OFFSET


def default_sources() -> frozenset[str]:
    from thunderline.store import metadata

    return frozenset(t for t in metadata.tables if not t.startswith("sqlm_"))


class SqlProject:
    def __init__(self, models: Mapping[str, SqlModel], sources: Iterable[str] | None = None) -> None:
        self.models = dict(models)
        self.sources = frozenset(sources) if sources is not None else default_sources()
        for m in self.models.values():
            for c in m.calls:
                if c.fn == "ref" and c.args and c.args[0] not in self.models:
                    raise m.error(c.line, f"ref({c.args[0]!r}): no model named {c.args[0]!r} "
                                          f"(known: {', '.join(sorted(self.models))})")
                if c.fn == "ref" and c.args and c.args[0] == m.name:
                    raise m.error(c.line, "a model cannot ref() itself")
                if c.fn == "source" and c.args and c.args[0] not in self.sources:
                    raise m.error(c.line, f"source({c.args[0]!r}): not a warehouse table")
        self._order = self._toposort()

    @classmethod
    def load(cls, directory: str | Path, sources: Iterable[str] | None = None) -> "SqlProject":
        return cls(load_models(directory), sources)

    def __getitem__(self, name: str) -> SqlModel:
        try:
            return self.models[name]
        except KeyError:
            raise KeyError(f"no SQL model named {name!r} (known: {', '.join(sorted(self.models))})") from None

    def _toposort(self) -> list[str]:
        indegree = {n: len(m.refs) for n, m in self.models.items()}
        ready = [n for n, d in indegree.items() if d == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            n = heapq.heappop(ready)
            order.append(n)
            for d in self.downstream(n):
                indegree[d] -= 1
                if indegree[d] == 0:
                    heapq.heappush(ready, d)
        if len(order) < len(self.models):
            stuck = sorted(set(self.models) - set(order))
            first = self.models[stuck[0]]
            line = next((c.line for c in first.calls if c.fn == "ref" and c.args[0] in stuck), None)
            raise first.error(line, f"ref() cycle among models: {', '.join(stuck)}")
        return order

    def order(self, select: Iterable[str] | None = None) -> list[str]:
        """Model names in dependency order (deterministic: ties broken by name)."""
        if select is None:
            return list(self._order)
        wanted = {self[n].name for n in select}
        return [n for n in self._order if n in wanted]

    def upstream(self, name: str) -> tuple[str, ...]:
        return self[name].refs

    def downstream(self, name: str) -> tuple[str, ...]:
        return tuple(sorted(n for n, m in self.models.items() if name in m.refs))

    def compile(self, name: str, dialect: str, tenant_id: str | None = None, *,
                vars: Mapping[str, Any] | None = None) -> CompiledModel:
        """Render ``name`` for ``dialect`` and ``tenant_id`` (None: a ``:tenant`` placeholder, for display)."""
        model = self[name]
        if model.materialized == "view" and dialect == "postgresql":
            tenant_expr = PG_TENANT_SETTING
        elif tenant_id is None:
            tenant_expr = DISPLAY_TENANT
        else:
            try:
                tenant_expr = tenant_literal(tenant_id)
            except RenderError as exc:
                raise model.error(None, str(exc)) from None
        ctx = RenderContext(dialect, tenant_expr, {n: m.relation for n, m in self.models.items()}, self.sources,
                            dict(vars or {}))
        sql = render(model, ctx)
        select = f"SELECT CAST({tenant_expr} AS VARCHAR(64)) AS tenant_id, sqlm_model.* FROM (\n{sql}\n) AS sqlm_model"
        return CompiledModel(model.name, model.path, dialect, model.materialized, model.relation, sql, select)


__all__ = ["SqlProject", "CompiledModel", "SqlModelError", "default_sources"]
