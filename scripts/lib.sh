# lib.sh: the steps scripts/run.sh and scripts/run_imdb.sh share, sourced from the repository
# root after `set -euo pipefail`. Every step reuses what an earlier run left:
#   step TEXT                 a header "===== [m:ss] TEXT" (time since the script started)
#   install_and_build         missing Debian packages, then the release build in build/
#   imdb_link                 data/imdb -> the team's copy when data/imdb is missing (below)
#   resolved PROGRAM CONFIG   the config as PROGRAM resolves it (--print-config); key SECTION
#                             NAME then reads one value of the last one resolved
#   frozen_model CONFIG       drrl-base into its run.dir: reused when RUN_DIR/done is there (or
#                             a model.h5 without a checkpoint), resumed from checkpoint.h5,
#                             else trained; RUN_DIR/done marks a finished run
#   policy_resolve CONFIG     sets run_dir, iters (ppo.iterations, or run.stop_at when below)
#                             and final (the last checkpoint's path) of the drrl-train config
#   policy_train CONFIG       after policy_resolve: refuses a run_dir trained with another
#                             config (config_guard), then reuses final, resumes from the
#                             newest checkpoint, or trains
# Programs are build/cmd/*; messages go to stderr and errors exit 1.

lib_start=$SECONDS

step() {
  local s=$((SECONDS - lib_start))
  printf '\n===== [%d:%02d] %s\n' $((s / 60)) $((s % 60)) "$*"
}

die() { echo "$(basename "$0"): error: $*" >&2; exit 1; }

install_and_build() {
  scripts/install-deps.sh
  scripts/build.sh build > /dev/null
}

# imdb_link: the IMDB configs read data/imdb/{train,test}.tsv.gz. When data/imdb is missing
# and a local copy exists (DRRL_IMDB_DIR, else the team's ../shared/data/imdb next to the
# repository), data/imdb becomes a link to it; otherwise nothing happens (returns 1), and
# scripts/fetch_imdb.sh can fill data/imdb where there is internet.
imdb_link() {
  [[ -e data/imdb || -L data/imdb ]] && return 0
  local src=${DRRL_IMDB_DIR:-../shared/data/imdb}
  if [[ ! -f $src/train.tsv.gz ]]; then
    [[ -n ${DRRL_IMDB_DIR:-} ]] && echo "note: DRRL_IMDB_DIR=$src holds no train.tsv.gz" >&2
    return 1
  fi
  ln -s "$(cd "$src" && pwd)" data/imdb
  echo "linked data/imdb -> $(readlink data/imdb)"
}

resolved() { # resolved PROGRAM CONFIG
  lib_resolved=$(build/cmd/"$1" --config "$2" --print-config)
}

key() { # key SECTION NAME: SECTION.NAME in the last resolved config, quotes removed
  awk -v sec="$1" -v name="$2" '
    /^[^ #]/ { cur = $1; sub(/:$/, "", cur) }
    cur == sec && $1 == name ":" { v = $2; gsub(/"/, "", v); print v; exit }' <<< "$lib_resolved"
}

frozen_model() { # frozen_model CONFIG
  resolved drrl-base "$1"
  local dir
  dir=$(key run dir)
  if [[ -f $dir/done || (-f $dir/model.h5 && ! -f $dir/checkpoint.h5) ]]; then
    echo "reusing $dir/model.h5 (delete $dir to train it again)"
    return 0
  fi
  if [[ -f $dir/checkpoint.h5 ]]; then
    echo "resuming from $dir/checkpoint.h5"
    build/cmd/drrl-base --resume "$dir/checkpoint.h5"
  else # nothing resumable there: files of a run that died before its first checkpoint are moved aside
    build/cmd/drrl-base --config "$1" --force
  fi
  touch "$dir/done"
}

# policy_resolve CONFIG: sets run_dir, iters (the iterations the config runs to: run.stop_at
# when it is set and below ppo.iterations, else ppo.iterations, as pipeline/train_run.c
# stops) and final (the checkpoint written at iteration iters)
policy_resolve() {
  resolved drrl-train "$1"
  run_dir=$(key run dir)
  iters=$(key ppo iterations)
  local stop_at
  stop_at=$(key run stop_at)
  if (( ${stop_at:-0} > 0 && stop_at < iters )); then iters=$stop_at; fi
  final=$(printf '%s/checkpoints/ckpt-%08d.h5' "$run_dir" "$iters")
}

# config_guard CONFIG RUN_DIR: a run directory trained with another config is not reused:
# both configs are resolved by the current drrl-train (keys added since the run was trained
# take their defaults in both), comments aside
config_guard() {
  [[ -f $2/config.yaml ]] || return 0
  if ! diff -q <(build/cmd/drrl-train --config "$2/config.yaml" --print-config 2>&1 | grep -v '^ *#') \
               <(build/cmd/drrl-train --config "$1" --print-config | grep -v '^ *#') > /dev/null; then
    echo "$(basename "$0"): error: $2 was trained with another config than $1; see" >&2
    echo "  diff <(build/cmd/drrl-train --config $1 --print-config) $2/config.yaml" >&2
    echo "  and move or delete $2 to train it again" >&2
    exit 1
  fi
}

policy_train() { # policy_train CONFIG, after policy_resolve CONFIG
  config_guard "$1" "$run_dir"
  if [[ -f $final ]]; then
    echo "reusing $final (delete $run_dir to train again)"
  elif compgen -G "$run_dir/checkpoints/ckpt-*.h5" > /dev/null; then
    echo "resuming from the newest checkpoint in $run_dir/checkpoints"
    build/cmd/drrl-train --resume "$run_dir"
  else # nothing resumable there: files of a run that died before its first checkpoint are moved aside
    build/cmd/drrl-train --config "$1" --force
  fi
  [[ -f $final ]] || die "$final missing after training"
}
