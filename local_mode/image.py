"""Build the training image from container/Dockerfile for local mode and the container tests.

The build needs no network and no registry: the base image comes from ``scripts/ensure_docker.sh`` (debootstrap +
``docker import``) and the Python packages from a wheelhouse downloaded on the host into
``container/wheelhouse/`` (pip's usual indexes and find-links; torch's CPU wheel on this project's machines).
The image is tagged with a hash of everything in the build context plus the base image id, so a rerun with
nothing changed costs one ``docker image inspect``.

Standard library only (``python3 -m local_mode.image`` works before the project is installed).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASE_IMAGE = "local/bookworm-base:py311"
IMAGE_REPOSITORY = "gr00t-sm-train"
DOCKERFILE = "container/Dockerfile"
WHEELHOUSE = "container/wheelhouse"
# The wheelhouse is for the image's interpreter (Debian bookworm: CPython 3.11 on x86_64), not the host's.
_WHEEL_TARGET = [
    "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
    "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64",
    "--platform", "manylinux2014_x86_64", "--platform", "linux_x86_64",
]  # fmt: skip
_STAMP = ".requirements.sha256"
_SKIP_PARTS = {"__pycache__"}


class ImageBuildError(RuntimeError):
    """The image could not be built; the message says which step failed and carries the tool's output tail."""


def context_paths(repo: Path = REPO_ROOT) -> list[str]:
    """The paths .dockerignore lets into the build context (its ``!`` allowlist lines)."""
    lines = (repo / ".dockerignore").read_text().splitlines()
    return sorted(line[1:].strip() for line in lines if line.startswith("!"))


def _files(repo: Path, rel: str) -> list[Path]:
    path = repo / rel
    if path.is_file():
        return [path]
    found = [p for p in path.rglob("*") if p.is_file() and not _SKIP_PARTS & set(p.parts) and p.suffix != ".pyc"]
    return sorted(found)


def content_hash(repo: Path = REPO_ROOT, base_image_id: str = "", extra: str = "") -> str:
    """sha256 over the Dockerfile, .dockerignore, every context file (wheels by name and size) and the base id."""
    digest = hashlib.sha256()
    for rel in [DOCKERFILE, ".dockerignore", *context_paths(repo)]:
        for path in _files(repo, rel):
            digest.update(str(path.relative_to(repo)).encode() + b"\0")
            if path.suffix == ".whl":  # names carry versions; hashing 400 MB of wheels on every run is waste
                digest.update(str(path.stat().st_size).encode())
            else:
                digest.update(path.read_bytes())
    digest.update(f"\0{base_image_id}\0{extra}".encode())
    return digest.hexdigest()


def _run(argv: list[str], step: str, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise ImageBuildError(f"{step} failed (exit {proc.returncode}): {' '.join(argv[:4])} ...\n{tail}")
    return proc


def docker_image_id(ref: str) -> str | None:
    proc = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", ref], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def ensure_wheelhouse(repo: Path = REPO_ROOT, python: str = sys.executable) -> Path:
    """Download every wheel requirements.txt needs into container/wheelhouse/ (once per requirements.txt)."""
    wheelhouse = repo / WHEELHOUSE
    requirements = repo / "requirements.txt"
    want = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = wheelhouse / _STAMP
    if stamp.is_file() and stamp.read_text().strip() == want:
        return wheelhouse
    wheelhouse.mkdir(parents=True, exist_ok=True)
    for old in wheelhouse.glob("*.whl"):  # stale versions would make the image hash drift
        old.unlink()
    _run(
        [python, "-m", "pip", "download", "-q", "-r", str(requirements), "-d", str(wheelhouse), *_WHEEL_TARGET],
        "downloading wheels for the image (pip download)",
    )
    stamp.write_text(want + "\n")
    return wheelhouse


def image_tag(repo: Path = REPO_ROOT, base_image: str = DEFAULT_BASE_IMAGE, install_gr00t: bool = False) -> str:
    """The tag the current sources would build to (the base image must exist)."""
    base_id = docker_image_id(base_image)
    if base_id is None:
        raise ImageBuildError(
            f"base image {base_image} is not present: run scripts/ensure_docker.sh to build it (needs root)"
        )
    return f"{IMAGE_REPOSITORY}:{content_hash(repo, base_id, f'gr00t={install_gr00t}')[:16]}"


def ensure_image(
    repo: Path = REPO_ROOT,
    base_image: str = DEFAULT_BASE_IMAGE,
    *,
    install_gr00t: bool = False,
    offline: bool = True,
    log=None,
) -> str:
    """Build container/Dockerfile unless an image with the same content hash exists; returns its tag."""
    say = log or (lambda msg: None)
    if offline:
        ensure_wheelhouse(repo)
    tag = image_tag(repo, base_image, install_gr00t)
    if docker_image_id(tag):
        say(f"image {tag} is up to date")
        return tag
    say(f"building {tag} from {DOCKERFILE} on {base_image}")
    start = time.monotonic()
    argv = [
        "docker", "build", "-q", "-f", str(repo / DOCKERFILE), "-t", tag, "-t", f"{IMAGE_REPOSITORY}:latest",
        "--build-arg", f"BASE_IMAGE={base_image}",
        "--build-arg", f"INSTALL_GR00T={'true' if install_gr00t else 'false'}",
        str(repo),
    ]  # fmt: skip
    # The legacy builder needs no buildx plugin and no registry (BuildKit would try to pull its frontend).
    _run(argv, f"docker build of {DOCKERFILE}", env={**os.environ, "DOCKER_BUILDKIT": "0"})
    say(f"built {tag} in {time.monotonic() - start:.0f} s")
    _remove_older_tags(tag)
    return tag


def _remove_older_tags(current: str) -> None:
    """Each source change makes a new 1.4 GB tag: drop the older ones (one still in use by a container stays)."""
    proc = subprocess.run(["docker", "image", "ls", IMAGE_REPOSITORY, "--format", "{{.Repository}}:{{.Tag}}"],
                          capture_output=True, text=True)
    for ref in proc.stdout.split():
        if ref not in (current, f"{IMAGE_REPOSITORY}:latest") and not ref.endswith(":<none>"):
            subprocess.run(["docker", "image", "rm", ref], capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m local_mode.image", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-image", default=os.environ.get("GR00T_SM_BASE_IMAGE", DEFAULT_BASE_IMAGE))
    parser.add_argument("--online", action="store_true", help="install from the package index, not a wheelhouse")
    parser.add_argument("--install-gr00t", action="store_true", help="production: Isaac-GR00T + flash-attn (CUDA)")
    args = parser.parse_args(argv)
    try:
        tag = ensure_image(
            base_image=args.base_image,
            install_gr00t=args.install_gr00t,
            offline=not args.online,
            log=lambda msg: print(f"local_mode.image: {msg}", file=sys.stderr),
        )
    except ImageBuildError as exc:
        print(f"local_mode.image: error: {exc}", file=sys.stderr)
        return 1
    print(tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
