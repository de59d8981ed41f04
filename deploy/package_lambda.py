"""Assemble the Lambda code directory that deploy/template.yaml points at (``CodeUri: ../build/lambda``).

    python deploy/package_lambda.py                # build/lambda: this project's packages only (deps come from the layer)
    python deploy/package_lambda.py --with-deps    # also the dependencies, copied from this environment (size check)
    python deploy/package_lambda.py --zip out.zip  # and zip it

Only the packages the handlers import are copied, as source (of ``launcher``, only its orchestration package: the
CLI is not part of a Lambda); the Lambda runtime provides boto3 and botocore.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import shutil
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gr00t_core", "gr00t_aws", "gr00t_data", "launcher/orchestration", "lambda_handler")
# Distributions the Lambda layer installs (deploy/layer/requirements.txt) and what they pull in.
LAYER_DISTRIBUTIONS = ("aws-lambda-powertools", "pydantic", "pydantic-core", "typing-extensions", "annotated-types", "typing-inspection", "aws-xray-sdk", "wrapt")
# The runtime ships these: never bundle them.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six")
# Parts of the dependencies no handler imports (Powertools ships every utility in one distribution): leaving them
# out keeps the package under 10 MB. tests/deploy checks the handlers still import and run from the pruned copy.
PRUNED = (
    "aws_lambda_powertools/event_handler",
    *(f"aws_lambda_powertools/utilities/{name}" for name in (
        "batch", "streaming", "data_masking", "feature_flags", "circuit_breaker", "kafka", "parameters",
        "idempotency", "auth_alpha", "data_classes", "validation",
    )),
    "pydantic/v1",  # pydantic's bundled v1 API: only `import pydantic.v1` loads it
)


def copy_sources(out: Path) -> None:
    for package in PACKAGES:
        src = ROOT / package
        for path in src.rglob("*.py"):
            if "__pycache__" in path.parts:
                continue
            target = out / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        for parent in Path(package).parents[:-1]:  # a subpackage needs its parents' __init__.py
            shutil.copy2(ROOT / parent / "__init__.py", out / parent / "__init__.py")


def copy_distribution(name: str, out: Path) -> None:
    """Copy an installed distribution's files (from its RECORD) into ``out``, skipping caches and scripts."""
    dist = md.distribution(name)
    for file in dist.files or []:
        parts = Path(file).parts
        if parts[0] in ("..", "bin") or "__pycache__" in parts or file.suffix == ".pyc":
            continue
        if any(Path(file).as_posix().startswith(prefix + "/") for prefix in PRUNED):
            continue
        source = Path(str(dist.locate_file(file)))
        if source.is_file():
            target = out / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def build(out: Path, *, with_deps: bool = False) -> Path:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    copy_sources(out)
    if with_deps:
        for name in LAYER_DISTRIBUTIONS:
            copy_distribution(name, out)
    return out


def directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def zip_directory(path: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            zf.write(file, file.relative_to(path))
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "lambda")
    parser.add_argument("--with-deps", action="store_true")
    parser.add_argument("--zip", type=Path)
    args = parser.parse_args(argv)
    out = build(args.out, with_deps=args.with_deps)
    print(f"{out}: {directory_size(out) / 1e6:.2f} MB")
    if args.zip:
        zip_directory(out, args.zip)
        print(f"{args.zip}: {args.zip.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
