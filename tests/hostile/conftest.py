"""Profiles of the generated-input suite (issue #12) and the figures it reports.

The default profile runs 1,000 cases per entry point, derandomized (the same cases on every run, no example
database), with no per-case deadline (2 shared cores make timings noisy; speed lives in benchmarks/). A developer
runs more by name:

    HYPOTHESIS_PROFILE=large .venv/bin/python -m pytest tests/hostile     # 10,000 cases per entry point
    HYPOTHESIS_PROFILE=random .venv/bin/python -m pytest tests/hostile    # 1,000 new random cases per run
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, settings

_COMMON: dict[str, Any] = {
    "deadline": None,
    "database": None,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much, HealthCheck.large_base_example],
}
settings.register_profile("hostile", max_examples=1000, derandomize=True, **_COMMON)
settings.register_profile("large", max_examples=10_000, derandomize=True, **_COMMON)
settings.register_profile("random", max_examples=1000, derandomize=False, **_COMMON)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "hostile")
settings.load_profile(PROFILE)
CASES = settings.get_profile(PROFILE).max_examples

# entry point -> figure -> count, printed at the end of the run (the figures of issue #12's closing note)
FIGURES: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))


@contextmanager
def counted(entry: str) -> Iterator[None]:
    """One generated case of ``entry``: a broken property (AssertionError) or an unexpected exception (a traceback)
    is counted in the figures, then raised so hypothesis shrinks and reports it."""
    try:
        yield
    except AssertionError:
        FIGURES[entry]["failed properties"] += 1
        raise
    except Exception:
        FIGURES[entry]["tracebacks"] += 1
        raise


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section(f"hostile input (profile {PROFILE})")
    for entry, figures in sorted(FIGURES.items()):
        terminalreporter.write_line(f"{entry}: " + ", ".join(f"{k} {v}" for k, v in sorted(figures.items())))
