"""Set environment variables for a while and put them back as they were (the one save/restore of the project).

Local mode runs the Lambda handlers in its own process, so their configuration is this process's environment; the
tests do the same. Variables that did not exist before are removed again, the others get their old value back.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager


def set_environ(values: Mapping[str, str]) -> Callable[[], None]:
    """Set ``values`` in ``os.environ``; returns the function that restores what was there before."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)

    def restore() -> None:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    return restore


@contextmanager
def environ(values: Mapping[str, str]) -> Iterator[None]:
    """``with environ({...}):`` the variables are set inside the block and restored after it, even on error."""
    restore = set_environ(values)
    try:
        yield
    finally:
        restore()
