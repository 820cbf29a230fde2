#!/usr/bin/env bash
# run.sh: the README's main command, the whole pipeline on the quick default
# (configs/quickstart.yaml):
#   1. install what is missing and build;
#   2. train the frozen SST-2 model (configs/sst2-base.yaml into runs/sst2-base) unless a
#      finished run is there (an interrupted one is resumed);
#   3. train the PPO rank policy with configs/quickstart.yaml into its run.dir (runs/quickstart),
#      reusing its checkpoints: a checkpoint of the final iteration skips training, an older one
#      resumes it; a run.dir trained with another config is refused;
#   4. evaluate every default attention mode with drrl-eval (RUN_DIR/eval: eval.csv, eval.json,
#      policy_ranks.tsv) and print the table;
#   5. draw the pictures (scripts/plot_eval.py) into RUN_DIR/pics and print their paths.
# Extra arguments go to drrl-eval (e.g. `--reps 1`, `--modes full,static:8,policy`; not --out
# DIR nor --out=DIR: an error before anything runs).
set -euo pipefail
cd "$(dirname "$0")/.."
for a in "$@"; do
  if [[ $a == --out || $a == --out=* ]]; then
    echo "run.sh: error: --out: the pipeline evaluates into RUN_DIR/eval (run drrl-eval itself for another place)" >&2
    exit 2
  fi
done
config=configs/quickstart.yaml
source scripts/lib.sh

step "1/5 install missing packages and build"
install_and_build
imdb_link || true   # not needed here; ready for scripts/run_imdb.sh

step "2/5 frozen model (configs/sst2-base.yaml)"
frozen_model configs/sst2-base.yaml

# run.dir and ppo.iterations as drrl-train resolves them from the config
policy_resolve "$config"
step "3/5 policy ($config: $iters iterations, $run_dir)"
policy_train "$config"

step "4/5 evaluation (drrl-eval, $run_dir/eval)"
build/cmd/drrl-eval --checkpoint "$final" --out "$run_dir/eval" "$@"

step "5/5 pictures ($run_dir/pics)"
plots=$(/usr/bin/python3 scripts/plot_eval.py "$run_dir/eval" --metrics "$run_dir/metrics.csv" \
  --out "$run_dir/pics")
grep -v '\.png$' <<< "$plots" || true

step "done"
echo "table: above, and in $run_dir/eval/eval.csv and $run_dir/eval/eval.json"
echo "pictures:"
grep '\.png$' <<< "$plots" | sed 's/^/  /'
