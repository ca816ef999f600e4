#!/usr/bin/env bash
# Set up SacralTumorAI on a fresh Debian/Ubuntu machine: system libraries (installed when run as root,
# otherwise listed), a virtual environment at .venv with the pinned Python stack, and a `pip check`.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
# GL/X libraries that VTK and slicer-core load at import; OSMesa for off-screen rendering in the browser
# app; Debian's Chromium for the browser tests (Playwright drives it, it downloads no browser of its own).
APT_PACKAGES=(libgl1 libegl1 libglu1-mesa libxrender1 libxt6 libosmesa6 chromium)

missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: please install these system packages first: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch and torchvision first and together (see requirements/README.md), so no other package pulls a
# different torch.
echo "setup: installing Python packages into .venv (first run: several minutes, about 6 GB)"
.venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
.venv/bin/python -m pip install -q -e ".[ml,web,dicom,test]"
.venv/bin/python -m pip check
echo "setup: done. Try: .venv/bin/sacral-tumor-ai info"
