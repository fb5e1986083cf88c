"""The vocabulary of feature schema versions: a version, its forward migration ops, the chain.

Why a module of its own: the released versions (:mod:`thunderline.feature_schema_versions`) are
declared in these terms and the adapter (:mod:`thunderline.feature_schemas`) reads them; both sit
above this module, so neither imports the other back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from thunderline.hashing import content_hash


class FeatureSchemaError(ValueError):
    """Windows of one feature schema version cannot be read as another; the message names feature and versions."""


@dataclass(frozen=True)
class Rename:
    old: str
    new: str


@dataclass(frozen=True)
class Add:
    name: str
    backfill: str  # pandas.eval expression over the predecessor's features


@dataclass(frozen=True)
class Drop:
    name: str
    restore: str | None = None  # pandas.eval expression over the successor's features, or refused


@dataclass(frozen=True)
class ForwardMigration:
    ops: tuple[Rename | Add | Drop, ...]


@dataclass(frozen=True)
class FeatureSchema:
    version: str
    recipes: Mapping[str, tuple[str, ...]]  # recipe family -> ordered feature names
    forward: ForwardMigration | None = None  # from the previous version; None for the first

    @property
    def features(self) -> frozenset[str]:
        return frozenset(f for names in self.recipes.values() for f in names)

    def to_json(self) -> dict:
        ops = [] if self.forward is None else [
            {"op": type(o).__name__.lower(), **{k: v for k, v in vars(o).items()}} for o in self.forward.ops]
        return {"version": self.version, "recipes": {k: list(v) for k, v in sorted(self.recipes.items())},
                "forward": ops, "hash": content_hash({"recipes": {k: list(v) for k, v in self.recipes.items()},
                                                       "forward": ops})}


class SchemaChain:
    """The ordered, linear versions; validates each forward migration against its neighbours."""

    def __init__(self, schemas: Sequence[FeatureSchema]) -> None:
        self.schemas = tuple(schemas)
        self.order = {s.version: i for i, s in enumerate(self.schemas)}
        if len(self.order) != len(self.schemas) or not self.schemas or self.schemas[0].forward is not None:
            raise ValueError("feature schema chain: unique versions, the first without a forward migration")
        for prev, cur in zip(self.schemas, self.schemas[1:]):
            _check_migration(prev, cur)

    @property
    def latest(self) -> str:
        return self.schemas[-1].version

    def index(self, version: str) -> int:
        if version not in self.order:
            raise FeatureSchemaError(f"unknown feature schema version {version!r}; known: {list(self.order)}")
        return self.order[version]

    def __getitem__(self, version: str) -> FeatureSchema:
        return self.schemas[self.index(version)]


def _check_migration(prev: FeatureSchema, cur: FeatureSchema) -> None:
    if cur.forward is None:
        raise ValueError(f"feature schema {cur.version}: no forward migration from {prev.version}")
    have = set(prev.features)
    for op in cur.forward.ops:
        if isinstance(op, Rename):
            if op.old not in have or op.new in have:
                raise ValueError(f"{cur.version}: rename {op.old}->{op.new} does not fit {prev.version}")
            have = (have - {op.old}) | {op.new}
        elif isinstance(op, Add):
            if op.name in have:
                raise ValueError(f"{cur.version}: add {op.name}, already in {prev.version}")
            have.add(op.name)
        elif op.name not in have:
            raise ValueError(f"{cur.version}: drop {op.name}, not in {prev.version}")
        else:
            have.discard(op.name)
    if have != set(cur.features):
        raise ValueError(f"{cur.version}: {prev.version} migrated by its ops gives {sorted(have ^ set(cur.features))} "
                         "that differ from its recipes (declare every rename/add/drop)")
