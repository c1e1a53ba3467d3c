"""``python -m ksmlab exercises``: list the notebooks' exercises, or print the answer key."""

import sys

__all__ = ["add_parser"]


def add_parser(subparsers):
    from .catalogue import NOTEBOOKS

    p = subparsers.add_parser(
        "exercises", help="list the notebooks' exercises, or print the answer key (--key)",
        description="List every exercise of the notebooks (id, kind, title). With --key, "
        "print the answer key as Markdown: each exercise's question, its answer and the "
        "typical wrong answers with the feedback they get, all computed from the model. "
        f"Notebooks: {', '.join(NOTEBOOKS)}.")
    p.add_argument("--key", action="store_true", help="print the answer key")
    p.add_argument("--notebook", action="append", metavar="NOTEBOOK",
                   help="only this notebook's exercises (repeatable; with --key)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from .key import answer_key, listing

    if args.notebook and not args.key:
        print("error: --notebook only goes with --key", file=sys.stderr)
        return 2
    if not args.key:
        print(listing())
        return 0
    try:
        text = answer_key(args.notebook)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(text, end="")
    return 0
