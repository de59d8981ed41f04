"""Benchmarks: each ``bench_*.py`` module measures one performance target against a baseline of the same run.

Run one with ``.venv/bin/python -m benchmarks.<name>``, all with ``.venv/bin/python -m benchmarks`` (``make bench``).
"""
