#!/usr/bin/env bash
# Set up everything the tests need on a fresh Linux machine with Python 3.10+, then run them:
# a virtualenv in .venv with gputrain and its test extra, Prometheus (Debian package, when
# apt-get can be used), ruff, then pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if ! command -v prometheus >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  if $SUDO true 2>/dev/null; then
    echo "installing prometheus (Debian package) for the metrics scrape test"
    $SUDO apt-get update -qq >/dev/null && \
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null \
      || echo "warning: could not install prometheus; its test will be skipped"
  fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

.venv/bin/ruff check gputrain tests scripts
.venv/bin/python -m pytest "$@"
