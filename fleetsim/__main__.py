"""python -m fleetsim serve --port P --fleet FILE [--seed N] [--time-scale X] [--host H] [--tag-visibility-seconds S]"""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fleetsim", description="A simulated EC2 fleet that answers like SSM Patch Manager.")
    commands = parser.add_subparsers(dest="command", required=True)
    from fleetsim import server

    server.add_arguments(commands.add_parser("serve", help="serve the fleet until SIGTERM or Ctrl-C"))
    args = parser.parse_args(argv)
    if args.command == "serve":
        return server.serve(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
