"""EDGAR feature windows: merge a filing's documents, decide open / filled / superseded. Pure logic.

A filing (one accession) may arrive in pieces: the primary HTML (sections), the XBRL (facts),
companyfacts rows, a submissions-JSON row (acceptance time only). The window of the filing is

* ``open``    - only sections or only facts have arrived;
* ``filled``  - both have (inline XBRL and a full submission bring both at once; for a
  companyfacts-only source, or a form without Items (40-F, 6-K), facts alone fill; for current
  reports (8-K/6-K) sections alone fill);
* ``superseded`` - a later amendment (``10-K/A`` ...) of the same CIK, form family and period
  replaced it. Both windows are kept; the amendment's window carries forward whatever the
  amendment did not restate (a Part III-only 10-K/A keeps the original's numbers).

Window identity (``FeatureWindow.id``) does not include the status, so the filled window replaces
the open one. ``window_end_us = available_at_us = accepted_at_us`` (availability = acceptance);
``window_start_us`` is the start of the fiscal period derived from the header's period of report
(12 months for annual forms, 3 for quarterly), stable between the open and filled versions, or -
without a period - the previous filing's acceptance.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict

from thunderline.contracts import EDGARDoc, FeatureWindow
from thunderline.edgar import times
from thunderline.edgar.features import (
    ANNUAL_FAMILIES,
    RECIPE_VERSION,
    FilingState,
    _family,
    fundamental_features,
    pick_fundamentals,
    section_text_stats,
    text_features,
)
from thunderline.edgar.html_sections import form_family
from thunderline.edgar.lexicon import LMDictionary
from thunderline.edgar.xbrl_common import fact_key

STATUS_OPEN, STATUS_FILLED, STATUS_SUPERSEDED = "open", "filled", "superseded"
PERIODIC_FAMILIES = ("10-K", "10-Q", "20-F", "40-F")
CURRENT_REPORT_FORMS = ("8-K", "6-K")
_KIND_PRIORITY = {"submission": 0, "html": 1, "xbrl_instance": 2, "companyfacts": 3, "submissions_json": 9}


def is_amendment(form: str) -> bool:
    return form.upper().rstrip().endswith("/A")


def base_form(form: str) -> str:
    f = form.upper().strip()
    return f[:-2] if f.endswith("/A") else f


def window_status(docs: list[EDGARDoc], *, carried_sections: bool = False, carried_facts: bool = False) -> str:
    """open / filled for the documents of one filing (see module docstring)."""
    content = [d for d in docs if d.doc_kind != "submissions_json"]
    has_sections = carried_sections or any(d.sections for d in content)
    has_facts = carried_facts or any(d.xbrl_facts for d in content)
    if has_sections and has_facts:
        return STATUS_FILLED
    if has_facts and content and all(d.doc_kind == "companyfacts" for d in content if d.xbrl_facts or d.sections):
        return STATUS_FILLED
    form = content[0].form if content else ""
    if has_sections and base_form(form) in CURRENT_REPORT_FORMS:
        return STATUS_FILLED
    if has_facts and form_family(form) is None:  # e.g. 40-F: no Items to wait for
        return STATUS_FILLED
    return STATUS_OPEN


def _is_derived(accession: str) -> bool:
    return accession.startswith("derived:")


def group_filings(docs: list[EDGARDoc]) -> list[list[EDGARDoc]]:
    """Documents grouped by (tenant, CIK, accession). A document whose accession is *derived*
    (bare HTML / instance without one) joins the one real filing of the same tenant, CIK, form and
    period, if exactly one exists; otherwise it stays a filing of its own."""
    groups: dict[tuple, list[EDGARDoc]] = defaultdict(list)
    for d in docs:
        groups[(d.tenant_id, d.cik, d.accession)].append(d)
    real_by_fp: dict[tuple, list[tuple]] = defaultdict(list)
    for key, ds in groups.items():
        if not _is_derived(key[2]):
            for d in ds:
                if d.doc_kind != "submissions_json" or d.period_of_report:
                    real_by_fp[(key[0], key[1], d.form.upper(), d.period_of_report)].append(key)
    for key in [k for k in groups if _is_derived(k[2])]:
        ds = groups[key]
        d = ds[0]
        targets = sorted(set(real_by_fp.get((key[0], key[1], d.form.upper(), d.period_of_report), [])))
        if len(targets) == 1:
            groups[targets[0]].extend(groups.pop(key))
    return [groups[k] for k in sorted(groups, key=lambda k: (k[0], k[1], k[2]))]


def _ordered(docs: list[EDGARDoc]) -> list[EDGARDoc]:
    return sorted(docs, key=lambda d: (_KIND_PRIORITY.get(d.doc_kind, 5), d.source, d.accession))


def _acceptance(docs: list[EDGARDoc]) -> tuple[int, str]:
    best = min(docs, key=lambda d: (times.RULE_RANK.get(d.meta.get("accepted_at_rule", ""), 3), d.accepted_at_us))
    return best.accepted_at_us, best.meta.get("accepted_at_rule", "")


def _add_months(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.month - 1 + months, 12)
    y += d.year
    m += 1
    last = [31, 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
    return dt.date(y, m, min(d.day, last))


def period_start_us(period_end: str | None, family: str | None) -> int | None:
    """00:00 US/Eastern of the first day of the fiscal period ending ``period_end``."""
    if not period_end or family not in PERIODIC_FAMILIES:
        return None
    end = dt.date.fromisoformat(period_end)
    months = 12 if family in ANNUAL_FAMILIES else 3
    return times.start_of_day_eastern_us(_add_months(end, -months) + dt.timedelta(days=1))


def merge_accession(
    docs: list[EDGARDoc], *, previous: FilingState | None = None, previous_same_family: FilingState | None = None,
    year_ago: FilingState | None = None, amends: FilingState | None = None, lm: LMDictionary | None = None,
    recipe_version: str = RECIPE_VERSION,
) -> tuple[FeatureWindow, FilingState]:
    """The documents of one filing -> its FeatureWindow (status open/filled) and FilingState.

    ``previous`` / ``previous_same_family`` / ``year_ago`` are states of earlier filings of the same
    CIK *as known at this filing's acceptance* (``build_windows`` finds them); ``amends`` is the state
    of the filing this one amends (its fields are carried forward where this one is silent).
    """
    if not docs:
        raise ValueError("merge_accession: no documents")
    tenants = {d.tenant_id for d in docs}
    ciks = {d.cik for d in docs}
    if len(tenants) != 1 or len(ciks) != 1:
        raise ValueError(f"merge_accession: documents of several tenants/CIKs {sorted(tenants)} / {sorted(ciks)}")
    ordered = _ordered(docs)
    content = [d for d in ordered if d.doc_kind != "submissions_json"] or ordered
    real = [d.accession for d in ordered if not _is_derived(d.accession)]
    accession = real[0] if real else ordered[0].accession
    lead = content[0]
    form = lead.form.upper()
    family = _family(form)
    period = next((d.period_of_report for d in content if d.period_of_report), None)
    accepted_at, rule = _acceptance(ordered)

    sections = next((d.sections for d in content if d.sections), {})
    facts = _unique_facts(content)
    picks = pick_fundamentals(facts, period, family)
    text, conf = section_text_stats(sections, form, lm)
    carried = _carry_from_amended(amends, picks, text, conf)
    state = FilingState(ciks.pop(), accession, form, family, period, accepted_at, picks, text, conf)

    feats = fundamental_features(state, previous, year_ago)
    feats.update(text_features(state, previous_same_family, year_ago))
    feats.update(_document_features(sections, facts, amends, form))

    status = window_status(docs, carried_sections=bool(amends and amends.text), carried_facts=bool(amends and amends.picks))
    start = period_start_us(period, family)
    if start is None or start > accepted_at:
        start = previous.accepted_at_us if previous is not None and previous.accepted_at_us <= accepted_at else accepted_at
    provenance = {
        "cik": state.cik,
        "accession": accession,
        "form": form,
        "period_of_report": period,
        "accepted_at_rule": rule,
        "documents": [{"id": d.id, "kind": d.doc_kind, "source": d.source, "accession": d.accession} for d in ordered],
        "previous_accession": previous.accession if previous else None,
        "year_ago_accession": year_ago.accession if year_ago else None,
        "amends_accession": amends.accession if amends else None,
        "carried_from_amended": carried,
        "concepts": {k: v.concept for k, v in sorted(picks.items())},
        "section_warnings": [w for d in content for w in d.meta.get("section_warnings", [])][:50],
    }
    window = FeatureWindow(
        tenant_id=tenants.pop(), kind="edgar", key=str(state.cik), window_start_us=int(start),
        window_end_us=int(accepted_at), available_at_us=int(accepted_at), recipe_version=recipe_version,
        features=dict(sorted(feats.items())), provenance=provenance, status=status,
    )
    return window, state


def _unique_facts(content: list[EDGARDoc]) -> list[dict]:
    """The XBRL facts of all documents, the first of each fact key (documents in priority order)."""
    facts: list[dict] = []
    seen: set = set()
    for d in content:
        for f in d.xbrl_facts:
            k = fact_key(f)
            if k not in seen:
                seen.add(k)
                facts.append(f)
    return facts


def _carry_from_amended(amends: FilingState | None, picks: dict, text: dict, conf: dict) -> list[str]:
    """Fills, in place, the fundamentals and section texts this amendment is silent on from the filing it
    amends; returns what was carried (``fund:<key>``, ``text:<key>``) for the provenance."""
    carried: list[str] = []
    if amends is not None:
        for k, v in amends.picks.items():
            if k not in picks:
                picks[k] = v
                carried.append(f"fund:{k}")
        for k, v in amends.text.items():
            if k not in text:
                text[k] = v
                conf[k] = amends.section_confidence.get(k, float("nan"))
                carried.append(f"text:{k}")
    return carried


def _document_features(sections: dict, facts: list[dict], amends: FilingState | None, form: str) -> dict[str, float]:
    """What the filing's documents hold: section and fact counts, the weakest section split, whether
    sections/facts exist (carried ones count) and whether it is an amendment."""
    feats: dict[str, float] = {}
    confs = [float(s["confidence"]) for s in sections.values()]
    feats["doc_sections"] = float(len(sections))
    if confs:
        feats["doc_min_section_confidence"] = min(confs)
    feats["doc_facts"] = float(len(facts))
    feats["doc_has_sections"] = float(bool(sections) or bool(amends and amends.text))
    feats["doc_has_facts"] = float(bool(facts) or bool(amends and amends.picks))
    feats["doc_is_amendment"] = float(is_amendment(form))
    return feats


def supersede(original: FeatureWindow, amendment: FeatureWindow) -> tuple[FeatureWindow, FeatureWindow]:
    """Mark ``original`` superseded by ``amendment`` (both kept). The amendment must be of the same
    tenant and key and become available no earlier than the original; otherwise ValueError."""
    if (original.tenant_id, original.kind, original.key) != (amendment.tenant_id, amendment.kind, amendment.key):
        raise ValueError("supersede: windows of different tenant/kind/key")
    if amendment.available_at_us < original.available_at_us:
        raise ValueError("supersede: the amendment was available before the window it supersedes")
    if original.status == STATUS_SUPERSEDED:
        return original, amendment
    prov = dict(original.provenance)
    prov["superseded_by"] = amendment.provenance.get("accession")
    prov["superseded_at_us"] = amendment.available_at_us
    prov["status_before_supersede"] = original.status
    return dataclasses.replace(original, status=STATUS_SUPERSEDED, provenance=prov), amendment


def _days_between(a: str, b: str) -> int:
    return (dt.date.fromisoformat(b) - dt.date.fromisoformat(a)).days


def build_windows(docs: list[EDGARDoc], *, lm: LMDictionary | None = None, recipe_version: str = RECIPE_VERSION) -> list[FeatureWindow]:
    """All windows for a set of documents (any CIKs, any order): grouped per filing, processed per
    CIK in acceptance order so every comparison uses only earlier-accepted filings, amendments
    applied. Returns windows sorted by (tenant, key, available_at, accession)."""
    groups = [g for g in group_filings(docs) if any(d.doc_kind != "submissions_json" for d in g)]
    prepared = []
    for g in groups:
        acc, _ = _acceptance(g)
        lead = _ordered([d for d in g if d.doc_kind != "submissions_json"])[0]
        prepared.append((lead.tenant_id, lead.cik, acc, lead.accession, g))
    prepared.sort(key=lambda t: t[:4])
    windows: list[FeatureWindow] = []
    states: dict[tuple, list[FilingState]] = defaultdict(list)
    window_of: dict[str, int] = {}
    for tenant, cik, acc, _accn, g in prepared:
        known = [s for s in states[(tenant, cik)] if s.accepted_at_us <= acc]
        latest: dict[tuple, FilingState] = {}
        for s in known:  # latest version (amendments included) of each period
            if s.family in PERIODIC_FAMILIES and s.period_end:
                k = (s.family, s.period_end)
                if k not in latest or latest[k].accepted_at_us <= s.accepted_at_us:
                    latest[k] = s
        lead = _ordered([d for d in g if d.doc_kind != "submissions_json"])[0]
        fam = _family(lead.form)
        period = next((d.period_of_report for d in g if d.period_of_report and d.doc_kind != "submissions_json"), None)
        previous = prev_same = year_ago = amends = None
        if period and fam in PERIODIC_FAMILIES:
            earlier = [s for s in latest.values() if s.period_end < period]
            if earlier:
                previous = max(earlier, key=lambda s: (s.period_end, s.accepted_at_us))
                same = [s for s in earlier if s.family == fam]
                prev_same = max(same, key=lambda s: (s.period_end, s.accepted_at_us)) if same else None
            ya = [s for s in latest.values() if s.family == fam and 350 <= _days_between(s.period_end, period) <= 380]
            year_ago = max(ya, key=lambda s: s.period_end) if ya else None
            if is_amendment(lead.form):
                amends = latest.get((fam, period))
        window, state = merge_accession(g, previous=previous, previous_same_family=prev_same, year_ago=year_ago,
                                        amends=amends, lm=lm, recipe_version=recipe_version)
        states[(tenant, cik)].append(state)
        if amends is not None and amends.accession in window_of:
            i = window_of[amends.accession]
            windows[i], window = supersede(windows[i], window)
        window_of[state.accession] = len(windows)
        windows.append(window)
    return sorted(windows, key=lambda w: (w.tenant_id, w.key, w.available_at_us, w.provenance["accession"]))
