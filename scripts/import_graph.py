"""Print the project's package-level import edges (who imports whom) and any cycles between them.

Usage: python scripts/import_graph.py [--depth N]

Nodes are the layer units: the top-level packages, with ``launcher`` split into its parts (``launcher.cli``,
``launcher.commands``, ``launcher.orchestration``: they sit in different layers). ``--depth N`` instead cuts every
module name after N parts (1: top-level packages only).

The layers these edges must respect are the contracts in .importlinter (checked by `lint-imports`, part of
`make lint`); this script only shows the graph, e.g. for a review before and after moving modules.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import grimp

PACKAGES = (
    "gr00t_core",
    "gr00t_data",
    "gr00t_aws",
    "launcher",
    "lambda_handler",
    "sagemaker_entry",
    "local_mode",
)


SPLIT = ("launcher",)  # packages whose parts sit in different layers


def _node(module: str, depth: int) -> str:
    parts = module.split(".")
    if depth == 0:  # layer units
        return ".".join(parts[:2]) if parts[0] in SPLIT and len(parts) > 1 else parts[0]
    return ".".join(parts[:depth])


def edges(depth: int) -> set[tuple[str, str]]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False, cache_dir=None)
    found: set[tuple[str, str]] = set()
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            a, b = _node(importer, depth), _node(imported, depth)
            if a != b:
                found.add((a, b))
    return found


def cycles(found: set[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted((a, b) for a, b in found if (b, a) in found and a < b)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=0, help="0 (default): layer units")
    args = parser.parse_args()
    found = edges(args.depth)
    for a, b in sorted(found):
        print(f"{a} -> {b}")
    loops = cycles(found)
    print(f"# {len(found)} edges, {len(loops)} two-way: " + ", ".join(f"{a} <-> {b}" for a, b in loops))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
