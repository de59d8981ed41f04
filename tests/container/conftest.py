import pytest

from tests.container.docker_support import require_docker, require_image


@pytest.fixture(scope="session")
def docker_status():
    return require_docker()


@pytest.fixture(scope="session")
def training_image():
    """The image built from container/Dockerfile (cached by content hash: a rebuild only when sources changed)."""
    return require_image()
