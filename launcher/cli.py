"""The ``gr00t-sm`` command line. Wiring only: each subcommand lives in its own module.

Every subcommand module exposes ``register(subparsers)`` (adds its parser and sets ``func``); ``func(args)``
returns the exit code. User errors (:class:`gr00t_core.errors.UserError`) print their message and exit 2 without
a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from gr00t_core.errors import UserError

# subcommand -> module holding register(); imported lazily so `gr00t-sm launch` never imports torch.
COMMANDS = {
    "preflight": "launcher.commands.preflight",
    "launch": "launcher.commands.launch",
    "local": "launcher.commands.local",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gr00t-sm", description="Fine-tune NVIDIA GR00T on VAMS assets with SageMaker.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        if only and name != only:
            sub.add_parser(name, help=f"see `gr00t-sm {name} --help`")
            continue
        try:
            importlib.import_module(module).register(sub)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith(module):
                sub.add_parser(name, help="(not available in this install)")
            else:
                raise
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    wanted = argv[0] if argv and argv[0] in COMMANDS else None
    args = build_parser(wanted).parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        print(f"gr00t-sm: the '{args.command}' command is not available in this install", file=sys.stderr)
        return 2
    try:
        return int(func(args) or 0)
    except UserError as exc:
        print(f"gr00t-sm {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gr00t-sm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
