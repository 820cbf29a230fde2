#!/usr/bin/env bash
# install-deps.sh: install what drrl needs from Debian's archive, if missing.
#   scripts/install-deps.sh          build + run dependencies
#   scripts/install-deps.sh --test   also the PyTorch/h5py reference used by the tests
#   scripts/install-deps.sh --fuzz   also clang and libFuzzer's runtime (scripts/fuzz.sh)
# Uses sudo when not root. Does nothing (and needs no network) when all are present.
set -euo pipefail

pkgs=(gcc pkg-config meson ninja-build libopenblas-openmp-dev liblapacke-dev libyaml-dev
      libhdf5-dev zlib1g-dev libopenmpi-dev openmpi-bin python3 python3-numpy python3-h5py
      python3-matplotlib)
if [[ "${1:-}" == "--test" ]]; then
  pkgs+=(python3-torch)
fi
if [[ "${1:-}" == "--fuzz" ]]; then
  pkgs+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
