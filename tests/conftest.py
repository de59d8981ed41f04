"""Suite-wide set-up: moto answers as the real AWS services do (local_mode.moto_fidelity) in every test."""

from collections.abc import Iterator

import pytest

from local_mode import moto_fidelity


@pytest.fixture(autouse=True, scope="session")
def moto_answers_like_aws() -> Iterator[None]:
    restore = moto_fidelity.install()
    yield
    restore()
