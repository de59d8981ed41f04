# The Docker fixtures live with the container tests; local mode's container runner tests use the same ones.
from tests.container.conftest import docker_status, training_image  # noqa: F401
