"""The Docker engine as local mode sees it: is one usable, how do containers reach the host, what to clean up.

``docker_status()`` answers "can the container runner work here?" with a reason when it cannot (the CLI prints
it, the test suite skips docker tests with it). ``host_address_for_containers()`` picks the address the moto
server listens on so that training containers reach it: on Linux the docker bridge's gateway (a host address
every container network routes to), on Docker Desktop ``host.docker.internal`` (forwarded to the host's
loopback). ``cleanup()`` removes what SageMaker local mode leaves behind for one job.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

# The compose network SageMaker SDK local mode creates (sagemaker/train/local/local_container.py).
SDK_NETWORK = "sagemaker-local"
DESKTOP_HOST_NAME = "host.docker.internal"


@dataclass(frozen=True)
class DockerStatus:
    usable: bool
    reason: str = ""  # why not, in words a user can act on ("" when usable)
    compose: list[str] | None = None  # the compose command the SDK will use
    desktop: bool = False  # Docker Desktop (macOS/Windows): containers reach the host as host.docker.internal


def _docker(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def compose_command() -> list[str] | None:
    """What the SDK runs: ``docker compose`` (v2) when present, else ``docker-compose``."""
    try:
        proc = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=20)
        if proc.returncode == 0 and "version" in proc.stdout.lower():
            return ["docker", "compose"]
    except (OSError, subprocess.TimeoutExpired):
        pass
    return ["docker-compose"] if shutil.which("docker-compose") else None


def docker_status() -> DockerStatus:
    if shutil.which("docker") is None:
        return DockerStatus(False, "the docker command is not installed (run scripts/ensure_docker.sh as root)")
    try:
        info = _docker("info", "--format", "{{json .}}")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return DockerStatus(False, f"`docker info` failed: {exc}")
    if info.returncode != 0:
        first = (info.stderr or info.stdout).strip().splitlines()[:1]
        return DockerStatus(False, f"no Docker engine answers `docker info` ({first[0] if first else 'no output'}); "
                                   "start one or run scripts/ensure_docker.sh as root")
    compose = compose_command()
    if compose is None:
        return DockerStatus(False, "neither `docker compose` nor `docker-compose` is installed "
                                   "(SageMaker SDK local mode needs one)")
    try:
        details = json.loads(info.stdout or "{}")
    except json.JSONDecodeError:
        details = {}
    desktop = "docker desktop" in str(details.get("OperatingSystem", "")).lower()
    return DockerStatus(True, "", compose, desktop)


def _is_local_address(address: str) -> bool:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((address, 0))
        return True
    except OSError:
        return False


def bridge_gateway() -> str | None:
    """The default bridge network's gateway (``docker0``, usually 172.17.0.1) when it is an address of this host."""
    proc = _docker("network", "inspect", "bridge", "--format", "{{json .IPAM.Config}}")
    if proc.returncode != 0:
        return None
    try:
        configs = json.loads(proc.stdout or "[]") or []
    except json.JSONDecodeError:
        return None
    for config in configs:
        gateway = config.get("Gateway")
        if not gateway and config.get("Subnet"):
            try:  # docker leaves Gateway empty on the default bridge: it is the subnet's first address
                gateway = str(next(ipaddress.ip_network(config["Subnet"], strict=False).hosts()))
            except (ValueError, StopIteration):
                continue
        if gateway and ":" not in gateway and _is_local_address(gateway):
            return gateway
    return None


@dataclass(frozen=True)
class HostAddress:
    bind: str  # where the emulator listens
    advertise: str  # how containers name it in URLs


def host_address_for_containers(status: DockerStatus) -> HostAddress:
    if status.desktop:
        return HostAddress("127.0.0.1", DESKTOP_HOST_NAME)
    gateway = bridge_gateway()
    if gateway is None:
        raise RuntimeError(
            "cannot find an address of this host that containers can reach (docker's bridge network has no "
            "local gateway); use --runner process"
        )
    return HostAddress(gateway, gateway)


def compose_project(compose_file: Path) -> str:
    """The project name compose derives from the compose file's folder (its containers carry it as a label)."""
    return re.sub(r"[^a-z0-9_-]", "", compose_file.resolve().parent.name.lower())


def project_containers(project: str) -> list[str]:
    """Ids of the containers (running or not) of one compose project."""
    proc = _docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={project}")
    return proc.stdout.split() if proc.returncode == 0 else []


def network_exists(network: str = SDK_NETWORK) -> bool:
    return _docker("network", "inspect", network).returncode == 0


def cleanup(compose_file: Path, network: str = SDK_NETWORK) -> list[str]:
    """Remove one local-mode job's containers, and the SDK's compose network unless another job still uses it.

    Returns what was removed. Safe to call when the job never started (no compose file, no containers).
    """
    removed: list[str] = []
    ids = project_containers(compose_project(compose_file))
    if ids:
        _docker("rm", "-f", *ids, timeout=120)
        removed += [f"container {i[:12]}" for i in ids]
    net = _docker("network", "inspect", network)
    if net.returncode == 0:
        try:
            attached = (json.loads(net.stdout or "[{}]") or [{}])[0].get("Containers") or {}
        except json.JSONDecodeError:
            attached = {"?": "?"}
        if not attached and _docker("network", "rm", network).returncode == 0:
            removed.append(f"network {network}")
    return removed
