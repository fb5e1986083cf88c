"""What a refused ingress body says: the rows, fields and rules that break the contract, counted and capped.

No HTTP here: the app maps each error ``code`` to its status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_PROBLEMS = 20


@dataclass(frozen=True)
class Problem:
    """One contract violation: 1-based ``row`` (None = the whole body), the field, the rule."""

    row: int | None
    field: str
    reason: str
    value: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "reason": self.reason, "value": self.value}

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "body"
        return f"{where}, field {self.field}: {self.reason}" + (f" (got {self.value})" if self.value is not None else "")


class PayloadError(ValueError):
    """The body is refused; ``code`` names why (the HTTP app answers with the status of that code)."""

    def __init__(self, code: str, problems: list[Problem], total: int | None = None) -> None:
        self.code = code
        self.problems = problems[:MAX_PROBLEMS]
        self.total = len(problems) if total is None else total
        super().__init__(str(problems[0]) if problems else code)

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": str(self), "problems": [p.as_dict() for p in self.problems],
                "problems_total": self.total, "written": 0}



def precheck_lines(body: bytes, max_rows: int, header: int) -> None:
    if body.count(b"\n") > max_rows + header + 1:
        raise PayloadError("too_many_rows", [Problem(None, "*", f"more than {max_rows} rows (the limit per request)")])


def line_numbers(body: bytes, header: int):
    """row index → 1-based line. JSON lines skip blank lines, so map through them (only on error)."""
    cache: list[np.ndarray] = []

    def line_of(i: int) -> int:
        if header:
            return i + 2
        if not cache:
            lines = body.split(b"\n")
            cache.append(np.array([n + 1 for n, ln in enumerate(lines) if ln.strip()], dtype=np.int64))
        arr = cache[0]
        return int(arr[i]) if i < arr.shape[0] else i + 1

    return line_of
