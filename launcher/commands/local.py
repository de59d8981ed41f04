"""``gr00t-sm local``: the whole pipeline on this machine (no AWS account, no GPU).

    gr00t-sm local ASSET_DIR [--input-parameters JSON|@FILE] [--runner auto|container|process] [--keep DIR]

AWS is emulated by moto on loopback; the project's state machine runs in moto's Step Functions engine with the
real Lambda handlers; the training job runs through SageMaker SDK local mode in the image built from
container/Dockerfile when a Docker engine is usable (``auto``), else as local processes with the same SageMaker
contract. On success the output folder (gr00tOutput_*) is copied into ASSET_DIR, as VAMS registers it into the
asset. Exit code 0 exactly when the state machine ended SUCCEEDED.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from gr00t_core.errors import UserError
from launcher.commands._args import add_asset_arguments, json_object_argument


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "local",
        help="run the whole pipeline on this machine (emulated AWS, local training job)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_asset_arguments(p)
    p.add_argument("--runner", choices=("auto", "container", "process"), default="auto",
                   help="container: SageMaker SDK local mode (Docker); process: local processes; auto: container "
                        "when Docker is usable (default)")
    p.add_argument("--keep", metavar="DIR", help="leave the emulated S3 contents under DIR (one folder per bucket)")
    p.add_argument("--no-register", action="store_true",
                   help="do not copy the output folder into ASSET_DIR (it stays in the emulated S3 / --keep)")
    p.add_argument("--verbose", "-v", action="store_true", help="also print every line of the training job's log")
    p.set_defaults(func=run)


def _size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


def output_lines(files: list[str], folder: Path | None) -> list[str]:
    """One line per top-level file and one per sub-folder (file count, total size when the copy is local)."""
    groups: dict[str, list[str]] = {}
    for rel in files:
        top, sep, _ = rel.partition("/")
        groups.setdefault(top + sep, []).append(rel)
    lines = []
    for name, members in groups.items():
        local = [folder / m for m in members] if folder is not None else []
        size = sum(p.stat().st_size for p in local if p.is_file())
        size_text = f", {_size(size)}" if local else ""
        if name.endswith("/"):
            lines.append(f"  {name}  ({len(members)} files{size_text})")
        else:
            lines.append(f"  {name}" + (f"  ({_size(size)})" if local else ""))
    return lines


def print_summary(result: Any, out: Any) -> None:
    print("", file=out)
    print(f"State machine: {result.status} (runner: {result.runner})", file=out)
    if not result.succeeded:
        reason = result.cause or result.error or "no reason given"
        print(f"Reason: {result.error}: {reason}" if result.error and result.cause else f"Reason: {reason}", file=out)
    if result.output_uri and not result.succeeded:
        print(f"Partial outputs (not registered into the asset): {result.output_uri}", file=out)
    elif result.output_uri:
        print(f"Output folder: {result.output_dir or result.output_uri}", file=out)
        if result.output_dir is not None:
            print(f"  (in the emulated S3: {result.output_uri})", file=out)
    for line in output_lines(result.output_files, result.output_dir):
        print(line, file=out)
    if result.final_loss is not None:
        print(f"Final loss: {result.final_loss:.4f}", file=out)
    if result.run_summary:
        print(f"Run summary: {result.run_summary}", file=out)
    if result.kept is not None:
        print(f"Emulated S3 kept in: {result.kept}", file=out)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C: no job, container or server left behind


# What `gr00t-sm local` needs beyond the base install: the `local` extra of pyproject.toml. moto's server mode
# runs on flask; the SageMaker SDK runs the container runner (its local mode).
LOCAL_EXTRA_MODULES = ("moto", "flask", "sagemaker")
LOCAL_EXTRA_INSTALL = "pip install 'gr00t-sagemaker[local]'"


def missing_local_modules() -> list[str]:
    """The modules of the ``local`` extra that this environment lacks (none once it is installed)."""
    import importlib.util

    return [name for name in LOCAL_EXTRA_MODULES if importlib.util.find_spec(name) is None]


def require_local_extra() -> None:
    """One line naming the install command, instead of a ModuleNotFoundError traceback halfway through a run."""
    missing = missing_local_modules()
    if missing:
        raise UserError(f"local mode needs {', '.join(missing)} (the 'local' extra); install it with: {LOCAL_EXTRA_INSTALL}")


def run(args: argparse.Namespace) -> int:
    require_local_extra()
    from local_mode.pipeline import LocalRunOptions, run_local

    options = LocalRunOptions(
        asset_dir=Path(args.asset_dir),
        input_parameters=json_object_argument(args.input_parameters, "--input-parameters"),
        runner=args.runner,
        keep=Path(args.keep) if args.keep else None,
        register=not args.no_register,
        verbose=args.verbose,
    )
    out = sys.stdout
    print(f"gr00t-sm local {options.asset_dir}", file=out, flush=True)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        result = run_local(options, out)
    finally:
        signal.signal(signal.SIGTERM, previous)
    print_summary(result, out)
    return 0 if result.succeeded else 1
