#!/usr/bin/env bash
# run.sh: the README's main command, the whole pipeline on the quick default
# (configs/quickstart.yaml):
#   1. install what is missing and build;
#   2. train the frozen SST-2 model (configs/sst2-base.yaml) unless runs/sst2-base/model.h5 exists;
#   3. train the PPO rank policy with configs/quickstart.yaml into its run.dir (runs/quickstart),
#      reusing its checkpoints: a checkpoint of the final iteration skips training, an older one
#      resumes it;
#   4. evaluate every default attention mode with drrl-eval (RUN_DIR/eval: eval.csv, eval.json,
#      policy_ranks.tsv) and print the table;
#   5. draw the pictures (scripts/plot_eval.py) into RUN_DIR/pics and print their paths.
# Extra arguments go to drrl-eval (e.g. `--reps 1`, `--modes full,static:8,policy`; not --out).
set -euo pipefail
cd "$(dirname "$0")/.."
for a in "$@"; do
  if [[ $a == --out ]]; then
    echo "run.sh: error: --out: the pipeline evaluates into RUN_DIR/eval (run drrl-eval itself for another place)" >&2
    exit 2
  fi
done
config=configs/quickstart.yaml
base=runs/sst2-base/model.h5

t_start=$SECONDS
step() {
  local s=$((SECONDS - t_start))
  printf '\n===== [%d:%02d] %s\n' $((s / 60)) $((s % 60)) "$*"
}

step "1/5 install missing packages and build"
scripts/install-deps.sh
scripts/build.sh build > /dev/null

step "2/5 frozen model ($base)"
if [[ -f "$base" ]]; then
  echo "reusing $base (delete it to train again)"
else
  build/cmd/drrl-base --config configs/sst2-base.yaml
fi

# run.dir and ppo.iterations as drrl-train resolves them from the config
resolved=$(build/cmd/drrl-train --config "$config" --print-config)
key() { # key SECTION NAME: the value of SECTION.NAME in $resolved, quotes removed
  awk -v sec="$1" -v name="$2" '
    /^[^ #]/ { cur = $1; sub(/:$/, "", cur) }
    cur == sec && $1 == name ":" { v = $2; gsub(/"/, "", v); print v; exit }' <<< "$resolved"
}
run_dir=$(key run dir)
iters=$(key ppo iterations)
final=$(printf '%s/checkpoints/ckpt-%08d.h5' "$run_dir" "$iters")

step "3/5 policy ($config: $iters iterations, $run_dir)"
# a run directory trained with another config is not reused: both configs are resolved by the
# current drrl-train (keys added since the run was trained take their defaults in both)
if [[ -f "$run_dir/config.yaml" ]] &&
   ! diff -q <(build/cmd/drrl-train --config "$run_dir/config.yaml" --print-config 2>&1 | grep -v '^ *#') \
             <(grep -v '^ *#' <<< "$resolved") > /dev/null; then
  echo "run.sh: error: $run_dir was trained with another config than $config; see" >&2
  echo "  diff <(build/cmd/drrl-train --config $config --print-config) $run_dir/config.yaml" >&2
  echo "  and move or delete $run_dir to train it again" >&2
  exit 1
fi
if [[ -f "$final" ]]; then
  echo "reusing $final (delete $run_dir to train again)"
elif compgen -G "$run_dir/checkpoints/ckpt-*.h5" > /dev/null; then
  echo "resuming from the newest checkpoint in $run_dir/checkpoints"
  build/cmd/drrl-train --resume "$run_dir"
else
  build/cmd/drrl-train --config "$config"
fi
[[ -f "$final" ]] || { echo "run.sh: error: $final missing after training" >&2; exit 1; }

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
