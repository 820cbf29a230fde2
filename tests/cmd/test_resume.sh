#!/usr/bin/env bash
# test_resume.sh (fast suite; issue 16, case 4): one resume contract for drrl-train and
# drrl-base (pipeline/resume.h). --resume CKPT|DIR continues in the run's own directory: a
# copied or moved run directory continues where it is and ends in the state of a straight run,
# leaving the original untouched; only the run-control keys may change (each change said), any
# other key is an error naming it with both values and their origin, from the command line or
# from --config; run.dir/--out naming another directory is refused; a checkpoint outside a run
# directory is refused; the metrics rows written after the checkpoint are not repeated.
set -euo pipefail
train=$(realpath "$1")
base=$(realpath "$2")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---- drrl-train on the toy environment ----
toy=(--config configs/toy.yaml ppo.iterations=6)
"$train" "${toy[@]}" run.dir="$tmp/s" > "$tmp/s.txt"
"$train" "${toy[@]}" run.dir="$tmp/a" run.stop_at=3 > /dev/null
cp -a "$tmp/a" "$tmp/b"
before=$(cd "$tmp/a" && find . -type f ! -name .lock -exec md5sum {} + | sort)
# the copy continues in itself (the checkpoint's stored run.dir is $tmp/a)
"$train" --resume "$tmp/b" run.stop_at=0 > "$tmp/b.txt"
grep -q "run directory $tmp/b " "$tmp/b.txt" || fail "the copy did not run in $tmp/b: $(head -3 "$tmp/b.txt")"
grep -q "^resume: run.stop_at 3 -> 0 (command line 'run.stop_at=0')$" "$tmp/b.txt" \
  || fail "the allowed change was not said: $(head -5 "$tmp/b.txt")"
[ "$(state "$tmp/b.txt")" = "$(state "$tmp/s.txt")" ] || fail "the copy's resumed state differs from the straight run"
[ -f "$tmp/b/checkpoints/ckpt-00000006.h5" ] || fail "the copy's final checkpoint is not in the copy"
after=$(cd "$tmp/a" && find . -type f ! -name .lock -exec md5sum {} + | sort)
[ "$before" = "$after" ] || fail "resuming the copy changed the original's files"
[ "$(cut -d, -f1 "$tmp/b/metrics.csv" | tr '\n' ' ')" = "iteration 1 2 3 4 5 6 " ] \
  || fail "the copy's metrics.csv rows: $(cut -d, -f1 "$tmp/b/metrics.csv" | tr '\n' ' ')"
# a moved directory, resumed from a checkpoint file inside it
mv "$tmp/a" "$tmp/m"
"$train" --resume "$tmp/m/checkpoints/ckpt-00000003.h5" run.stop_at=0 > "$tmp/m.txt"
[ "$(state "$tmp/m.txt")" = "$(state "$tmp/s.txt")" ] || fail "the moved run's resumed state differs"
[ -e "$tmp/a" ] && fail "resuming the moved directory wrote into its old place"
# relative paths: from inside the checkpoints folder
(cd "$tmp/m/checkpoints" && "$train" --resume ckpt-00000006.h5 ppo.iterations=7 > "$tmp/rel.txt") \
  || fail "--resume with a relative checkpoint path"
[ -f "$tmp/m/checkpoints/ckpt-00000007.h5" ] || fail "the relative resume did not write into its run"

# keys that may not change, from the command line and from --config
expect_error "$tmp/b/checkpoints/ckpt-00000006.h5: toy.noise: expected the checkpoint's value" \
  "$train" --resume "$tmp/b" toy.noise=0.5
grep -qF "(command line 'toy.noise=0.5'): on resume only these keys may change: ppo.iterations, run.stop_at, run.log_every, run.checkpoint_every, run.keep, run.rollouts_every" \
  "$tmp/err.txt" || fail "the refused key's message: $(cat "$tmp/err.txt")"
sed 's/^  noise: .*/  noise: 0.25/' configs/toy.yaml > "$tmp/other.yaml"
grep -q "^  noise: 0.25$" "$tmp/other.yaml" || fail "configs/toy.yaml changed: no toy.noise line"
expect_error "toy.noise: expected the checkpoint's value" "$train" --resume "$tmp/b" --config "$tmp/other.yaml"
grep -qF "found 0.25 ($tmp/other.yaml)" "$tmp/err.txt" || fail "--config's origin not named: $(cat "$tmp/err.txt")"
# --config with the run's own config: only the allowed keys differ, and are said
"$train" --resume "$tmp/b" --config configs/toy.yaml ppo.iterations=7 > "$tmp/c.txt"
grep -q "^resume: ppo.iterations 6 -> 7 (command line 'ppo.iterations=7')$" "$tmp/c.txt" \
  || fail "resume with --config: $(head -5 "$tmp/c.txt")"
grep -q "^resume: run.stop_at 0 -> .*(configs/toy.yaml)$" "$tmp/c.txt" && fail "unchanged key said"
# another directory is refused, however it is named; the run's own is accepted
expect_error "run.dir: expected the run's own directory $tmp/b on resume, found $tmp/x (command line 'run.dir=$tmp/x'): to continue the run elsewhere, copy its directory there" \
  "$train" --resume "$tmp/b" run.dir="$tmp/x"
expect_error "expected the run's own directory $tmp/b on resume" "$train" --resume "$tmp/b" --out "$tmp/x"
[ -e "$tmp/x" ] && fail "a refused resume wrote $tmp/x"
"$train" --resume "$tmp/b" --out "$tmp/b/" ppo.iterations=8 > /dev/null || fail "--out naming the run's own directory"
# a checkpoint file outside a run directory
cp "$tmp/b/checkpoints/ckpt-00000008.h5" "$tmp/loose.h5"
expect_error "--resume $tmp/loose.h5: expected a run directory or a checkpoint in one (RUN_DIR/checkpoints/ckpt-NNNNNNNN.h5), found a file in $tmp" \
  "$train" --resume "$tmp/loose.h5"
expect_error "--resume $tmp/none: expected a run directory or a checkpoint, found nothing there (No such file or directory)" \
  "$train" --resume "$tmp/none"
mkdir "$tmp/empty"
expect_error "$tmp/empty/checkpoints: cannot open" "$train" --resume "$tmp/empty"

# ---- drrl-base on the tiny model ----
tiny=(--config configs/tiny.yaml train.epochs=1 data.train_limit=600 train.eval_every=0)
"$base" "${tiny[@]}" run.dir="$tmp/bs" > "$tmp/bs.txt"
"$base" "${tiny[@]}" run.dir="$tmp/ba" train.max_steps=10 > /dev/null
cp -a "$tmp/ba" "$tmp/bb"
# a row written after the checkpoint (by a run killed before its next one) is not repeated
echo "99,1,0.5,0.001,1.0,,9.9" >> "$tmp/bb/metrics.csv"
"$base" --resume "$tmp/bb" train.max_steps=0 > "$tmp/bb.txt"
grep -q "run directory $tmp/bb " "$tmp/bb.txt" || fail "base: the copy did not run in $tmp/bb"
grep -q "^resume: train.max_steps 10 -> 0 (command line 'train.max_steps=0')$" "$tmp/bb.txt" \
  || fail "base: the allowed change was not said: $(head -5 "$tmp/bb.txt")"
[ "$(state "$tmp/bb.txt")" = "$(state "$tmp/bs.txt")" ] || fail "base: the copy's resumed state differs"
grep -q "^99," "$tmp/bb/metrics.csv" && fail "base: the row after the checkpoint survived the resume"
steps=$(awk -F, 'NR > 1 && $3 != "" { print $1 }' "$tmp/bb/metrics.csv")
[ "$(echo "$steps" | sort -n | uniq -d)" = "" ] || fail "base: repeated rows in metrics.csv: $steps"
cmp -s "$tmp/ba/metrics.csv" "$tmp/bb/metrics.csv" && fail "base: the copy's log did not grow"
[ "$(awk -F, 'NR > 1 && $3 != ""' "$tmp/ba/metrics.csv" | wc -l)" -ge 1 ] || fail "base: the original lost its rows"
expect_error "$tmp/bb/checkpoint.h5: model.d_ff: expected the checkpoint's value" \
  "$base" --resume "$tmp/bb" model.d_ff=64
expect_error "run.dir: expected the run's own directory $tmp/bb on resume, found $tmp/y" \
  "$base" --resume "$tmp/bb/checkpoint.h5" run.dir="$tmp/y"
# the checkpoint alone, without the run's best model: refused before any work
mkdir "$tmp/alone" && cp "$tmp/ba/checkpoint.h5" "$tmp/alone/"
expect_error "$tmp/alone/model.h5: expected the run's best model so far" "$base" --resume "$tmp/alone"
[ "$(ls "$tmp/alone" | grep -v '^\.lock$')" = "checkpoint.h5" ] || fail "base: a refused resume wrote files"
expect_error "--resume $tmp/none: expected a run directory or a checkpoint, found nothing there" \
  "$base" --resume "$tmp/none"
echo "test_resume: ok"
