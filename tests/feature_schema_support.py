"""A hypothetical next feature schema version, declared the way a real recipe change declares one.

``STRICT`` is ``fs-1`` and a test-only successor named ``fs-2`` that renames ``spread_bps``, adds
``spread_half`` with a backfill rule, drops ``ofi_5`` with a restore rule and ``microburst`` without
one; ``GENTLE`` is the same change with ``microburst`` renamed instead of dropped. Both test the
mechanism on a chain of their own. ``STRICT_NEXT`` / ``GENTLE_NEXT`` append the same change after the
*released* chain as version ``NEXT``, for tests that read windows the current recipes write (stamped
``CURRENT``).
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from thunderline.feature_schemas import CHAIN, Add, Drop, FeatureSchema, ForwardMigration, Rename, SchemaChain

FS1 = CHAIN["fs-1"]


def successor(prev: FeatureSchema, version: str, ops) -> FeatureSchema:
    """``prev``'s recipes with ``ops`` applied (renames in place, adds appended to market.full)."""
    recipes = {}
    for name, feats in prev.recipes.items():
        out = list(feats)
        for op in ops:
            if isinstance(op, Rename) and op.old in out:
                out[out.index(op.old)] = op.new
            elif isinstance(op, Drop) and op.name in out:
                out.remove(op.name)
            elif isinstance(op, Add) and name == "market.full":
                out.append(op.name)
        recipes[name] = tuple(out)
    return FeatureSchema(version, recipes, ForwardMigration(tuple(ops)))


STRICT_OPS = (Rename("spread_bps", "spread_bps_mid"), Add("spread_half", "spread / 2"),
              Drop("ofi_5", restore="0.0"), Drop("microburst"))
GENTLE_OPS = (Rename("spread_bps", "spread_bps_mid"), Add("spread_half", "spread / 2"),
              Rename("microburst", "burst_flag"))
STRICT = SchemaChain((FS1, successor(FS1, "fs-2", STRICT_OPS)))
GENTLE = SchemaChain((FS1, successor(FS1, "fs-2", GENTLE_OPS)))
CURRENT = CHAIN.latest
NEXT = f"fs-{int(CURRENT.split('-')[1]) + 1}"
STRICT_NEXT = SchemaChain((*CHAIN.schemas, successor(CHAIN[CURRENT], NEXT, STRICT_OPS)))
GENTLE_NEXT = SchemaChain((*CHAIN.schemas, successor(CHAIN[CURRENT], NEXT, GENTLE_OPS)))


def as_version(windows, chain: SchemaChain, version: str = "fs-2", base: str = "fs-1"):
    """The windows as a recipe of ``version`` would have written them (features migrated forward)."""
    from thunderline.feature_schemas import adapt_frame

    frame = pd.DataFrame([w.features for w in windows])
    moved = adapt_frame(frame, base, version, chain=chain)
    return [dataclasses.replace(w, features={k: float(v) for k, v in row.items() if pd.notna(v)},
                                feature_schema_version=version)
            for w, row in zip(windows, moved.to_dict("records"))]
