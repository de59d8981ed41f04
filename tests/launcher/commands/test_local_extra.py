"""`gr00t-sm local` without its extra: one line naming the install command, no ModuleNotFoundError traceback."""

from __future__ import annotations

import sys

import pytest

from launcher import cli
from launcher.commands import local


@pytest.mark.parametrize("module", local.LOCAL_EXTRA_MODULES)
def test_a_missing_module_of_the_extra_is_one_line_naming_the_install(module, monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, module, None)  # what an install without the extra looks like to find_spec
    monkeypatch.setattr("local_mode.pipeline.run_local", lambda *a, **k: pytest.fail("ran without the extra"))
    assert cli.main(["local", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"needs {module}" in err and "pip install 'gr00t-sagemaker[local]'" in err


def test_with_the_extra_installed_nothing_is_missing():
    assert local.missing_local_modules() == []


def test_the_extra_in_pyproject_holds_what_the_check_looks_for():
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml").read_text())["project"]
    extra = " ".join(project["optional-dependencies"]["local"])
    assert "moto[server,stepfunctions]" in extra and "sagemaker" in extra  # flask comes with moto[server]
    assert "gr00t-sagemaker[local]" in project["optional-dependencies"]["dev"]
