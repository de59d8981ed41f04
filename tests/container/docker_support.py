"""Docker for the tests: a usable engine and the training image, or a skip that says why.

``make test`` runs scripts/ensure_docker.sh first (it installs and starts an engine where it can and builds the
Debian base image) and leaves its verdict in .cache/docker-status; the reason from there is the most useful one
to show when Docker cannot run.
"""

from __future__ import annotations

import pytest

from local_mode import docker_env
from local_mode.image import DEFAULT_BASE_IMAGE, REPO_ROOT, ImageBuildError, docker_image_id, ensure_image

STATUS_FILE = REPO_ROOT / ".cache" / "docker-status"


def _recorded_reason() -> str:
    try:
        text = STATUS_FILE.read_text().strip()
    except OSError:
        return ""
    return text.split(":", 1)[1].strip() if text.startswith("unavailable:") else ""


def require_docker() -> docker_env.DockerStatus:
    status = docker_env.docker_status()
    if not status.usable:
        why = _recorded_reason() or status.reason
        pytest.skip(f"Docker cannot run here: {why} (scripts/ensure_docker.sh sets it up as root)")
    return status


def require_image() -> str:
    require_docker()
    if docker_image_id(DEFAULT_BASE_IMAGE) is None:
        pytest.skip(f"base image {DEFAULT_BASE_IMAGE} is missing: run scripts/ensure_docker.sh (debootstrap, root)")
    try:
        return ensure_image(log=print)
    except ImageBuildError as exc:
        pytest.fail(f"the training image does not build: {exc}")


