"""``gr00t-sm preflight``: check an asset folder without training.

    gr00t-sm preflight ASSET_DIR [--input-parameters JSON|@FILE] [--asset-metadata JSON|@FILE] [--json]

Resolves the configuration (gr00t_config.json > asset metadata > inputParameters > defaults), checks the LeRobot
dataset under datasetPath and prepares it (adds meta/modality.json and meta/stats.json when missing; the report
names every file it created). Exit code 0 when the asset is ready, 2 when it is not. ``--json`` prints one object:
config, provenance, dataset, errors, warnings.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from launcher.commands._args import add_asset_arguments, json_object_argument

READY, NOT_READY = 0, 2


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "preflight",
        help="check an asset folder (configuration and dataset) without training",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_asset_arguments(p)
    p.add_argument("--asset-metadata", metavar="JSON|@FILE", default="",
                   help="the asset's metadata as a flat object of GROOT_* keys (a JSON object, or @file.json)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the readable report")
    p.add_argument("--no-decode", action="store_true", help="skip decoding one frame per camera")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gr00t_core.errors import ConfigError
    from gr00t_data.preflight import PreflightResult, format_report, run_preflight  # pyarrow/PyAV only here

    try:
        parameters = json_object_argument(args.input_parameters, "--input-parameters")
        metadata = json_object_argument(args.asset_metadata, "--asset-metadata")
    except ConfigError as exc:  # reported in the chosen format, so --json callers always get one object
        result = PreflightResult(Path(args.asset_dir), errors=list(exc.problems))
    else:
        result = run_preflight(
            Path(args.asset_dir), input_parameters=parameters, asset_metadata=metadata, decode_check=not args.no_decode
        )
    print(json.dumps(result.as_json(), indent=2, default=str) if args.json else format_report(result))
    return READY if result.ready else NOT_READY
