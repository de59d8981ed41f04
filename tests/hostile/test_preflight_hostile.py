"""Generated input for ``gr00t-sm preflight --json`` (in-process through launcher.cli.main): one real synthetic
dataset (gr00t_data/synthetic.py, 2 tiny episodes) generated per test; every case copies it, mutates one member of
the copy's meta/info.json or gr00t_config.json, and runs preflight on the copy.

Property, for every case: exit 0 or 2 (never a traceback, never exit 1), stdout one JSON object (no NaN: it must
parse under strict JSON), when not ready an error that names the mutated file or member and an asset left exactly as
it was given (preflight writes only to a ready asset); the generated original is never touched.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gr00t_core.json_text import parse_json
from tests.hostile.conftest import CASES, FIGURES, counted
from tests.hostile.mutate import Mutation, mutated

INFO = Path("dataset") / "meta" / "info.json"
CONFIG = Path("gr00t_config.json")


@pytest.fixture(scope="module")
def asset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gr00t_data.synthetic import generate_dataset

    root = tmp_path_factory.mktemp("asset")
    generate_dataset(root / "dataset", episodes=2, frames_per_episode=8, width=32, height=32)
    (root / CONFIG).write_text(json.dumps({"maxSteps": 100, "saveSteps": 50, "dataConfig": "so100_dualcam"}))
    return root


def _digest(root: Path) -> dict[str, str]:
    """Every file under root (relative path -> sha256): what 'left as it was' compares."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _run(asset: Path) -> tuple[int, str, str]:
    from launcher.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(["preflight", str(asset), "--json"])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_mutated_preflight_inputs(asset: Path, tmp_path: Path) -> None:
    documents = {rel: json.loads((asset / rel).read_bytes()) for rel in (INFO, CONFIG)}
    original = _digest(asset)
    seen: dict[str, int] = {}

    @given(st.sampled_from(sorted(documents)).flatmap(lambda rel: st.tuples(st.just(rel), mutated(documents[rel]))))
    def case(drawn: tuple[Path, tuple[dict[str, Any], Mutation]]) -> None:
        rel, (doc, mutation) = drawn
        copy = tmp_path / "case"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(asset, copy)
        with counted("preflight --json"):
            try:
                text = json.dumps(doc, ensure_ascii=False)
            except (ValueError, RecursionError):
                text = "[" * 3000
            (copy / rel).write_bytes(text.encode("utf-8", "surrogatepass"))
            given_asset = _digest(copy)
            code, out, err = _run(copy)
            assert code in (0, 2), f"{mutation} in {rel}: exit {code}\n{err[-2000:]}"
            assert "Traceback" not in err, err[-2000:]
            report = parse_json(out, name="preflight --json output")  # strict: NaN / Infinity refused
            if code == 2:
                errors = " ".join(report["errors"])
                assert rel.name in errors or any(k and k in errors for k in mutation.path), (mutation, errors)
                assert _digest(copy) == given_asset, f"{mutation} in {rel}: a refused asset was written to"
            seen[str(code)] = seen.get(str(code), 0) + 1
            FIGURES["preflight --json"]["cases"] += 1
            FIGURES["preflight --json"][f"exit {code}"] += 1

    case()
    assert sum(seen.values()) >= CASES, seen
    assert _digest(asset) == original, "the generated original was changed"
