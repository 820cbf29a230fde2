#!/usr/bin/env bash
# run_imdb.sh: the long-input pipeline of issue 7 on byte-level IMDB, every step reusing what
# an earlier run left (delete a step's output to redo it):
#   1. install what is missing and build; data/imdb linked to the team's copy
#      (../shared/data/imdb, or DRRL_IMDB_DIR) when it is missing (scripts/lib.sh imdb_link);
#   2. the frozen model (configs/imdb-base.yaml -> runs/imdb-base/model.h5): trained if
#      missing, resumed from runs/imdb-base/checkpoint.h5 if an interrupted run left one
#      (about 52 minutes on an idle 2-core machine);
#   3. its test accuracy at 1024, 2048 and 4096 bytes (drrl-base --eval; about 6, 10 and 14
#      minutes) -> runs/imdb-base/test-L.txt;
#   4. the policy (configs/imdb-drrl.yaml -> runs/imdb-drrl; reused, resumed or trained; a run
#      directory trained with another config is refused);
#   5. drrl-eval at 4096 bytes, one timed round: on the 631 test reviews of at least 4096
#      bytes (full, static ranks of the grid, random, Nystrom and Performer at 32 and 128
#      landmarks / features, the policy) -> runs/imdb-drrl/eval-4096-long, and on the whole
#      test split (full and the policy: 25,000 reviews, 5.5x the attention work of the long
#      subset per mode) -> runs/imdb-drrl/eval-4096;
#   5b. on the first 128 of those reviews, every per-layer static allocation of the grid
#      (static:a/b) and the policy, then scripts/oracle.py: the static frontier and what a
#      per-input choice among them could reach (runs/imdb-drrl/eval-4096-layers);
#   6. drrl-sweep of the policy's model at 1024 .. 16384 bytes (4 joined inputs per length,
#      3 reps) -> runs/imdb-drrl/sweep.csv, and its pictures -> runs/imdb-drrl/pics.
# The whole pipeline takes several hours on 2 cores (drrl-eval and drrl-sweep run the
# policy's env.threads, 1 thread, so steps 5 and 6 can share the machine); each step prints
# its own progress.
set -euo pipefail
cd "$(dirname "$0")/.."
base_dir=runs/imdb-base
model=$base_dir/model.h5
config=configs/imdb-drrl.yaml
source scripts/lib.sh

step "1/6 install missing packages and build"
install_and_build
imdb_link || [[ -f data/imdb/train.tsv.gz ]] ||
  die "data/imdb: no IMDB files; run scripts/fetch_imdb.sh (needs internet), or link a local" \
      "copy: ln -s /path/to/imdb data/imdb (or set DRRL_IMDB_DIR=/path/to/imdb)"

step "2/6 frozen model ($model)"
frozen_model configs/imdb-base.yaml

step "3/6 test accuracy at 1024, 2048, 4096 bytes"
for L in 1024 2048 4096; do
  out=$base_dir/test-$L.txt
  if [[ -s $out ]]; then echo "reusing $out"; else
    build/cmd/drrl-base --eval "$model" --split test data.max_len=$L > "$out.tmp"
    mv "$out.tmp" "$out"
  fi
  grep -i "accuracy" "$out" | tail -1
done

policy_resolve "$config"
step "4/6 policy ($config: $iters iterations, $run_dir)"
policy_train "$config"

step "5/6 drrl-eval at 4096 bytes (test reviews of >= 4096 bytes; the whole test split)"
if [[ -s $run_dir/eval-4096-long/eval_test.csv ]]; then echo "reusing $run_dir/eval-4096-long"; else
  build/cmd/drrl-eval --checkpoint "$final" --split test data.max_len=4096 --min-bytes 4096 \
    --reps 1 --modes "full,static:4,static:8,static:16,static:32,random,nystrom:32,nystrom:128,\
performer:32,performer:128,policy" --out "$run_dir/eval-4096-long"
fi
if [[ -s $run_dir/eval-4096/eval_test.csv ]]; then echo "reusing $run_dir/eval-4096"; else
  build/cmd/drrl-eval --checkpoint "$final" --split test data.max_len=4096 --reps 1 \
    --modes full,policy --out "$run_dir/eval-4096"
fi

step "5b/6 per-layer static ranks and the per-input oracle (first 128 reviews of >= 4096 bytes)"
if [[ -s $run_dir/eval-4096-layers/eval_test.csv ]]; then echo "reusing $run_dir/eval-4096-layers"; else
  modes=full
  for a in 4 8 16 32; do for b in 4 8 16 32; do
    if [[ $a == "$b" ]]; then modes+=",static:$a"; else modes+=",static:$a/$b"; fi
  done; done
  build/cmd/drrl-eval --checkpoint "$final" --split test data.max_len=4096 --min-bytes 4096 \
    --rows 128 --reps 1 --modes "$modes,policy" --out "$run_dir/eval-4096-layers"
fi
/usr/bin/python3 scripts/oracle.py "$run_dir/eval-4096-layers"

step "6/6 sweep against length ($run_dir/sweep.csv, $run_dir/pics)"
if [[ -s $run_dir/sweep.csv ]]; then echo "reusing $run_dir/sweep.csv"; else
  build/cmd/drrl-sweep --checkpoint "$final" --lengths 1024,2048,4096,8192,16384 --rows 4 \
    --reps 3 --modes "full,static:4,static:8,static:16,static:32,nystrom:32,nystrom:128,\
performer:32,performer:128,policy" --out "$run_dir"
fi
/usr/bin/python3 scripts/plot_sweep.py "$run_dir/sweep.csv" --out "$run_dir/pics"

step "done"
