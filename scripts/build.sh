#!/usr/bin/env bash
# build.sh: configure (once) and build drrl with meson into a build directory.
#   scripts/build.sh [BUILD_DIR] [extra meson setup options...]
# The OpenMP flavour of OpenBLAS is selected explicitly through its pkg-config folder, so the
# build does not depend on which flavour Debian's alternatives point to (docs/design.md section 9).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
shift || true
export PKG_CONFIG_PATH="/usr/lib/x86_64-linux-gnu/openblas-openmp/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
if [[ ! -f "$dir/build.ninja" ]]; then
  meson setup "$dir" "$@"
fi
ninja -C "$dir"
