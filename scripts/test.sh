#!/usr/bin/env bash
# test.sh: install what is missing, build, and run the whole test suite:
#   1. the fast suite (`meson test`) and the slow suite (`meson test --suite slow`) on a
#      release build;
#   2. the fast suite again on a build with AddressSanitizer + UndefinedBehaviorSanitizer.
# Exits non-zero if any test fails. CI (.ci/run) runs exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test

scripts/build.sh build
meson test -C build --print-errorlogs
meson test -C build --suite slow --print-errorlogs

scripts/build.sh build-sanitize -Db_sanitize=address,undefined -Dbuildtype=debugoptimized -Db_lundef=false
meson test -C build-sanitize --print-errorlogs
echo "test.sh: all suites passed"
