"""``thunderline edgar fetch``: poll companies' EDGAR filings into the landing area.

Registered by the CLI's command registry; no Dagster here. The work is
:class:`thunderline.sources.edgar_poller.EdgarPoller`; this module parses arguments and prints.
"""

from __future__ import annotations

import argparse
import datetime as dt


def _forms(text: str) -> tuple[str, ...]:
    forms = tuple(f.strip().upper() for f in text.split(",") if f.strip())
    if not forms:
        raise argparse.ArgumentTypeError("expected a comma-separated list such as 10-K,10-Q,8-K")
    return forms


def _date(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected YYYY-MM-DD") from None


def _cik(text: str) -> int:
    from thunderline.identifiers import InvalidIdentifier, check_cik

    try:
        return check_cik(text.strip())
    except InvalidIdentifier as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("edgar", help="SEC EDGAR sources").add_subparsers(dest="edgar_command", required=True)
    f = e.add_parser("fetch", help="download a company's filings (submissions JSON → filings) into the landing area, "
                                   "at most THUNDERLINE_SEC_MAX_RPS requests/s across processes")
    f.add_argument("--cik", type=_cik, action="append", default=[], help="company CIK (repeatable)")
    f.add_argument("--ticker", action="append", default=[],
                   help="ticker, resolved to a CIK through SEC's company_tickers.json (repeatable)")
    f.add_argument("--forms", type=_forms, default=("10-K", "10-Q", "8-K", "20-F"),
                   help="comma-separated forms (default 10-K,10-Q,8-K,20-F; amendments only if listed, e.g. 10-K/A)")
    f.add_argument("--since", type=_date, default=None, help="filing date on or after YYYY-MM-DD")
    f.add_argument("--documents", choices=("full", "primary"), default="full",
                   help="full: the SGML full submission .txt (default); primary: primary document + index-headers")
    f.set_defaults(func=_fetch)


def _fetch(args) -> int:
    from thunderline.config import ConfigError, load_settings
    from thunderline.sources.edgar_poller import PollRequest, poller_from_settings, record_poll
    from thunderline.sources.sec_http import SecFetchError

    if not args.cik and not args.ticker:
        raise ConfigError("edgar fetch: give --cik or --ticker")
    settings = load_settings()
    poller = poller_from_settings(settings)
    status = 0
    try:
        ciks = list(args.cik)
        for t in args.ticker:
            ciks.append(poller.resolve_ticker(t))
        for cik in dict.fromkeys(ciks):
            try:
                report = poller.poll(PollRequest(cik, args.forms, args.since, args.documents))
            except SecFetchError as exc:
                print(f"CIK {cik}: {exc}")
                status = 1
                continue
            record_poll(poller, report)
            for line in report.lines():
                print(line)
            if report.failed:
                status = 1
    finally:
        poller.close()
    return status
