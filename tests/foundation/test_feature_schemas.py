"""Feature schema versions: every released version pinned by its snapshot, the current recipes pinned to the
latest version (a recipe change without a new version fails here), and the forward path both ways."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from feature_schema_support import FS1, GENTLE, STRICT, successor
from hypothesis import given, settings
from hypothesis import strategies as st

from thunderline.contracts import FEATURE_SCHEMA_VERSION
from thunderline.feature_schemas import CHAIN, Add, Drop, FeatureSchemaError, Rename, SchemaChain, adapt_frame

SNAPSHOT = Path(__file__).parent / "snapshots" / "feature_schemas.json"


def test_every_released_version_matches_its_checked_in_snapshot():
    pinned = json.loads(SNAPSHOT.read_text())
    assert [s["version"] for s in pinned] == [s.version for s in CHAIN.schemas], (
        "a feature schema version was added or removed: append its snapshot (never edit a released one)")
    for snap, schema in zip(pinned, CHAIN.schemas):
        assert schema.to_json() == snap, f"released feature schema {schema.version} changed; declare a new version"


def test_the_current_recipes_are_the_latest_version():
    from thunderline.edgar import FEATURE_NAMES
    from thunderline.market.features import COARSE_RECIPE, FULL_RECIPE

    latest = CHAIN[CHAIN.latest]
    assert FEATURE_SCHEMA_VERSION == CHAIN.latest
    current = {"market.full": FULL_RECIPE.feature_names, "market.coarse": COARSE_RECIPE.feature_names,
               "edgar": tuple(FEATURE_NAMES)}
    for name, feats in current.items():
        assert tuple(feats) == latest.recipes[name], (
            f"recipe {name} no longer matches feature schema {latest.version}: add a new version with its "
            "forward migration in thunderline/feature_schema_versions.py and bump FEATURE_SCHEMA_VERSION")


def _fs1_frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({f: rng.normal(size=n) for f in sorted(FS1.features)})


def test_old_windows_read_forward_rename_backfill_drop():
    old = _fs1_frame(20)
    new = adapt_frame(old, "fs-1", "fs-2", chain=STRICT)
    assert set(new.columns) == set(STRICT["fs-2"].features)
    np.testing.assert_array_equal(new["spread_bps_mid"], old["spread_bps"])
    np.testing.assert_array_equal(new["spread_half"], old["spread"] / 2)
    assert "microburst" not in new and "ofi_5" not in new


def test_new_windows_read_by_an_older_reader_or_refused_naming_feature_and_version():
    new = adapt_frame(_fs1_frame(10), "fs-1", "fs-2", chain=STRICT)
    old = adapt_frame(new, "fs-2", "fs-1", needed=["spread_bps", "ofi_5", "mid_return"], chain=STRICT)
    np.testing.assert_array_equal(old["spread_bps"], new["spread_bps_mid"])
    assert (old["ofi_5"] == 0.0).all() and "spread_half" not in old  # restored by its rule; new one ignored
    with pytest.raises(FeatureSchemaError, match=r"'microburst'.*fs-2.*fs-1"):
        adapt_frame(new, "fs-2", "fs-1", needed=["microburst"], chain=STRICT)
    with pytest.raises(FeatureSchemaError, match="unknown feature schema version 'fs-9'"):
        adapt_frame(new, "fs-9", "fs-1", chain=STRICT)


def test_a_migration_that_does_not_produce_the_declared_recipes_is_rejected():
    bad = successor(FS1, "fs-2", (Rename("spread_bps", "spread_bps_mid"),))
    bad = type(bad)("fs-2", {**bad.recipes, "market.full": bad.recipes["market.full"] + ("undeclared",)},
                    bad.forward)
    with pytest.raises(ValueError, match="undeclared"):
        SchemaChain((FS1, bad))
    with pytest.raises(ValueError, match="drop nope"):
        SchemaChain((FS1, successor(FS1, "fs-2", (Drop("nope"),))))
    with pytest.raises(ValueError, match="add spread"):
        SchemaChain((FS1, successor(FS1, "fs-2", (Add("spread", "0"),))))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30), st.integers(0, 2**31 - 1))
def test_forward_then_back_is_the_identity_on_every_kept_feature(values, seed):
    old = _fs1_frame(len(values), seed)
    old["spread_bps"] = values
    back = adapt_frame(adapt_frame(old, "fs-1", "fs-2", chain=GENTLE), "fs-2", "fs-1",
                       needed=sorted(FS1.features), chain=GENTLE)
    pd.testing.assert_frame_equal(back[sorted(FS1.features)], old[sorted(FS1.features)])
