"""Thunderline's own short word lists for filing text, and an optional Loughran-McDonald loader.

The lists below were written for this project (not copied from any dictionary): small,
transparent, lower-case, matched on whole tokens. They measure *hedging* (uncertainty),
*negation* and *modal strength* in risk-factor and MD&A prose. Change a list -> bump
``LEXICON_VERSION`` (it is part of the EDGAR recipe version).

Loughran-McDonald tone is computed only when the user passes the path of an LM Master
Dictionary CSV they obtained themselves (its terms restrict commercial use; we do not ship it).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

LEXICON_VERSION = "tl-lex-1"

UNCERTAINTY = frozenset(
    """
    uncertain uncertainty uncertainties unpredictable unpredictability unknown unknowns unclear
    approximate approximately possible possibly perhaps likelihood probable probably contingent
    contingency contingencies depend depends dependent depending fluctuate fluctuates fluctuation
    fluctuations volatile volatility variable variability assume assumes assumption assumptions
    estimate estimates estimated anticipate anticipates believe believes expect expects
    doubt doubtful speculative risk risks risky exposure indefinite unforeseen
    """.split()
)

NEGATION = frozenset(
    """
    no not never none nothing nobody neither nor without cannot can't won't don't doesn't didn't
    isn't aren't wasn't weren't hasn't haven't hadn't shouldn't wouldn't couldn't unable fail
    fails failed failure lack lacks lacking absent absence
    """.split()
)

MODAL_STRONG = frozenset(
    """
    must will shall always never definitely certainly clearly undoubtedly require requires
    required highest best strongly
    """.split()
)

MODAL_WEAK = frozenset(
    """
    may might could would possibly perhaps appear appears seem seems suggest suggests
    occasionally sometimes somewhat generally typically
    """.split()
)

OWN_LISTS = {
    "uncertainty": UNCERTAINTY,
    "negation": NEGATION,
    "modal_strong": MODAL_STRONG,
    "modal_weak": MODAL_WEAK,
}

#: LM Master Dictionary columns we read (when present) -> our feature names.
LM_CATEGORIES = {
    "Negative": "negative",
    "Positive": "positive",
    "Uncertainty": "uncertainty",
    "Litigious": "litigious",
    "Strong_Modal": "strong_modal",
    "Weak_Modal": "weak_modal",
    "Constraining": "constraining",
}


@dataclass(frozen=True)
class LMDictionary:
    """Word sets per LM category (lower-case), and where they came from."""

    categories: dict[str, frozenset[str]]
    source: str
    words: int


def load_lm_dictionary(path: str | Path) -> LMDictionary:
    """Read an LM Master Dictionary CSV (``Word`` column + one column per category, where a
    positive number - the year the word was added - marks membership; 0 or negative = not a member).

    Raises ValueError naming the file when the CSV has no ``Word`` column or no known category.
    """
    p = Path(path)
    with p.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        word_col = next((f for f in fields if f.strip().lower() == "word"), None)
        if word_col is None:
            raise ValueError(f"{p}: LM dictionary CSV has no 'Word' column (columns: {fields[:10]})")
        cols = {f: LM_CATEGORIES[f.strip()] for f in fields if f.strip() in LM_CATEGORIES}
        if not cols:
            raise ValueError(f"{p}: LM dictionary CSV has none of the categories {sorted(LM_CATEGORIES)}")
        sets: dict[str, set[str]] = {name: set() for name in cols.values()}
        n = 0
        for row in reader:
            w = (row.get(word_col) or "").strip().lower()
            if not w:
                continue
            n += 1
            for col, name in cols.items():
                v = (row.get(col) or "").strip()
                try:
                    if v and float(v) > 0:
                        sets[name].add(w)
                except ValueError:
                    continue
    return LMDictionary({k: frozenset(v) for k, v in sets.items()}, str(p), n)
