#!/usr/bin/env bash
# The Docker image, built and run for real (scripts/test.sh runs this after pytest):
# docker/Dockerfile is built on a local base (bookworm from debootstrap, with this machine's CA
# bundle, made into an image with `docker import`; no registry is needed) without the CuPy
# extra, then scripts/docker_check.py runs it through upload -> job -> docker stop mid-job ->
# docker start -> the job resumes and succeeds, its data intact in the volume.
# Everything stays on loopback (--network host, server on 127.0.0.1).
#
# Where it cannot run (not root, dockerd or debootstrap missing, the daemon does not start,
# debootstrap fails, GPUTRAIN_DOCKER_CHECK=0),
# it prints "docker check skipped: <why>" and exits 0; a build or run that fails exits 1.
# The base image's tarball and Docker's layer cache are kept between runs ($CACHE and
# /var/lib/docker), so a second run takes well under a minute plus the job.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${GPUTRAIN_DOCKER_CACHE:-/var/cache/gputrain-docker}
BASE_TAG=gputrain-base:bookworm
MIRROR=${GPUTRAIN_DEBIAN_MIRROR:-http://deb.debian.org/debian}

skip() { echo "docker check skipped: $*"; exit 0; }

[ "${GPUTRAIN_DOCKER_CHECK:-1}" != 0 ] || skip "GPUTRAIN_DOCKER_CHECK=0"
[ "$(id -u)" = 0 ] || skip "needs root (to start dockerd and run debootstrap)"
for cmd in dockerd debootstrap; do  # scripts/test.sh installs them (Debian packages)
  command -v "$cmd" >/dev/null 2>&1 || skip "$cmd is not installed (apt-get install docker.io debootstrap)"
done
mkdir -p "$CACHE"

DOCKERD_PID=""
cleanup() { if [ -n "$DOCKERD_PID" ]; then kill "$DOCKERD_PID" 2>/dev/null || true; wait "$DOCKERD_PID" 2>/dev/null || true; fi; }
trap cleanup EXIT
if ! timeout 10 docker info >/dev/null 2>&1; then
  # no bridge network or iptables needed: everything runs with --network host
  dockerd --bridge=none --iptables=false --ip6tables=false >"$CACHE/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 60); do timeout 5 docker info >/dev/null 2>&1 && break; sleep 1; done
  if ! timeout 10 docker info >/dev/null 2>&1; then
    why=$(tail -n 3 "$CACHE/dockerd.log" | tr '\n' ' ')
    skip "dockerd did not start within 60 s (its log ends: $why)"
  fi
fi

if ! docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
  if [ ! -f "$CACHE/bookworm.tar" ]; then
    echo "docker check: debootstrap bookworm from $MIRROR (once; cached in $CACHE)"
    root=$(mktemp -d)
    if ! debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1; then
      rm -rf "$root"
      skip "debootstrap failed (see $CACHE/debootstrap.log)"
    fi
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -cf "$CACHE/bookworm.tar.tmp" . && mv "$CACHE/bookworm.tar.tmp" "$CACHE/bookworm.tar"
    rm -rf "$root"
  fi
  docker import -c 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    -c 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    "$CACHE/bookworm.tar" "$BASE_TAG" >/dev/null
fi

.venv/bin/python scripts/docker_check.py --base "$BASE_TAG"
