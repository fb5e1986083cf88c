"""Rejected input, kept out-of-band so nothing is ever dropped silently.

Readers and validation never raise on bad rows and never skip them quietly:
each bad row becomes one :class:`Reject` naming the file, the 1-based row
(line number for text files, row index for Parquet), the field and the rule
broken, plus the raw line so the quarantine table can show what arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import pyarrow as pa

REJECT_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_row", pa.int64(), nullable=False),
        pa.field("field", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
    ],
    metadata={"thunderline.contract": "Reject"},
)


@dataclass(frozen=True)
class Reject:
    """One input row that did not become a tick (``stage="parse"``) or failed a rule (``stage="validate"``)."""

    source: str
    source_row: int
    field: str
    reason: str
    raw: str
    stage: str = "parse"

    def __str__(self) -> str:  # the one-line form used in logs and error messages
        return f"{self.source}:{self.source_row}: {self.field}: {self.reason} (raw={self.raw[:120]!r})"


RejectSink = Callable[[Reject], None]


def rejects_to_table(rejects: Iterable[Reject]) -> pa.Table:
    """Rejects as an Arrow table with :data:`REJECT_SCHEMA` (for the quarantine table)."""
    rows = list(rejects)
    return pa.table(
        {
            "source": pa.array([r.source for r in rows], pa.string()),
            "source_row": pa.array([r.source_row for r in rows], pa.int64()),
            "field": pa.array([r.field for r in rows], pa.string()),
            "reason": pa.array([r.reason for r in rows], pa.string()),
            "raw": pa.array([r.raw for r in rows], pa.string()),
            "stage": pa.array([r.stage for r in rows], pa.string()),
        },
        schema=REJECT_SCHEMA,
    )
