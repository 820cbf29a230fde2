#!/usr/bin/env bash
# test_empty_data.sh (fast suite; issue 16, case 6): empty or degenerate inputs are errors that
# name the file, before any run directory is made: a dev or training file holding only its
# header (drrl-base reported "dev accuracy 0.0000 (0/0)" and exited 0, or blamed "batch plan"),
# drrl-base --eval of a header-only file, and a YAML file that sets nothing (it ran the whole
# default training before).
set -euo pipefail
base=$(realpath "$1")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

head -1 data/sst2/dev.tsv > "$tmp/header.tsv"
expect_error "dev split ($tmp/header.tsv): expected at least one row, found none" \
  "$base" --config configs/tiny.yaml run.dir="$tmp/r1" data.dev="$tmp/header.tsv"
expect_error "train split ($tmp/header.tsv): expected at least one row, found none" \
  "$base" --config configs/tiny.yaml run.dir="$tmp/r2" data.train="$tmp/header.tsv"
[ ! -e "$tmp/r1" ] && [ ! -e "$tmp/r2" ] || fail "a run directory was made for empty data"
: > "$tmp/empty.yaml"
expect_error "$tmp/empty.yaml: expected a mapping of settings, found an empty document" \
  "$base" --config "$tmp/empty.yaml" run.dir="$tmp/r3"
printf '# nothing but a comment\n' > "$tmp/comment.yaml"
expect_error "$tmp/comment.yaml: expected a mapping of settings, found an empty document" \
  "$base" --config "$tmp/comment.yaml" run.dir="$tmp/r4"
[ ! -e "$tmp/r3" ] && [ ! -e "$tmp/r4" ] || fail "a run directory was made for an empty config"
echo "test_empty_data: ok"
