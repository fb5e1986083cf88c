"""``thunderline`` — the command line.

Every command validates configuration first and turns known failures (bad
settings, unreachable database, bad input) into one clear line on stderr and
exit status 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from thunderline.config import ConfigError, load_settings
from thunderline.store import WarehouseError
from thunderline_cli import (
    db,
    demo,
    deploy,
    edgar,
    evaluate,
    experts,
    gates,
    ingest,
    ingress_server,
    keys,
    learn,
    lineage,
    live_service,
    retention,
)
from thunderline_cli.errors import CliError

#: Each module registers its subcommands: db, ingest, demo, experts, evaluate/decide, lineage, serve, keys, live,
#: learn/promote, gates, edgar, deploy/worker (the scale-out profile), retention/restore.
_COMMANDS = (db, ingest, demo, experts, evaluate, lineage, ingress_server, keys, live_service, learn, gates, edgar,
             deploy, retention)


def _cmd_config(args) -> int:
    s = load_settings()
    for k, v in s.model_dump().items():
        if k == "retention":  # as the THUNDERLINE_RETENTION text one writes, not the parsed structure
            v = s.retention.to_text() or "(unset: nothing tiered, nothing deleted)"
        print(f"{k:22} {v}")
    return 0


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def user_error_line(exc: BaseException) -> str | None:
    """The one line for a failure the user caused or can fix (unknown expert, nothing to roll back, a store that
    cannot be reached); None for a bug, whose traceback is worth showing. Classes are looked up only in modules
    already imported, so ``--help`` stays fast."""
    mods = sys.modules
    if "thunderline.experts.tracking" in mods and isinstance(exc, mods["thunderline.experts.tracking"].TrackingUnreachable):
        return str(exc)
    if "thunderline.experts.registry" in mods:
        reg = mods["thunderline.experts.registry"]
        if isinstance(exc, (reg.ExpertNotFound, reg.ExpertRegistryError)):
            return str(exc)
    if "thunderline.evaluation.promotion" in mods and isinstance(exc, mods["thunderline.evaluation.promotion"].PromotionError):
        return str(exc)
    if "sqlalchemy.exc" in mods and isinstance(exc, mods["sqlalchemy.exc"].OperationalError):
        s = load_settings(create_dirs=False)
        from thunderline.store.warehouse import redact

        return f"THUNDERLINE_WAREHOUSE_URL={redact(s.warehouse_url)}: cannot use the database ({_first_line(exc)})"
    if "mlflow.exceptions" in mods and isinstance(exc, mods["mlflow.exceptions"].MlflowException):
        s = load_settings(create_dirs=False)
        return f"MLFLOW_TRACKING_URI={s.mlflow_tracking_uri}: {_first_line(exc)}"
    return None


class _Parser(argparse.ArgumentParser):
    """Usage mistakes in one line (argparse prints the whole usage block first); subcommands inherit it."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="thunderline", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("config", help="print the validated configuration").set_defaults(func=_cmd_config)
    for command in _COMMANDS:
        command.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, WarehouseError, CliError) as exc:
        print(f"thunderline: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a user-caused failure from deeper down: one line; anything else: the traceback
        line = user_error_line(exc)
        if line is None:
            raise
        print(f"thunderline: error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("thunderline: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
