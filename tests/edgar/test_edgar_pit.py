"""Point-in-time join: never a window before it was available, never an open one, dated tickers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thunderline.contracts import FeatureWindow
from thunderline.edgar import asof_join, build_windows, windows_frame
from thunderline.edgar.demo_filings import DEMO_CIK, DEMO_IFRS_CIK, demo_ticker_map, parse_demo
from thunderline.edgar.times import eastern_wall_to_us


@pytest.fixture(scope="module")
def demo_windows(demo_dir):
    return build_windows(parse_demo(demo_dir, "t"))


def _et(*args) -> int:
    return eastern_wall_to_us(dt.datetime(*args))


def test_demo_join_no_look_ahead(demo_windows):
    acc = [w.provenance["accession"] for w in demo_windows]
    tm = demo_ticker_map()
    k23 = _et(2024, 2, 20, 16, 5)  # FY2023 10-K acceptance
    k24 = _et(2025, 2, 18, 17, 45, 12)
    k24a = _et(2025, 3, 14, 9, 30)
    times = np.array([k23 - 1, k23, _et(2024, 8, 1), k24 - 1, k24, k24a - 1, k24a, _et(2025, 6, 1)], dtype=np.int64)
    r_old = asof_join(times[:3], "TLDX", demo_windows, tm)
    assert [acc[i] if i >= 0 else None for i in r_old.indices] == [None, "0000999001-24-000010", None]
    r = asof_join(times, "TLDM", demo_windows, tm, feature_names=("fund_revenue", "fund_net_income"))
    got = [acc[i] if i >= 0 else None for i in r.indices]
    assert got == [None, None, "0000999001-24-000010", "0000999001-24-000010", "0000999001-25-000008",
                   "0000999001-25-000008", "0000999001-25-000021", "0000999001-25-000030"]
    # between the original 10-K and its amendment, the (now superseded) original is what was known
    assert demo_windows[acc.index("0000999001-25-000008")].status == "superseded"
    assert r.features[4, 1] == 171e6 and r.features[6, 1] == -12.5e6
    assert np.isnan(r.features[0]).all()
    assert (r.cik[2:] == DEMO_CIK).all() and (r.cik[:2] == -1).all()  # TLDM starts 2024-07-01


def test_reused_ticker_maps_to_the_new_company(demo_windows):
    t = np.array([_et(2024, 3, 1), _et(2025, 4, 15)], dtype=np.int64)
    r = asof_join(t, "TLDX", demo_windows, demo_ticker_map())
    assert list(r.cik) == [DEMO_CIK, DEMO_IFRS_CIK]
    assert demo_windows[r.indices[1]].key == str(DEMO_IFRS_CIK)


def test_open_windows_are_never_joined(demo_dir):
    docs = [d for d in parse_demo(demo_dir, "t") if d.doc_kind != "xbrl_instance"]  # 10-Q XBRL not arrived
    ws = build_windows(docs)
    q = next(i for i, w in enumerate(ws) if w.provenance["accession"] == "0000999001-25-000030")
    assert ws[q].status == "open"
    r = asof_join(np.array([_et(2025, 6, 1)]), "TLDM", ws, demo_ticker_map())
    assert r.indices[0] != q and ws[r.indices[0]].provenance["accession"] == "0000999001-25-000021"


def test_dataframe_input_and_unsorted_times(demo_windows):
    names = ("fund_revenue",)
    df = windows_frame(demo_windows, names)
    t = np.array([_et(2025, 6, 1), _et(2024, 8, 1), _et(2025, 3, 1)], dtype=np.int64)
    a = asof_join(t, "TLDM", demo_windows, demo_ticker_map(), feature_names=names)
    b = asof_join(t, "TLDM", df, list(demo_ticker_map()), feature_names=names)
    assert list(a.indices) == list(b.indices)
    np.testing.assert_array_equal(a.features, b.features)


def test_overlapping_ticker_map_is_rejected(demo_windows):
    bad = [{"symbol": "X", "cik": 1, "valid_from_us": 0, "valid_to_us": 100},
           {"symbol": "X", "cik": 2, "valid_from_us": 50, "valid_to_us": None}]
    with pytest.raises(ValueError, match="overlap"):
        asof_join(np.array([10]), "X", demo_windows, bad)


# --------------------------------------------------------------------------- property test
def _reference(times, symbol, windows, tmap):
    out = []
    for t in times:
        cik = next((r["cik"] for r in tmap if r["symbol"] == symbol and r["valid_from_us"] <= t
                    and (r["valid_to_us"] is None or t < r["valid_to_us"])), None)
        best, best_key = -1, None
        for i, w in enumerate(windows):
            if cik is None or int(w.key) != cik or w.status not in ("filled", "superseded") or w.available_at_us > t:
                continue
            k = (w.available_at_us, w.window_end_us, w.provenance["accession"])
            if best_key is None or k >= best_key:
                best, best_key = i, k
        out.append(best)
    return out


_window = st.builds(
    lambda cik, avail, status, n: FeatureWindow(
        tenant_id="t", kind="edgar", key=str(cik), window_start_us=avail - 10, window_end_us=avail,
        available_at_us=avail, recipe_version="r", features={"x": float(n)},
        provenance={"accession": f"a{n}"}, status=status),
    st.integers(1, 3), st.integers(0, 1000), st.sampled_from(["open", "filled", "superseded"]), st.integers(0, 10**6),
)


@st.composite
def _ticker_map(draw):
    cuts = sorted(draw(st.lists(st.integers(1, 1000), min_size=0, max_size=4, unique=True)))
    bounds = [0] + cuts + [None]
    rows = []
    for a, b in zip(bounds, bounds[1:]):
        if draw(st.booleans()):
            rows.append({"symbol": "S", "cik": draw(st.integers(1, 3)), "valid_from_us": a, "valid_to_us": b})
    rows.append({"symbol": "OTHER", "cik": 1, "valid_from_us": 0, "valid_to_us": None})
    return rows


@settings(max_examples=300, deadline=None)
@given(st.lists(_window, max_size=25), _ticker_map(), st.lists(st.integers(-5, 1100), max_size=60))
def test_asof_join_matches_reference_and_never_looks_ahead(windows, tmap, times):
    t = np.array(times, dtype=np.int64)
    r = asof_join(t, "S", windows, tmap, feature_names=("x",))
    assert list(r.indices) == _reference(times, "S", windows, tmap)
    for ti, i, fx in zip(times, r.indices, r.features[:, 0] if len(times) else []):
        if i >= 0:
            w = windows[i]
            assert w.available_at_us <= ti  # no look-ahead
            assert w.status != "open"
            assert fx == w.features["x"]
        else:
            assert np.isnan(fx)
