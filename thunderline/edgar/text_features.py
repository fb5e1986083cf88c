"""Text statistics of one filing section, and the comparisons between two of them.

* ``text_stats`` -> words, sentences, Gunning fog index, counts of our own lexicon's
  uncertainty / negation / strong- and weak-modal terms, optional Loughran-McDonald category
  counts, and a **hashed term-frequency vector** (crc32 of each token mod 2^20) - compact, stable
  across processes (no Python ``hash`` randomisation) and all the year-on-year similarity needs,
  so a later filing can be compared without keeping the earlier text.
* ``cosine`` of two such vectors: the "lazy prices" signal (Cohen, Malloy & Nguyen): firms that
  change their risk factors / MD&A a lot year on year tend to be the ones with news.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from thunderline.edgar.lexicon import OWN_LISTS, LMDictionary

HASH_BITS = 20
_MASK = (1 << HASH_BITS) - 1
_TOKEN = re.compile(r"[a-z]+(?:['\u2019][a-z]+)?")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)|\n")
_VOWELS = re.compile(r"[aeiouy]+")


@dataclass(frozen=True)
class TextStats:
    chars: int
    words: int
    sentences: int
    complex_words: int
    lexicon: dict[str, int]
    lm: dict[str, int] | None
    tf: dict[int, int] = field(repr=False)
    norm: float = 0.0

    @property
    def fog(self) -> float:
        if self.words == 0 or self.sentences == 0:
            return float("nan")
        return 0.4 * (self.words / self.sentences + 100.0 * self.complex_words / self.words)

    def per_1k(self, count: int) -> float:
        return 1000.0 * count / self.words if self.words else float("nan")


@lru_cache(maxsize=200_000)
def syllables(word: str) -> int:
    """Vowel-group count with a silent-final-e rule; >= 1. Good enough for a fog index."""
    w = word.replace("\u2019", "").replace("'", "")
    n = len(_VOWELS.findall(w))
    if w.endswith("e") and not w.endswith(("le", "ee", "ye")) and n > 1:
        n -= 1
    return max(1, n)


def _is_complex(word: str) -> bool:
    # Gunning: 3+ syllables, not counting the common inflections -es / -ed / -ing
    if syllables(word) < 3:
        return False
    for suf in ("es", "ed", "ing"):
        if word.endswith(suf) and syllables(word[: -len(suf)]) < 3:
            return False
    return True


@lru_cache(maxsize=400_000)
def token_bucket(token: str) -> int:
    return zlib.crc32(token.encode("utf-8")) & _MASK


def text_stats(text: str, lm: LMDictionary | None = None) -> TextStats:
    low = text.lower()
    tokens = _TOKEN.findall(low)
    counts = Counter(tokens)
    sentences = max(1, len([s for s in _SENTENCE_END.split(text) if _TOKEN.search(s.lower())])) if tokens else 0
    complex_words = sum(c for w, c in counts.items() if _is_complex(w))
    lex = {name: sum(counts[w] for w in words if w in counts) for name, words in OWN_LISTS.items()}
    lm_counts = None
    if lm is not None:
        lm_counts = {name: sum(c for w, c in counts.items() if w in words) for name, words in lm.categories.items()}
    tf: dict[int, int] = {}
    for w, c in counts.items():
        b = token_bucket(w)
        tf[b] = tf.get(b, 0) + c
    norm = math.sqrt(sum(v * v for v in tf.values()))
    return TextStats(len(text), len(tokens), sentences, complex_words, lex, lm_counts, tf, norm)


def cosine(a: TextStats, b: TextStats) -> float:
    """Cosine similarity of the hashed term-frequency vectors; NaN if either is empty."""
    if a.norm == 0 or b.norm == 0:
        return float("nan")
    small, big = (a.tf, b.tf) if len(a.tf) <= len(b.tf) else (b.tf, a.tf)
    dot = sum(v * big.get(k, 0) for k, v in small.items())
    return dot / (a.norm * b.norm)
