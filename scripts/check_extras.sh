#!/usr/bin/env bash
# Resolve the project's extras the way a user's `pip install` does: a clean throwaway venv, `pip install .[EXTRAS]`
# with dependency resolution (no --no-deps, no requirements pins), then `pip check` and a smoke import of every
# entry point. `make test` installs the pinned set with --no-deps -e .; this is the check that the version ranges in
# pyproject.toml resolve to something that works together.
#
#   scripts/check_extras.sh [EXTRAS]     EXTRAS defaults to "local,dev" (dev pulls train and data too)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-local,dev}"
python="${PYTHON:-python3}"
work="$(mktemp -d -t gr00t-extras-XXXXXX)"
trap 'rm -rf "$work"' EXIT

"$python" -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip)
"${pip[@]}" install -q --upgrade pip
# A copy of the tree so the install cannot write build/ or *.egg-info into the checkout.
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$work" --one-top-level=src
# torch alone is held to the version requirements.txt pins (its range in pyproject.toml admits it): left free, pip
# takes the newest release, a multi-GB CUDA build, where the pinned CPU wheel is already on this machine. Every
# other range resolves freely.
grep -E '^torch==' requirements.txt > "$work/constraints.txt"
"${pip[@]}" install -q -c "$work/constraints.txt" "$work/src[$extras]"
"${pip[@]}" check
cd "$work"  # import the installed packages, not the checkout
"$work/venv/bin/python" - <<'PY'
import importlib

for module in (
    "gr00t_core.resolution", "gr00t_aws.clients", "gr00t_data.preflight", "launcher.orchestration.service",
    "launcher.cli", "lambda_handler.launch", "lambda_handler.job_events", "local_mode.pipeline", "sagemaker_entry.main",
):
    importlib.import_module(module)
from launcher.commands.local import missing_local_modules

assert not missing_local_modules(), missing_local_modules()
print("extras resolve: every entry point imports")
PY
"$work/venv/bin/gr00t-sm" --help > /dev/null
echo "check_extras: [$extras] OK"
