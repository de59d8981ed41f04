"""Where Docker cannot run, the docker tests are skipped and say why (never silently passed)."""

from __future__ import annotations

import pytest

from local_mode import docker_env
from tests.container import docker_support


def _no_docker(monkeypatch, tmp_path, recorded: str | None):
    monkeypatch.setattr(docker_env, "docker_status", lambda: docker_env.DockerStatus(False, "no Docker engine answers `docker info`"))
    status_file = tmp_path / "docker-status"
    if recorded is not None:
        status_file.write_text(recorded)
    monkeypatch.setattr(docker_support, "STATUS_FILE", status_file)


@pytest.mark.parametrize(
    ("recorded", "reason"),
    [
        (None, "Docker cannot run here: no Docker engine answers `docker info`"),
        ("unavailable: installing one needs root (run as root, or install Docker yourself)\n",
         "Docker cannot run here: installing one needs root (run as root, or install Docker yourself)"),
        ("ok\n", "Docker cannot run here: no Docker engine answers `docker info`"),
    ],
)
def test_docker_tests_skip_with_the_reason(monkeypatch, tmp_path, recorded, reason):
    _no_docker(monkeypatch, tmp_path, recorded)
    with pytest.raises(pytest.skip.Exception, match=reason.replace("(", r"\(").replace(")", r"\)")):
        docker_support.require_docker()
