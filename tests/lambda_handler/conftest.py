import pytest

from tests.aws_env import aws_world, dataset_meta, lambda_runtime


@pytest.fixture
def world():
    """moto with a ready asset (dataset meta + gr00t_config.json) and the handlers wired to it."""
    with aws_world() as w:
        w.put_asset(dataset_meta(), config={"maxSteps": 300})
        with lambda_runtime(w):
            yield w
