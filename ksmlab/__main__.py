"""``python -m ksmlab COMMAND``: the command line.

Each command lives in its own module, which adds an argparse subparser (``add_parser``)
whose ``func`` default runs it; add a command by adding its module to ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: module of each command, in the order ``--help`` lists them
COMMANDS = ("ksmlab.check.cli", "ksmlab.live.cli", "ksmlab.exercises.cli", "ksmlab.workspace")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ksmlab",
        description="ksmlab: an executable model of Linux KSM as in Linux 3.9.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:  # ^C outside a live run (which says more): nothing to undo
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
