#!/usr/bin/env bash
# test_empty_data.sh (fast suite; issue 16, case 6): empty or degenerate inputs are errors that
# name the file, before any run directory is made: a dev or training file holding only its
# header (drrl-base reported "dev accuracy 0.0000 (0/0)" and exited 0, or blamed "batch plan"),
# a YAML file that sets nothing (it ran the whole default training before); and errors that
# point at the right thing (case 8): YAML's null as a string, a very long value, an override
# breaking a cross-field rule.
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

# YAML's null where a string is expected (`dir: ~` made a folder named "~"; case 8)
printf 'run:\n  dir: ~\n' > "$tmp/null.yaml"
expect_error "$tmp/null.yaml:2:8: run.dir: expected a string, found null (~; quote it for that text)" \
  "$base" --config "$tmp/null.yaml"
printf 'run:\n  dir: null\n' > "$tmp/null2.yaml"
expect_error "$tmp/null2.yaml:2:8: run.dir: expected a string, found null (null; quote it for that text)" \
  "$base" --config "$tmp/null2.yaml"
# a 1500-byte value is clipped where the message names it: the reason survives (case 8)
long=$(printf 'x%.0s' $(seq 1500))
expect_error "...': model.n_layers: expected an integer, found 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'" \
  "$base" --config configs/tiny.yaml "model.n_layers=$long"
# a cross-field error names the override with the file (it named the file alone; case 8)
expect_error "configs/tiny.yaml with model.n_heads=3: model.n_heads: expected a divisor of model.d_model (64), found 3" \
  "$base" --config configs/tiny.yaml model.n_heads=3
echo "test_empty_data: ok"
