#!/usr/bin/env bash
# Set up everything the tests need on a fresh Linux machine with Python 3.10+, then run them:
# a virtualenv in .venv with gputrain and its test extra (mpi4py included), Prometheus,
# OpenMPI, docker.io and debootstrap (Debian packages, when apt-get can be used), ruff, then
# pytest, then (the whole suite only) scripts/docker_check.sh: the Docker image built and
# run, or one line saying why it was skipped. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

# apt_install COMMAND WHY PACKAGE...: install Debian packages unless COMMAND exists already
apt_install() {
  local cmd=$1 why=$2; shift 2
  command -v "$cmd" >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || return 0
  local SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  $SUDO true 2>/dev/null || return 0
  echo "installing $* (Debian packages) for $why"
  { $SUDO apt-get update -qq >/dev/null && \
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" \
      >/dev/null; } || echo "warning: could not install $*; $why will be skipped"
}
apt_install prometheus "the metrics scrape test" prometheus
# libopenmpi-dev: the libmpi.so that mpi4py's wheel loads (and builds against)
apt_install mpiexec "the mpiexec tests" openmpi-bin libopenmpi-dev
apt_install dockerd "the Docker image check" docker.io
apt_install debootstrap "the Docker image check" debootstrap

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

.venv/bin/ruff check gputrain tests scripts
# gpu-marked tests run on CuPy when this machine has a GPU, else on the CuPy stand-in
# (tests/conftest.py); with a GPU they also run on the stand-in, which checks what a GPU
# cannot (launch and synchronisation counts, device mix-ups).
.venv/bin/python -m pytest "$@"
if [ -e /dev/nvidia0 ]; then
  GPUTRAIN_CUPY=standin .venv/bin/python -m pytest -m gpu "$@"
fi
if [ $# -eq 0 ]; then
  timeout 1500 scripts/docker_check.sh
fi
