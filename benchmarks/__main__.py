"""Run every benchmark (``benchmarks/bench_*.py``), each in its own interpreter, one after the other.

    python -m benchmarks [--list] [NAME ...]

NAME selects modules by name (``stats`` or ``bench_stats``). Each module prints its own figures; this runner adds
a line per module with its exit code and duration. Exit code: 0 when every selected benchmark exited 0.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def discover() -> list[str]:
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


def select(names: list[str], wanted: list[str]) -> list[str]:
    chosen = [n for n in names if not wanted or n in wanted or n.removeprefix("bench_") in wanted]
    unknown = [w for w in wanted if w not in names and f"bench_{w}" not in names]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(names)}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    names = discover()
    if args.list:
        print("\n".join(names))
        return 0
    results: list[tuple[str, int, float]] = []
    for name in select(names, args.names):
        print(f"=== {name} ===", flush=True)
        start = time.monotonic()
        code = subprocess.call([sys.executable, "-m", f"benchmarks.{name}"], cwd=HERE.parent)
        results.append((name, code, time.monotonic() - start))
    print("=== summary ===")
    for name, code, seconds in results:
        print(f"{name:<24} {'ok' if code == 0 else f'exit {code}':<8} {seconds:6.1f} s")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
