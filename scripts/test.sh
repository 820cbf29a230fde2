#!/usr/bin/env bash
# test.sh: install what is missing, build, and run the whole test suite:
#   1. the fast suite (`meson test`) and the slow suite (`meson test --suite slow`) on a
#      release build;
#   2. the fast suite again on a build with AddressSanitizer + UndefinedBehaviorSanitizer;
#   3. every libFuzzer target of tests/fuzz/ replays its seed corpus once (scripts/fuzz.sh
#      replay: clang build in build-fuzz/, ASan + UBSan).
# data/imdb is linked to the team's copy (../shared/data/imdb, or DRRL_IMDB_DIR) when it is
# missing (scripts/lib.sh imdb_link).
# Exits non-zero if any test fails. CI (.ci/run) runs exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
scripts/install-deps.sh --test
# the full IMDB files for tests/data/test_imdb's full-file checks (skipped without them)
imdb_link || echo "note: no data/imdb: the full-file IMDB checks are skipped"

scripts/build.sh build
meson test -C build --print-errorlogs
meson test -C build --suite slow --print-errorlogs

scripts/build.sh build-sanitize -Db_sanitize=address,undefined -Dbuildtype=debugoptimized -Db_lundef=false
meson test -C build-sanitize --print-errorlogs

scripts/fuzz.sh replay
echo "test.sh: all suites passed"
