"""The core must stay importable without the heavy dependencies: the Lambda side imports it."""

import subprocess
import sys

HEAVY = ("boto3", "botocore", "torch", "transformers", "pyarrow", "av", "numpy", "peft")


def test_core_imports_no_aws_sdk_torch_or_pyarrow():
    code = (
        "import sys, pkgutil, importlib, gr00t_core\n"
        "for m in pkgutil.iter_modules(gr00t_core.__path__): importlib.import_module('gr00t_core.' + m.name)\n"
        f"print(','.join(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"gr00t_core pulled in: {out}"
