"""Names and addresses local mode derives for Docker (no engine needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_mode import docker_env
from local_mode.pipeline import RunnerUnavailable, choose_runner


@pytest.mark.parametrize(
    ("folder", "project"),
    [("sm-gr00t-asset-0123456789", "sm-gr00t-asset-0123456789"), ("SM_Job.1", "sm_job1")],
)
def test_compose_project_follows_the_folder_name(folder, project):
    assert docker_env.compose_project(Path("/tmp") / folder / "docker-compose.yaml") == project


def _status(usable, reason=""):
    return lambda: docker_env.DockerStatus(usable, reason, ["docker-compose"] if usable else None)


@pytest.mark.parametrize(
    ("requested", "usable", "runner"),
    [("auto", True, "container"), ("auto", False, "process"), ("process", True, "process"), ("container", True, "container")],
)
def test_runner_choice(requested, usable, runner):
    chosen, why, _ = choose_runner(requested, _status(usable, "no engine answers `docker info`"))
    assert chosen == runner
    if requested == "auto" and not usable:
        assert "no engine answers" in why  # the command says why it fell back


def test_container_runner_without_docker_is_a_user_error_with_the_reason():
    with pytest.raises(RunnerUnavailable, match="--runner container needs Docker, but dockerd is not running; use --runner process"):
        choose_runner("container", _status(False, "dockerd is not running"))
