"""``python -m thunderline_cli.ingress_main [serve|keys …]``: the ingress commands without loading Dagster."""

import argparse
import sys

from thunderline.config import ConfigError
from thunderline.store import WarehouseError
from thunderline_cli import ingress_server, keys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m thunderline_cli.ingress_main")
    sub = p.add_subparsers(dest="command", required=True)
    ingress_server.register(sub)
    keys.register(sub)
    args = p.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, WarehouseError) as exc:
        print(f"thunderline: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
