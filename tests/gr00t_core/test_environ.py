"""The one environment save/restore: new variables go away again, existing ones get their old value back."""

from __future__ import annotations

import os

import pytest

from gr00t_core.environ import environ, set_environ


def test_values_are_set_then_restored_or_removed(monkeypatch):
    monkeypatch.setenv("GR00T_TEST_OLD", "before")
    monkeypatch.delenv("GR00T_TEST_NEW", raising=False)
    restore = set_environ({"GR00T_TEST_OLD": "during", "GR00T_TEST_NEW": "x"})
    assert os.environ["GR00T_TEST_OLD"] == "during" and os.environ["GR00T_TEST_NEW"] == "x"
    restore()
    assert os.environ["GR00T_TEST_OLD"] == "before" and "GR00T_TEST_NEW" not in os.environ


def test_the_context_manager_restores_on_error(monkeypatch):
    monkeypatch.delenv("GR00T_TEST_NEW", raising=False)
    with pytest.raises(RuntimeError), environ({"GR00T_TEST_NEW": "x"}):
        assert os.environ["GR00T_TEST_NEW"] == "x"
        raise RuntimeError("boom")
    assert "GR00T_TEST_NEW" not in os.environ
