#!/usr/bin/env bash
# Make a Docker engine usable for local mode and the container tests, and build the Debian base image.
#
#   scripts/ensure_docker.sh [--status-file FILE] [--no-install] [--no-base]
#
# 1. `docker info` works already -> use that engine.
# 2. Otherwise, when we are root on a Debian/Ubuntu host: apt-get install docker.io docker-compose debootstrap
#    (only what is missing) and start dockerd in the background (log: /var/log/gr00t-sm-dockerd.log).
# 3. Build the base image without a registry (debootstrap minbase bookworm + `docker import`) once; it is cached
#    by tag. The project image itself is built by `python3 -m local_mode.image` (tagged by a content hash).
#
# Exit 0 when the engine is ready, 3 when Docker cannot run here; the reason goes to stderr and, with
# --status-file, into FILE ("ok" or "unavailable: <reason>"), which the test suite reads to skip docker tests
# WITH that reason. Never fails the caller for a missing Docker: callers decide.
set -uo pipefail

STATUS_FILE=""
INSTALL=1
BASE=1
while [ $# -gt 0 ]; do
  case "$1" in
    --status-file) STATUS_FILE="$2"; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    --no-base) BASE=0; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "ensure_docker: unknown argument $1" >&2; exit 2 ;;
  esac
done

BASE_IMAGE="${GR00T_SM_BASE_IMAGE:-local/bookworm-base:py311}"
DOCKERD_LOG="${GR00T_SM_DOCKERD_LOG:-/var/log/gr00t-sm-dockerd.log}"
# python3-venv brings ensurepip, so the image can create its venv with no network.
BASE_PACKAGES="python3,python3-venv,ca-certificates"
T0=$(date +%s)

say() { echo "ensure_docker: $*" >&2; }
status() { [ -n "$STATUS_FILE" ] && { mkdir -p "$(dirname "$STATUS_FILE")"; printf '%s\n' "$1" > "$STATUS_FILE"; }; return 0; }
unavailable() { say "Docker cannot run here: $1"; status "unavailable: $1"; exit 3; }
engine_up() { docker info >/dev/null 2>&1; }
is_root() { [ "$(id -u)" = "0" ]; }

apt_install() {  # apt_install PKG... : install the missing ones, quietly
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/gr00t-sm-apt.log 2>&1 \
    || { apt-get update -q >>/tmp/gr00t-sm-apt.log 2>&1 \
         && apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/gr00t-sm-apt.log 2>&1; }
}

start_dockerd() {
  command -v dockerd >/dev/null 2>&1 || return 1
  if [ -S /var/run/docker.sock ] && pgrep -x dockerd >/dev/null 2>&1; then
    say "dockerd is running but not answering yet; waiting"
  else
    say "starting dockerd (log: $DOCKERD_LOG)"
    # setsid: the daemon must outlive this script and the make/pytest process group that started it.
    setsid nohup dockerd >"$DOCKERD_LOG" 2>&1 < /dev/null &
  fi
  local i
  for i in $(seq 1 60); do engine_up && return 0; sleep 1; done
  return 1
}

debian_mirror() {  # the Debian mirror apt already uses (so it works behind the same proxy/mirror)
  local m=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) {print $i; exit}}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

build_base() {
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && { say "base image $BASE_IMAGE present"; return 0; }
  if is_root && command -v debootstrap >/dev/null 2>&1; then
    local rootfs
    rootfs=$(mktemp -d /tmp/gr00t-sm-rootfs.XXXXXX)
    say "building $BASE_IMAGE with debootstrap from $(debian_mirror)"
    if debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$rootfs" "$(debian_mirror)" \
         >/tmp/gr00t-sm-debootstrap.log 2>&1; then
      rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
      tar -C "$rootfs" -c . | docker import -c 'ENV LANG=C.UTF-8' - "$BASE_IMAGE" >/dev/null
      local rc=$?
      rm -rf "$rootfs"
      return $rc
    fi
    say "debootstrap failed (see /tmp/gr00t-sm-debootstrap.log)"
    rm -rf "$rootfs"
  fi
  # Hosts without debootstrap (macOS, non-Debian) usually reach a registry: the Dockerfile apt-installs python3.
  say "pulling debian:bookworm-slim as the base image"
  docker pull -q debian:bookworm-slim >/dev/null 2>&1 && docker tag debian:bookworm-slim "$BASE_IMAGE"
}

if ! engine_up; then
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker-compose >/dev/null 2>&1; then
    [ "$INSTALL" = 1 ] || unavailable "no Docker engine answers 'docker info' and installing was not allowed (--no-install)"
    is_root || unavailable "no Docker engine answers 'docker info'; installing one needs root (run as root, or install Docker yourself)"
    command -v apt-get >/dev/null 2>&1 || unavailable "no Docker engine answers 'docker info' and this host has no apt-get to install docker.io"
    apt_install docker.io docker-compose debootstrap \
      || unavailable "apt-get install docker.io docker-compose failed (see /tmp/gr00t-sm-apt.log)"
  fi
  start_dockerd || unavailable "dockerd did not start within 60 s (see $DOCKERD_LOG)"
fi
say "engine ready ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
# The SageMaker SDK's local mode runs `docker compose` or `docker-compose`.
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
  if [ "$INSTALL" = 1 ] && is_root && command -v apt-get >/dev/null 2>&1; then apt_install docker-compose; fi
  command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 \
    || unavailable "neither 'docker compose' nor 'docker-compose' is installed (SageMaker local mode needs one)"
fi
if [ "$BASE" = 1 ]; then
  if is_root && ! command -v debootstrap >/dev/null 2>&1 && [ "$INSTALL" = 1 ] && command -v apt-get >/dev/null 2>&1; then
    apt_install debootstrap || true
  fi
  build_base || unavailable "could not build the base image $BASE_IMAGE (debootstrap or registry pull failed)"
fi
status "ok"
say "ready in $(( $(date +%s) - T0 )) s"
