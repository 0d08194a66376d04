"""Command-line interface: ``python -m explorer <command> ...``.

Each command lives in its own module under :mod:`explorer.commands` and exposes
``add_parser(subparsers)``, which registers the sub-command and sets ``func`` to a function taking the
parsed arguments and returning an exit code. Modules import heavy libraries inside ``func`` only, so
``--help`` stays instant.

Errors meant for the user (:class:`explorer.core.errors.ExplorerError`) print as one line on stderr with exit
code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from explorer.core.errors import ExplorerError

COMMAND_MODULES = (
    "explorer.commands.data",
    "explorer.commands.evaluate",
    "explorer.commands.compare",
    "explorer.commands.models",
    "explorer.commands.negatives",
    "explorer.commands.train",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every command module that is present."""
    parser = argparse.ArgumentParser(
        prog="python -m explorer",
        description="Load a search dataset, fine-tune an encoder, and measure what changed.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except ExplorerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
