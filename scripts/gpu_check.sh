#!/usr/bin/env bash
# The GPU check: on a fresh Linux machine with one NVIDIA GPU (driver installed, PyPI
# reachable, Python 3.10+), from a checkout of this repository:
#
#   scripts/gpu_check.sh [RESULTS_FILE]        (default: gpu-check-results.txt)
#
# installs gputrain with its gpu and test extras into .venv-gpu (one CuPy wheel:
# cupy-cuda12x, which CUDA 12 and 13 drivers both run; its ctk extra when the machine has
# no CUDA 12 toolkit), checks that CuPy sees the GPU and
# compiles a kernel (a CuPy that cannot use the GPU stops the check here, loudly), runs
# `pytest -m gpu` on CuPy, then scripts/bench_gpu.py, and writes everything into one
# results file. Each step has a time limit (180 + 40 + 170 + 80 s: under 8 minutes in all).
# Exit status: 0 when every step passed.
set -uo pipefail
cd "$(dirname "$0")/.."
RESULTS=$(realpath -m "${1:-gpu-check-results.txt}")
PYTHON=${PYTHON:-python3}
VENV=.venv-gpu
status=0
started=$(date +%s)

section() { printf '\n== %s (%ss since start)\n' "$1" "$(( $(date +%s) - started ))" >>"$RESULTS"; }
# step NAME SECONDS COMMAND...: run with a time limit, output into the results file
step() {
  local name=$1 limit=$2; shift 2
  section "$name"
  timeout "$limit" "$@" >>"$RESULTS" 2>&1
  local rc=$?
  echo "-- $name: exit $rc" >>"$RESULTS"
  [ "$rc" = 0 ] || status=1
  return "$rc"
}

{
  echo "# gputrain GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 \
    || echo "nvidia-smi failed: is the NVIDIA driver installed?"
} >"$RESULTS"

step "install (.[gpu,test] into $VENV)" 180 bash -c "
  [ -x $VENV/bin/python ] || $PYTHON -m venv $VENV
  $VENV/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  $VENV/bin/python -m pip install -q --disable-pip-version-check -e '.[gpu,test]'
  # CuPy loads the CUDA libraries (NVRTC, cuBLAS, cuRAND...) from a system toolkit; without
  # one, the same CuPy wheel's ctk extra brings them from PyPI
  if ! ldconfig -p 2>/dev/null | grep -q 'libnvrtc.so.12' && \
     ! ls /usr/local/cuda*/lib64/libnvrtc.so.12 >/dev/null 2>&1; then
    echo 'no system CUDA 12 toolkit: installing cupy-cuda12x[ctk]'
    $VENV/bin/python -m pip install -q --disable-pip-version-check 'cupy-cuda12x[ctk]'
  fi
  $VENV/bin/python -m pip list 2>/dev/null | grep -i -E '^(cupy|nvidia-|numpy )'
" || { echo "gpu check: install failed, see $RESULTS" >&2; exit 1; }

# CuPy must see the GPU and compile and launch a kernel; else every gpu test below would
# only repeat the same failure.
step "cupy sees the GPU" 40 "$VENV/bin/python" -c "
import cupy, numpy
print('cupy', cupy.__version__, 'devices', cupy.cuda.runtime.getDeviceCount())
print(cupy.cuda.runtime.getDeviceProperties(0)['name'].decode())
from gputrain import kernels
x = cupy.linspace(-3, 3, 1000, dtype=numpy.float32)
loss = kernels.sigmoid_bce_forward(x, cupy.zeros_like(x))
print('kernel ok, loss sum', float(loss.sum()))
" || { echo "gpu check: CuPy cannot use the GPU, see $RESULTS" >&2; exit 1; }

# gpu-marked tests on CuPy (tests/conftest.py: GPUTRAIN_CUPY=cupy fails loudly, never skips
# for want of a device); the stand-in-only checks (counters, device mix-ups) skip here.
step "pytest -m gpu (CuPy)" 170 env GPUTRAIN_CUPY=cupy "$VENV/bin/python" -m pytest -m gpu \
  -p no:cacheprovider --timeout 120

step "scripts/bench_gpu.py" 80 "$VENV/bin/python" scripts/bench_gpu.py --json

section "done"
echo "total seconds: $(( $(date +%s) - started )), status: $status" >>"$RESULTS"
echo "gpu check: wrote $RESULTS (status $status)"
exit "$status"
