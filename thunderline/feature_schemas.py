"""Feature schema versions and their declared forward path.

Why: a window's features are stored as a name → value map stamped with
``feature_schema_version``; a recipe change (a renamed, new or dropped feature)
must not silently turn an expert's or a training slice's input into NaN. Every
version pins the ordered features of each recipe (``market.full``,
``market.coarse``, ``edgar``); every version after the first declares a
:class:`ForwardMigration` from its predecessor made of three operations:

* :class:`Rename` ``old → new`` (same meaning, new name);
* :class:`Add` ``name`` with a **backfill rule**: a ``pandas.eval`` expression
  over the predecessor's features (``"spread / 2"``, or a constant ``"0.0"``)
  that computes it for windows written before it existed;
* :class:`Drop` ``name``, optionally with a ``restore`` expression over the
  successor's features for readers that still need it.

Reading windows of version W as version R (:func:`adapt_frame`):

* W older than R: the migrations W → R run forward (rename, backfill, drop);
* W newer than R (an expert or slice trained on N reading windows of N+1): they
  run backwards — a renamed feature is read under its old name, a new one is
  ignored, a dropped one is restored by its rule or the read is **refused** with
  :class:`FeatureSchemaError` naming the feature and both versions.

The chain is linear and append-only; ``tests/foundation/test_feature_schemas.py``
pins every version against its checked-in snapshot and the current recipes
against the latest version, so a recipe change without a new version fails.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from thunderline.feature_schema_model import (  # noqa: F401  (re-exported: the public names live here)
    Add,
    Drop,
    FeatureSchema,
    FeatureSchemaError,
    ForwardMigration,
    Rename,
    SchemaChain,
)
from thunderline.feature_schema_versions import RELEASED


def _eval(frame: pd.DataFrame, expr: str, what: str) -> np.ndarray:
    try:
        out = frame.eval(expr, engine="python") if not _is_number(expr) else float(expr)
    except Exception as exc:  # an undefined name or a bad expression: say which rule
        raise FeatureSchemaError(f"{what}: rule {expr!r} cannot be evaluated on columns "
                                 f"{sorted(map(str, frame.columns))}: {exc}") from exc
    return np.broadcast_to(np.asarray(out, dtype=np.float64), (len(frame),)).copy()


def _is_number(expr: str) -> bool:
    try:
        float(expr)
        return True
    except ValueError:
        return False


def _forward(frame: pd.DataFrame, m: ForwardMigration, needed: set[str]) -> pd.DataFrame:
    out = frame.copy()
    for op in m.ops:
        if isinstance(op, Add) and needed and op.name not in needed:
            continue  # backfilled only for a reader that reads it
        if isinstance(op, Rename):
            out = out.drop(columns=[op.new], errors="ignore").rename(columns={op.old: op.new})
        elif isinstance(op, Add):
            out[op.name] = _eval(out, op.backfill, f"backfill of {op.name!r}")
        else:
            out = out.drop(columns=[op.name], errors="ignore")
    return out


def _backward(frame: pd.DataFrame, schema: FeatureSchema, prev: str, needed: set[str], reader: str) -> pd.DataFrame:
    out = frame.copy()
    for op in reversed(schema.forward.ops):
        if isinstance(op, Rename):
            out = out.drop(columns=[op.old], errors="ignore").rename(columns={op.new: op.old})
        elif isinstance(op, Add):
            out = out.drop(columns=[op.name], errors="ignore")
        elif op.restore is not None:
            out[op.name] = _eval(out, op.restore, f"restore of {op.name!r} (dropped in {schema.version})")
        elif op.name in needed:
            raise FeatureSchemaError(
                f"feature {op.name!r} (read as schema {reader}) was dropped in feature schema {schema.version} "
                f"without a restore rule: windows of {schema.version} cannot feed a reader of {prev}; "
                "retrain it on the new version")
    return out


def adapt_frame(frame: pd.DataFrame, window_version: str, reader_version: str, needed: Iterable[str] = (),
                chain: SchemaChain | None = None) -> pd.DataFrame:
    """``frame`` (features of windows of ``window_version``) as ``reader_version`` names them.

    ``needed`` empty means every feature (all backfills run). Columns not touched by a migration pass through (a column already named like a rename's target is
    replaced: in a frame of mixed versions it holds the other versions' NaN); ``needed`` are the reader's features (a dropped
    one without a restore rule refuses the read). Identity when the versions are equal."""
    chain = chain or CHAIN
    w, r = chain.index(window_version), chain.index(reader_version)
    out = frame
    needed_set = set(needed)
    for i in range(w + 1, r + 1):
        try:
            out = _forward(out, chain.schemas[i].forward, needed_set)
        except FeatureSchemaError as exc:  # a backfill that cannot run: say which windows and which reader
            raise FeatureSchemaError(f"windows of feature schema {window_version} cannot be read as {reader_version} "
                                     f"(migration to {chain.schemas[i].version}): {exc}") from exc
    for i in range(w, r, -1):
        out = _backward(out, chain.schemas[i], chain.schemas[i - 1].version, needed_set, reader_version)
    return out


def adapt_rows(frame: pd.DataFrame, window_versions: Sequence[str], reader_version: str,
               needed: Sequence[str], chain: SchemaChain | None = None) -> pd.DataFrame:
    """Per row, ``needed`` columns read as ``reader_version`` from windows of mixed versions (same index)."""
    versions = np.asarray(window_versions, dtype=object)
    groups = sorted(set(versions.tolist()))
    if groups == [reader_version]:
        return frame
    out = frame.copy()
    for v in groups:
        rows = np.flatnonzero(versions == v)
        part = adapt_frame(frame.iloc[rows], v, reader_version, needed, chain)
        for f in needed:
            if f in part.columns:
                if f not in out.columns:
                    out[f] = np.nan
                out.iloc[rows, out.columns.get_loc(f)] = part[f].to_numpy(np.float64)
    return out


CHAIN = SchemaChain(RELEASED)
