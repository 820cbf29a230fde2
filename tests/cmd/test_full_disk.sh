#!/usr/bin/env bash
# test_full_disk.sh (fast suite; issue 16, case 1): a write that fails for lack of space ends
# the program with its error and exit 1, not a crash, and leaves no temporary file. A full
# disk is simulated without root by the file-size limit (ulimit -f, with SIGXFSZ ignored so
# that write(2) fails with EFBIG as it would with ENOSPC): drrl-train's first checkpoint
# (toy environment) and drrl-base's first checkpoint (tiny SST-2 model) exceed it. Before
# the fix both died with SIGSEGV (exit 139) in HDF5's exit handler re-closing the file whose
# close had failed.
set -euo pipefail
train=$(realpath "$1")
base=$(realpath "$2")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# limited KB COMMAND...: COMMAND under a file-size limit of KB KiB; its exit code
limited() {
  local kb="$1"; shift
  set +e
  bash -c 'trap "" XFSZ; ulimit -f "$0"; exec "$@"' "$kb" "$@" > "$tmp/out.txt" 2> "$tmp/err.txt"
  local rc=$?
  set -e
  return $rc
}

rc=0; limited 30 "$train" --config configs/toy.yaml run.dir="$tmp/t" ppo.iterations=3 || rc=$?
[ "$rc" = 1 ] || fail "drrl-train on a full disk: exit $rc (expected 1): $(tail -2 "$tmp/err.txt")"
grep -q "^drrl-train: error: $tmp/t/checkpoints/ckpt-00000003.h5: cannot " "$tmp/err.txt" \
  || fail "drrl-train: no write error named: $(cat "$tmp/err.txt")"
[ -z "$(find "$tmp/t" -name '*.tmp*')" ] || fail "drrl-train left: $(find "$tmp/t" -name '*.tmp*')"
[ -z "$(ls "$tmp/t/checkpoints")" ] || fail "drrl-train published a checkpoint: $(ls "$tmp/t/checkpoints")"

rc=0; limited 2000 "$base" --config configs/tiny.yaml run.dir="$tmp/b" train.epochs=1 \
  train.checkpoint_every=20 data.train_limit=1000 || rc=$?
[ "$rc" = 1 ] || fail "drrl-base on a full disk: exit $rc (expected 1): $(tail -2 "$tmp/err.txt")"
grep -q "^drrl-base: error: $tmp/b/checkpoint.h5: .*cannot " "$tmp/err.txt" \
  || fail "drrl-base: no write error named: $(cat "$tmp/err.txt")"
[ -z "$(find "$tmp/b" -name '*.tmp*')" ] || fail "drrl-base left: $(find "$tmp/b" -name '*.tmp*')"
[ ! -e "$tmp/b/checkpoint.h5" ] || fail "drrl-base published a partial checkpoint"
echo "test_full_disk: ok"
