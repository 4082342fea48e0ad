#!/usr/bin/env bash
# Sourced by scripts/run.sh and scripts/test.sh: create .venv and install AI Mass from this checkout.
#
# torch is installed on its own first: `torch==2.13.0` resolved together with everything else can pick
# PyPI's CUDA build (gigabytes); alone it takes the CPU build where one is on disk, and the full
# install then keeps it because it already satisfies the pin.
bootstrap_venv() {
  local extras=${1:-all,dev}
  if [[ ! -x .venv/bin/python ]]; then
    printf '==> creating .venv with %s\n' "${PYTHON:-python3}"
    "${PYTHON:-python3}" -m venv .venv
  fi
  local pip=(.venv/bin/python -m pip install -qq --disable-pip-version-check)
  if ! .venv/bin/python -c 'import torch' 2>/dev/null; then
    printf '==> installing torch==2.13.0\n'
    "${pip[@]}" 'torch==2.13.0'
  fi
  printf '==> installing aimass[%s] into .venv\n' "$extras"
  "${pip[@]}" -e ".[$extras]"
}
