#!/usr/bin/env bash
# test_train.sh: drrl-train end to end (run from the source root), on the toy environment and
# on the rank environment of a tiny frozen model trained here with drrl-base:
#   1. resume equality: N iterations straight vs N/2, stop, --resume, N/2 give the same
#      training state (one sha256 over weights, Adam moments and step, RNG streams, counters),
#      the same final checkpoint contents and the same metrics.csv rows (all columns but the
#      wall-clock ones); table latency mode for the rank environment;
#   2. files: metrics.csv header, rollout files with every field, run.keep checkpoints kept;
#   3. SIGKILL at random moments of a run that checkpoints every iteration: the newest
#      checkpoint always loads and the run resumes from it;
#   4. SIGTERM: a checkpoint is written and the exit code is 128 + 15;
#   5. errors: a truncated checkpoint, a checkpoint of another base model, a policy of
#      another shape, an unknown config key: non-zero exit and a message naming the item.
#   6. a config.yaml that cannot be written leaves the earlier one whole;
#   7. scripts: run.sh refuses --out DIR and --out=DIR; lib.sh's policy_resolve/policy_train
#      end at run.stop_at when a config sets it.
set -euo pipefail
train=$(realpath "$1")
base=$(realpath "$2")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# metrics rows without the wall-clock columns (fps, seconds)
rows() { cut -d, -f1-3,6- "$1"; }

# ---- toy environment ----
toy=(--config configs/toy.yaml ppo.iterations=8 run.checkpoint_every=2 run.rollouts_every=4 run.keep=2)
"$train" "${toy[@]}" run.dir="$tmp/ta" > "$tmp/ta.txt"
"$train" "${toy[@]}" run.dir="$tmp/tb" run.stop_at=4 > "$tmp/tb1.txt"
"$train" --resume "$tmp/tb" run.stop_at=0 > "$tmp/tb2.txt"
grep -q "resumed from .*iteration 4," "$tmp/tb2.txt" || fail "toy: resume did not start at iteration 4"
sa=$(state "$tmp/ta.txt"); sb=$(state "$tmp/tb2.txt")
[[ -n "$sa" && "$sa" == "$sb" ]] || fail "toy: resumed state $sb differs from straight $sa"
diff <(rows "$tmp/ta/metrics.csv") <(rows "$tmp/tb/metrics.csv") > /dev/null \
  || fail "toy: metrics differ between the straight and the resumed run"
[[ $(wc -l < "$tmp/ta/metrics.csv") -eq 9 ]] || fail "toy: metrics.csv: expected a header and 8 rows"
head -1 "$tmp/ta/metrics.csv" | tr , '\n' > "$tmp/cols.txt"
for col in iteration env_steps fps reward_mean fidelity_mean latency_ratio flops_ratio \
           bound_violations approx_kl clip_fraction explained_variance entropy; do
  grep -qx "$col" "$tmp/cols.txt" || fail "metrics.csv lacks column $col"
done
[[ $(ls "$tmp/ta/checkpoints" | wc -l) -eq 2 ]] || fail "run.keep=2: expected 2 checkpoints, found $(ls "$tmp/ta/checkpoints")"
ls "$tmp/ta/checkpoints/ckpt-00000008.h5" "$tmp/ta/checkpoints/ckpt-00000006.h5" > /dev/null \
  || fail "the newest checkpoints are not the ones kept"
ls "$tmp/ta/rollouts/iter-00000004.h5" "$tmp/ta/rollouts/iter-00000008.h5" > /dev/null \
  || fail "rollout files missing"

# SIGTERM: checkpoint and exit 143
"$train" --config configs/toy.yaml ppo.iterations=100000 run.dir="$tmp/tt" run.checkpoint_every=100000 > "$tmp/tt.txt" &
pid=$!
for _ in $(seq 100); do [[ -s "$tmp/tt/metrics.csv" && $(wc -l < "$tmp/tt/metrics.csv") -ge 3 ]] && break; sleep 0.1; done
kill -TERM $pid
rc=0; wait $pid || rc=$?
[[ $rc -eq 143 ]] || fail "SIGTERM: expected exit code 143, found $rc"
grep -q "^signal 15: stopped after iteration" "$tmp/tt.txt" || fail "SIGTERM: no stop message"
last=$(ls "$tmp/tt/checkpoints" | tail -1)
n=$((10#${last:5:8}))
"$train" --resume "$tmp/tt" run.stop_at=$((n + 1)) > "$tmp/tt2.txt" || fail "resume after SIGTERM failed"

# SIGKILL at random moments while checkpointing every iteration
for k in 1 2 3 4 5; do
  "$train" --config configs/toy.yaml ppo.iterations=100000 run.dir="$tmp/tk" run.checkpoint_every=1 \
    run.rollouts_every=1 > /dev/null &
  pid=$!
  sleep "0.$((RANDOM % 9 + 1))"
  kill -KILL $pid; wait $pid 2>/dev/null || true
  if [[ -d "$tmp/tk/checkpoints" ]] && ls "$tmp/tk/checkpoints" | grep -qE '^ckpt-[0-9]{8}\.h5$'; then
    last=$(ls "$tmp/tk/checkpoints" | grep -E '^ckpt-[0-9]{8}\.h5$' | tail -1)
    n=$((10#${last:5:8}))
    "$train" --resume "$tmp/tk" run.stop_at=$((n + 1)) run.checkpoint_every=1 > "$tmp/tk.txt" 2>&1 \
      || fail "SIGKILL round $k: the newest checkpoint $last does not resume: $(cat "$tmp/tk.txt")"
    grep -q "resumed from .*iteration $n," "$tmp/tk.txt" || fail "SIGKILL round $k: resumed elsewhere"
    ls "$tmp/tk/checkpoints" | grep -q '\.tmp\.' && fail "SIGKILL round $k: a killed writer's temporary file was not removed"
  fi
  rm -rf "$tmp/tk"
done

# errors
mkdir -p "$tmp/tr/checkpoints" "$tmp/shape/checkpoints"
cp "$tmp/ta/checkpoints/ckpt-00000008.h5" "$tmp/tr/checkpoints/"
truncate -s 3000 "$tmp/tr/checkpoints/ckpt-00000008.h5"
expect_error "$tmp/tr/checkpoints/ckpt-00000008.h5" "$train" --resume "$tmp/tr"
# a checkpoint whose stored config does not match its parameters (edited with h5py): the
# layout check names the first tensor that differs
cp "$tmp/ta/checkpoints/ckpt-00000008.h5" "$tmp/shape/checkpoints/"
"$py" - "$tmp/shape/checkpoints/ckpt-00000008.h5" <<'PY'
import re, sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    y = f["config"][()].decode()
    y = re.sub(r"(?m)^(policy:(?:\n .*)*?\n  width: )\d+", r"\g<1>32", y)
    y = re.sub(r"(?m)^(policy:(?:\n .*)*?\n  ffn: )\d+", r"\g<1>64", y)
    t = f["config"].dtype
    del f["config"]
    f.create_dataset("config", data=y, dtype=t)
PY
expect_error "/policy/layout: expected tensor" "$train" --resume "$tmp/shape"
# config.yaml is written atomically: a resume that cannot write it (files capped at 1 KiB,
# SIGXFSZ ignored so that write fails with EFBIG) keeps the earlier one whole, no .tmp left
cp -r "$tmp/ta" "$tmp/tf"
rc=0; (trap '' XFSZ; ulimit -f 1; exec "$train" --resume "$tmp/tf" run.dir="$tmp/tf" > /dev/null 2> "$tmp/err.txt") || rc=$?
[[ $rc -eq 1 ]] && grep -qF "$tmp/tf/config.yaml: cannot write: File too large" "$tmp/err.txt" \
  || fail "config.yaml over the file size limit: exit $rc, $(cat "$tmp/err.txt")"
cmp -s "$tmp/ta/config.yaml" "$tmp/tf/config.yaml" || fail "a failed write damaged config.yaml"
[[ -e "$tmp/tf/config.yaml.tmp" ]] && fail "a failed write left config.yaml.tmp"
printf 'ppo:\n  iterations: 3\n  epoch: 2\n' > "$tmp/bad.yaml"
expect_error "$tmp/bad.yaml:3:3: ppo.epoch: expected a known key" "$train" --config "$tmp/bad.yaml"
# the command-line convention (core/cli.h; tests/core/test_cli.c checks it in detail)
"$train" --config configs/toy.yaml --seed 9 --out "$tmp/o" --print-config > "$tmp/pc.txt"
grep -q '^seed: 9$' "$tmp/pc.txt" || fail "--seed 9 is not seed: 9"
grep -q "dir: \"$tmp/o\"" "$tmp/pc.txt" || fail "--out DIR is not run.dir"
"$train" --version | grep -q '^drrl-train [0-9.]* (git ' || fail "--version"
"$train" --config configs/toy.yaml --quiet run.dir="$tmp/q" ppo.iterations=2 > "$tmp/q.txt"
grep -q '^environment:\|^config:' "$tmp/q.txt" && fail "--quiet prints informational lines"
grep -q '^it 2/2 ' "$tmp/q.txt" || fail "--quiet drops the progress lines"
expect_error "--resume: expected once" "$train" --resume "$tmp/ta" --resume "$tmp/ta"
expect_error "ppo.epoch: expected a config key, found an unknown key; did you mean ppo.epochs?" \
  "$train" --config configs/toy.yaml ppo.epoch=3
# scripts/run.sh refuses --out DIR and --out=DIR before anything runs; it runs from a copy whose
# scripts/lib.sh only reports that it was reached (so a regression installs and builds nothing)
mkdir -p "$tmp/fake/scripts"
cp scripts/run.sh "$tmp/fake/scripts/"
printf 'echo "lib.sh reached" >&2; exit 3\n' > "$tmp/fake/scripts/lib.sh"
for out in "--out $tmp/o" "--out=$tmp/o"; do
  # shellcheck disable=SC2086  # the two words of "--out DIR" are two arguments
  expect_error "run.sh: error: --out: the pipeline evaluates into RUN_DIR/eval" "$tmp/fake/scripts/run.sh" --reps 1 $out
  [ "$(set +e; "$tmp/fake/scripts/run.sh" $out 2> /dev/null; echo $?)" = 2 ] || fail "run.sh $out: expected exit 2"
done
expect_error "lib.sh reached" "$tmp/fake/scripts/run.sh" --reps 1 --modes full
# scripts/lib.sh's policy_train on a config with run.stop_at=3 of ppo.iterations=6 stops at
# iteration 3 and finds that checkpoint as its final one (in a root whose build/cmd holds
# drrl-train); a second call reuses it
mkdir -p "$tmp/root/build/cmd"
ln -s "$train" "$tmp/root/build/cmd/drrl-train"
sed -e 's/^  iterations: 40$/  iterations: 6/' -e 's/^  stop_at: 0$/  stop_at: 3/' \
    -e "s|^  dir: \"runs/toy\"$|  dir: \"$tmp/ls\"|" -e 's/^  checkpoint_every: 10$/  checkpoint_every: 2/' \
    configs/toy.yaml > "$tmp/root/stop.yaml"
grep -q "^  stop_at: 3$" "$tmp/root/stop.yaml" && grep -q "^  dir: \"$tmp/ls\"$" "$tmp/root/stop.yaml" \
  || fail "configs/toy.yaml changed: the stop_at config was not made"
for k in 1 2; do
  (cd "$tmp/root" && source "$DRRL_SOURCE_ROOT/scripts/lib.sh" && policy_resolve stop.yaml \
    && echo "iters $iters final $final" && policy_train stop.yaml) > "$tmp/ls$k.txt" 2>&1 \
    || fail "lib.sh policy_train with run.stop_at: $(tail -3 "$tmp/ls$k.txt")"
  grep -qx "iters 3 final $tmp/ls/checkpoints/ckpt-00000003.h5" "$tmp/ls$k.txt" \
    || fail "lib.sh policy_resolve: $(head -1 "$tmp/ls$k.txt")"
done
[ "$(ls "$tmp/ls/checkpoints")" = "$(printf 'ckpt-00000002.h5\nckpt-00000003.h5')" ] \
  || fail "run.stop_at=3: checkpoints $(ls "$tmp/ls/checkpoints")"
grep -q "^reusing $tmp/ls/checkpoints/ckpt-00000003.h5" "$tmp/ls2.txt" || fail "lib.sh: the second call did not reuse"
echo "test_train: toy ok (state $sa)"

# ---- rank environment on two tiny frozen models (1 layer, d=64, 2 heads of 32) ----
"$base" --config configs/tiny.yaml run.dir="$tmp/m1" train.max_steps=30 > /dev/null
"$base" --config configs/tiny.yaml run.dir="$tmp/m2" train.max_steps=30 seed=2 > /dev/null
rk=(env.model="$tmp/m1/model.h5" "env.ranks=[2, 4, 8, 16]" env.batch=8 env.calib_rows=256
    env.train_rows=512 "latency.buckets=[8, 16, 32, 40]" latency.reps=3 latency.warmup=1
    ppo.iterations=6 ppo.episodes=2 ppo.minibatch=32 run.checkpoint_every=1 run.rollouts_every=3)
"$train" "${rk[@]}" run.dir="$tmp/ra" > "$tmp/ra.txt"
grep -q "measuring the kernel variants and the latency table (.*measured anew on every run" \
  "$tmp/ra.txt" || fail "rank: the first run did not say it measures the latency table"
# the same latency table for both runs (measured by the first, reused through latency.file)
"$train" "${rk[@]}" run.dir="$tmp/rb" run.stop_at=3 latency.file="$tmp/ra/latency.h5" > "$tmp/rb1.txt"
"$train" --resume "$tmp/rb" run.stop_at=0 > "$tmp/rb2.txt"
grep -q "resumed from .*iteration 3," "$tmp/rb2.txt" || fail "rank: resume did not start at iteration 3"
grep -q "measuring the kernel variants and the latency table" "$tmp/rb2.txt" && fail "rank: the resumed run re-measured the latency table"
sa=$(state "$tmp/ra.txt"); sb=$(state "$tmp/rb2.txt")
[[ -n "$sa" && "$sa" == "$sb" ]] || fail "rank: resumed state $sb differs from straight $sa"
diff <(rows "$tmp/ra/metrics.csv") <(rows "$tmp/rb/metrics.csv") > /dev/null \
  || fail "rank: metrics differ between the straight and the resumed run"
# every reward term is reported, the violations count is 0, the rollout holds every field
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
         { if ($c["bound_violations"] != 0) exit 1; if ($c["fidelity_mean"] <= 0.5) exit 1 }' \
  "$tmp/ra/metrics.csv" || fail "rank: violations or fidelity out of range in metrics.csv"
/usr/bin/python3 - "$tmp/ra/rollouts/iter-00000006.h5" <<'PY' || fail "rank: rollout file"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
assert f.attrs["format"].decode() if isinstance(f.attrs["format"], bytes) else f.attrs["format"] == "drrl-rollout"
S, E = int(f.attrs["n_steps"]), int(f.attrs["n_envs"])
assert (S, E) == (2, 8), (S, E)  # 2 episodes of the 1-layer model, batch 8
for k in ["obs", "tok_mask", "act_mask", "action", "logp", "value", "reward", "done", "info", "adv", "ret"]:
    assert f[k].shape[:2] == (S, E), (k, f[k].shape)
    assert f[k].compression == "gzip" or f[k].size < 4096, k
names = f["info_names"][()].decode().split()
info = f["info"][()]
# the reward is the sum of its four weighted terms (float32 sums, in this order)
terms = sum(info[:, :, names.index(t)].astype(np.float32) for t in ["r_fid", "r_lat", "r_bound", "r_kl"])
assert np.allclose(terms, f["reward"][()], rtol=0, atol=1e-6), "reward != sum of terms"
L = int(info[:, :, names.index("layer")].max()) + 1
done = f["done"][()]
assert all((done[t] == ((t + 1) % L == 0)).all() for t in range(S)), "done flags"
assert np.allclose(f["ret"][()], f["adv"][()] + f["value"][()], atol=1e-5)
PY
expect_error "env.model: expected the checkpoint's value \"$tmp/m1/model.h5\", found \"$tmp/m2/model.h5\" (command line 'env.model=$tmp/m2/model.h5'): on resume only these keys may change: ppo.iterations," \
  "$train" --resume "$tmp/ra" env.model="$tmp/m2/model.h5"
# the same path holding another model: the frozen model's hash is compared
cp "$tmp/m1/model.h5" "$tmp/m1.keep"; cp "$tmp/m2/model.h5" "$tmp/m1/model.h5"
expect_error "model_sha256: expected" "$train" --resume "$tmp/ra"
cp "$tmp/m1.keep" "$tmp/m1/model.h5"
expect_error "env.model: $tmp/none.h5" "$train" "${rk[@]}" env.model="$tmp/none.h5" run.dir="$tmp/rd"
expect_error "env.min_tokens: expected a length some training rows of " "$train" "${rk[@]}" \
  env.min_tokens=100000 run.dir="$tmp/rd"
grep -qF "data/sst2/train.tsv" "$tmp/err.txt" && grep -qF "found 100000: the filter leaves no row" \
  "$tmp/err.txt" || fail "env.min_tokens's message names no file: $(cat "$tmp/err.txt")"
[[ -e "$tmp/rd" ]] && fail "a failed run wrote $tmp/rd"
expect_error "env.ranks[3]: expected a rank below the head size 32" "$train" "${rk[@]}" \
  "env.ranks=[2, 4, 8, 32]" run.dir="$tmp/rd"
echo "test_train: rank ok (state $sa)"
