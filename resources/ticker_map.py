from __future__ import annotations

import json
from pathlib import Path

import dagster as dg


class TickerMapResource(dg.ConfigurableResource):
    """The dated ticker ↔ CIK map used by the point-in-time join.

    A JSON list of ``{"symbol", "cik", "valid_from_us", "valid_to_us"}`` (UTC µs, ``valid_to_us``
    exclusive, null = open-ended). Tickers move between companies over time, so a plain
    symbol → CIK dict would join the wrong filer's filings.
    """

    path: str

    def rows(self) -> list[dict]:
        p = Path(self.path)
        if not p.exists():
            return []
        try:
            rows = json.loads(p.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"THUNDERLINE_TICKER_MAP={p}: not valid JSON ({exc})") from None
        for i, r in enumerate(rows):
            missing = {"symbol", "cik", "valid_from_us"} - set(r)
            if missing:
                raise ValueError(f"THUNDERLINE_TICKER_MAP={p}: row {i} lacks {sorted(missing)}")
        return rows

    @staticmethod
    def write(path: Path, rows) -> None:
        Path(path).write_text(json.dumps(list(rows), indent=1, sort_keys=True))
