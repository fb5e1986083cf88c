"""EDGAR features of one filing, computed only from what was public at its acceptance.

Fundamentals are read from the filing's **own reporting period** (instants at the period end;
flows ending at the period end over a year for 10-K/20-F/40-F, a quarter - else the year to date -
for a 10-Q), each field trying several concept names in order (US GAAP, then IFRS). Deltas and
ratios compare against the **previous filings' own states** - the values those filings reported
when they were accepted, not the restated comparatives in the current filing - so a backtest sees
exactly what a reader saw:

* ``*_pop_*``: against the latest earlier-period filing of the same CIK known at acceptance
  (flows only when the two periods have the same length, +-15 days);
* ``*_yoy_*``: against the same-family filing whose period ended ~1 year earlier (350..380 days).

Feature names are stable strings; a feature that cannot be computed is *absent* (not NaN) so
windows serialise to strict JSON. ``FEATURE_NAMES`` lists every name the recipe can emit.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal

from thunderline.edgar.html_sections import SECTION_ROLES, form_family
from thunderline.edgar.lexicon import LEXICON_VERSION, OWN_LISTS, LMDictionary
from thunderline.edgar.text_features import TextStats, cosine, text_stats

RECIPE_VERSION = f"edgar-r1+{LEXICON_VERSION}"

FUNDAMENTAL_CONCEPTS: dict[str, tuple[str, ...]] = {
    "revenue": (
        "us-gaap:Revenues",
        "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax",
        "us-gaap:RevenueFromContractWithCustomerIncludingAssessedTax",
        "us-gaap:SalesRevenueNet",
        "us-gaap:SalesRevenueGoodsNet",
        "us-gaap:SalesRevenueServicesNet",
        "us-gaap:RevenuesNetOfInterestExpense",
        "ifrs-full:Revenue",
        "ifrs-full:RevenueFromContractsWithCustomers",
    ),
    "net_income": (
        "us-gaap:NetIncomeLoss",
        "us-gaap:ProfitLoss",
        "us-gaap:NetIncomeLossAvailableToCommonStockholdersBasic",
        "ifrs-full:ProfitLossAttributableToOwnersOfParent",
        "ifrs-full:ProfitLoss",
    ),
    "operating_income": ("us-gaap:OperatingIncomeLoss", "ifrs-full:ProfitLossFromOperatingActivities"),
    "eps_diluted": (
        "us-gaap:EarningsPerShareDiluted",
        "us-gaap:EarningsPerShareBasicAndDiluted",
        "us-gaap:EarningsPerShareBasic",
        "ifrs-full:DilutedEarningsLossPerShare",
        "ifrs-full:BasicAndDilutedEarningsLossPerShare",
        "ifrs-full:BasicEarningsLossPerShare",
    ),
    "total_assets": ("us-gaap:Assets", "ifrs-full:Assets"),
    "total_liabilities": ("us-gaap:Liabilities", "ifrs-full:Liabilities"),
    "equity": (
        "us-gaap:StockholdersEquity",
        "us-gaap:StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest",
        "ifrs-full:EquityAttributableToOwnersOfParent",
        "ifrs-full:Equity",
    ),
    "cash": (
        "us-gaap:CashAndCashEquivalentsAtCarryingValue",
        "us-gaap:Cash",
        "us-gaap:CashCashEquivalentsRestrictedCashAndRestrictedCashEquivalents",
        "ifrs-full:CashAndCashEquivalents",
    ),
    "operating_cash_flow": (
        "us-gaap:NetCashProvidedByUsedInOperatingActivities",
        "us-gaap:NetCashProvidedByUsedInOperatingActivitiesContinuingOperations",
        "ifrs-full:CashFlowsFromUsedInOperatingActivities",
    ),
}
#: Identities used when a total is not tagged (assets = liabilities + equity).
_TOTAL_L_AND_E = ("us-gaap:LiabilitiesAndStockholdersEquity", "ifrs-full:EquityAndLiabilities")
FLOW_FIELDS = ("revenue", "net_income", "operating_income", "eps_diluted", "operating_cash_flow")
STOCK_FIELDS = ("total_assets", "total_liabilities", "equity", "cash")
FIELDS = FLOW_FIELDS + STOCK_FIELDS
RATIOS = ("net_margin", "operating_margin", "leverage", "cash_to_assets", "accruals")
TEXT_ROLES = tuple(SECTION_ROLES)
ANNUAL_FAMILIES = ("10-K", "20-F", "40-F")


@dataclass(frozen=True)
class Pick:
    """One fundamental value as reported: exact value, the concept and period it came from."""

    value: Decimal
    concept: str
    unit: str
    start: str | None
    end: str

    @property
    def days(self) -> int | None:
        if self.start is None:
            return None
        return (dt.date.fromisoformat(self.end) - dt.date.fromisoformat(self.start)).days + 1


@dataclass(frozen=True)
class FilingState:
    """What later filings of the same CIK need from this one, frozen at its acceptance."""

    cik: int
    accession: str
    form: str
    family: str | None
    period_end: str | None
    accepted_at_us: int
    picks: dict[str, Pick] = field(default_factory=dict)
    text: dict[str, TextStats] = field(default_factory=dict)
    section_confidence: dict[str, float] = field(default_factory=dict)


def _family(form: str) -> str | None:
    fam = form_family(form)
    if fam is None and form.upper().replace("/A", "") in ("40-F",):
        return "40-F"
    return fam


def _is_monetary(unit: str) -> bool:
    return "/" not in unit and unit.lower() not in ("shares", "pure") and len(unit) == 3 and unit.isupper()


def _days(start: str, end: str) -> int:
    return (dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days + 1


def _end_matches(end: str | None, target: str, tol: int) -> bool:
    if end is None:
        return False
    if end == target:
        return True
    if tol == 0:
        return False
    return abs((dt.date.fromisoformat(end) - dt.date.fromisoformat(target)).days) <= tol


def pick_fundamentals(facts: list[dict], period_end: str | None, family: str | None) -> dict[str, Pick]:
    """The filing's own-period value of each field (see module docstring). Non-dimensional facts only."""
    if not period_end or family not in ("10-K", "10-Q", "20-F", "40-F"):
        return {}
    annual = family in ANNUAL_FAMILIES
    by_concept: dict[str, list[dict]] = {}
    for f in facts:
        if not f["dims"]:
            by_concept.setdefault(f["concept"], []).append(f)

    def best_flow(rows: list[dict], tol: int) -> dict | None:
        cands = [r for r in rows if r["period_start"] and _end_matches(r["period_end"], period_end, tol)]
        if not cands:
            return None
        if annual:
            good = [r for r in cands if 350 <= _days(r["period_start"], r["period_end"]) <= 380]
            return good[0] if good else None
        quarter = [r for r in cands if 80 <= _days(r["period_start"], r["period_end"]) <= 100]
        if quarter:
            return quarter[0]
        return min(cands, key=lambda r: _days(r["period_start"], r["period_end"]))  # shortest = YTD

    picks: dict[str, Pick] = {}
    for name, concepts in FUNDAMENTAL_CONCEPTS.items():
        flow = name in FLOW_FIELDS
        for tol in (0, 7):
            chosen = None
            for concept in concepts:
                rows = by_concept.get(concept, [])
                if name == "eps_diluted":
                    rows = [r for r in rows if r["unit"].endswith("/shares")]
                else:
                    rows = [r for r in rows if _is_monetary(r["unit"])]
                if flow:
                    r = best_flow(rows, tol)
                else:
                    r = next((x for x in rows if x["period_start"] is None and _end_matches(x["period_end"], period_end, tol)), None)
                if r is not None:
                    chosen = Pick(Decimal(r["value"]), concept, r["unit"], r["period_start"], r["period_end"])
                    break
            if chosen is not None:
                picks[name] = chosen
                break
    # identities for untagged totals
    if "total_assets" not in picks or ("total_liabilities" not in picks and "equity" in picks):
        for concept in _TOTAL_L_AND_E:
            rows = [r for r in by_concept.get(concept, []) if r["period_start"] is None and _end_matches(r["period_end"], period_end, 7)]
            if not rows:
                continue
            tle = Pick(Decimal(rows[0]["value"]), concept, rows[0]["unit"], None, rows[0]["period_end"])
            if "total_assets" not in picks:
                picks["total_assets"] = tle
            eq = picks.get("equity")
            if "total_liabilities" not in picks and eq is not None and eq.unit == tle.unit:
                picks["total_liabilities"] = Pick(tle.value - eq.value, f"{concept}-{eq.concept}", tle.unit, None, tle.end)
            break
    # net income over the operating-cash-flow period, for accruals (10-Q cash flows are year to date)
    ocf = picks.get("operating_cash_flow")
    if ocf is not None:
        for concept in FUNDAMENTAL_CONCEPTS["net_income"]:
            r = next((x for x in by_concept.get(concept, []) if x["period_start"] == ocf.start and x["period_end"] == ocf.end
                      and x["unit"] == ocf.unit), None)
            if r is not None:
                picks["net_income_ocf_period"] = Pick(Decimal(r["value"]), concept, r["unit"], r["period_start"], r["period_end"])
                break
    return picks


def _f(d: Decimal | None) -> float | None:
    return None if d is None else float(d)


def _div(a: Decimal | None, b: Decimal | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return float(a / b)


def ratios(picks: dict[str, Pick], prev_assets: Pick | None = None) -> dict[str, float]:
    g = {k: v.value for k, v in picks.items()}
    out: dict[str, float | None] = {
        "net_margin": _div(g.get("net_income"), g.get("revenue")) if _same_period(picks, "net_income", "revenue") else None,
        "operating_margin": _div(g.get("operating_income"), g.get("revenue")) if _same_period(picks, "operating_income", "revenue") else None,
        "leverage": _div(g.get("total_liabilities"), g.get("total_assets")),
        "cash_to_assets": _div(g.get("cash"), g.get("total_assets")),
    }
    ni, ocf, ta = g.get("net_income_ocf_period"), g.get("operating_cash_flow"), g.get("total_assets")
    if ni is not None and ocf is not None and ta is not None:
        avg = (ta + prev_assets.value) / 2 if prev_assets is not None and prev_assets.unit == picks["total_assets"].unit else ta
        out["accruals"] = _div(ni - ocf, avg)
    return {k: v for k, v in out.items() if v is not None and math.isfinite(v)}


def _same_period(picks: dict[str, Pick], a: str, b: str) -> bool:
    pa, pb = picks.get(a), picks.get(b)
    return pa is not None and pb is not None and pa.start == pb.start and pa.end == pb.end


def _comparable(cur: Pick, prev: Pick, flow: bool) -> bool:
    if cur.unit != prev.unit:
        return False
    if not flow:
        return True
    if cur.days is None or prev.days is None:
        return False
    return abs(cur.days - prev.days) <= 15


def fundamental_features(state: FilingState, previous: FilingState | None, year_ago: FilingState | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in FIELDS:
        p = state.picks.get(name)
        if p is None:
            continue
        out[f"fund_{name}"] = float(p.value)
        if p.days is not None and name in ("revenue", "net_income") and "fund_flow_period_days" not in out:
            out["fund_flow_period_days"] = float(p.days)
        for tag, other in (("pop", previous), ("yoy", year_ago)):
            q = other.picks.get(name) if other is not None else None
            if q is None or not _comparable(p, q, name in FLOW_FIELDS):
                continue
            out[f"fund_{name}_{tag}_delta"] = float(p.value - q.value)
            if q.value != 0:
                out[f"fund_{name}_{tag}_pct"] = float((p.value - q.value) / abs(q.value))
    prev_assets = previous.picks.get("total_assets") if previous is not None else None
    cur_r = ratios(state.picks, prev_assets)
    for k, v in cur_r.items():
        out[f"ratio_{k}"] = v
    for tag, other in (("pop", previous), ("yoy", year_ago)):
        if other is None:
            continue
        o_r = ratios(other.picks)
        for k, v in cur_r.items():
            if k in o_r and (k in ("leverage", "cash_to_assets") or _flows_comparable(state, other)):
                out[f"ratio_{k}_{tag}_delta"] = v - o_r[k]
    return out


def _flows_comparable(a: FilingState, b: FilingState) -> bool:
    pa, pb = a.picks.get("revenue") or a.picks.get("net_income"), b.picks.get("revenue") or b.picks.get("net_income")
    return pa is not None and pb is not None and _comparable(pa, pb, True)


def section_text_stats(sections: dict[str, dict], form: str, lm: LMDictionary | None) -> tuple[dict[str, TextStats], dict[str, float]]:
    stats: dict[str, TextStats] = {}
    conf: dict[str, float] = {}
    fam = form_family(form)
    for role, keys in SECTION_ROLES.items():
        key = keys.get(fam or "")
        sec = sections.get(key) if key else None
        if sec is None:
            continue
        stats[role] = text_stats(sec["text"], lm)
        conf[role] = float(sec["confidence"])
    return stats, conf


def text_features(state: FilingState, previous_same_family: FilingState | None, year_ago: FilingState | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for role, st in state.text.items():
        p = f"text_{role}"
        out[f"{p}_words"] = float(st.words)
        out[f"{p}_confidence"] = state.section_confidence.get(role, float("nan"))
        if st.words:
            out[f"{p}_fog"] = st.fog
            for name in OWN_LISTS:
                out[f"{p}_{name}_per_1k"] = st.per_1k(st.lexicon[name])
            if st.lm is not None:
                for name, c in st.lm.items():
                    out[f"{p}_lm_{name}_per_1k"] = st.per_1k(c)
                pos, neg = st.lm.get("positive", 0), st.lm.get("negative", 0)
                if pos + neg:
                    out[f"{p}_lm_tone"] = (pos - neg) / (pos + neg)
        prev = previous_same_family.text.get(role) if previous_same_family is not None else None
        if prev is not None and prev.words and st.words:
            out[f"{p}_log_words_change"] = math.log(st.words / prev.words)
        ya = year_ago.text.get(role) if year_ago is not None else None
        if ya is not None:
            sim = cosine(st, ya)
            if math.isfinite(sim):
                out[f"{p}_sim_yoy"] = sim
    return {k: v for k, v in out.items() if isinstance(v, float) and math.isfinite(v)}


def _feature_names() -> tuple[str, ...]:
    names = []
    for f in FIELDS:
        names.append(f"fund_{f}")
        for tag in ("pop", "yoy"):
            names += [f"fund_{f}_{tag}_delta", f"fund_{f}_{tag}_pct"]
    names.append("fund_flow_period_days")
    for r in RATIOS:
        names += [f"ratio_{r}", f"ratio_{r}_pop_delta", f"ratio_{r}_yoy_delta"]
    for role in TEXT_ROLES:
        p = f"text_{role}"
        names += [f"{p}_words", f"{p}_confidence", f"{p}_fog", f"{p}_log_words_change", f"{p}_sim_yoy"]
        names += [f"{p}_{n}_per_1k" for n in OWN_LISTS]
        names += [f"{p}_lm_{n}_per_1k" for n in ("negative", "positive", "uncertainty", "litigious", "strong_modal", "weak_modal", "constraining")]
        names.append(f"{p}_lm_tone")
    names += ["doc_sections", "doc_min_section_confidence", "doc_facts", "doc_has_sections", "doc_has_facts", "doc_is_amendment"]
    return tuple(names)


FEATURE_NAMES = _feature_names()
