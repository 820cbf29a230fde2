#!/usr/bin/env bash
# fuzz.sh: the libFuzzer targets of tests/fuzz/ (one per reader of untrusted input; each
# file's opening comment says what it fuzzes and how), built with clang, ASan and UBSan in
# build-fuzz/ (clang and libclang-rt-14-dev installed when missing).
#   scripts/fuzz.sh replay                   every target runs every file of its seed corpus
#                                            tests/fuzz/corpus/TARGET/ once (-runs=0); exits
#                                            non-zero on any crash, leak or UB (CI)
#   scripts/fuzz.sh run SECONDS [TARGET...]  each target (default: all) fuzzes for SECONDS,
#                                            one after the other; new inputs go to a scratch
#                                            corpus $DRRL_FUZZ_DIR/TARGET (default
#                                            /tmp/drrl-fuzz-corpus), crashes to
#                                            $DRRL_FUZZ_DIR/TARGET-crash-*; prints per target
#                                            the executions, exec/s, coverage (cov, ft) and
#                                            crashes. DRRL_FUZZ_MERGE=1 merges the new inputs
#                                            into tests/fuzz/corpus/TARGET/ afterwards.
# Targets: fuzz_config fuzz_tsv fuzz_imdb fuzz_wordpiece fuzz_bert fuzz_base_ckpt
# fuzz_train_ckpt fuzz_factors fuzz_latency fuzz_json fuzz_safetensors. Extra libFuzzer
# flags: DRRL_FUZZ_FLAGS.
set -euo pipefail
cd "$(dirname "$0")/.."
all=(fuzz_config fuzz_tsv fuzz_imdb fuzz_wordpiece fuzz_bert fuzz_base_ckpt fuzz_train_ckpt
     fuzz_factors fuzz_latency fuzz_json fuzz_safetensors)
mode=${1:-}
[[ $mode == replay || $mode == run ]] || { sed -n '2,19p' "$0" >&2; exit 2; }

scripts/install-deps.sh --fuzz
# OpenMP off: clang's libomp and OpenBLAS's libgomp would both be loaded
if [[ ! -f build-fuzz/build.ninja ]]; then
  CC=clang scripts/build.sh build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
    -Db_lundef=false -Dbuildtype=debugoptimized -Dopenmp=disabled > /dev/null
fi
targets=("${all[@]}")
if [[ $mode == run ]]; then
  secs=${2:?usage: scripts/fuzz.sh run SECONDS [TARGET...]}
  (($# > 2)) && targets=("${@:3}")
fi
ninja -C build-fuzz "${targets[@]/#/tests/fuzz/}" > /dev/null

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 DRRL_KERNEL_CACHE=off

if [[ $mode == replay ]]; then
  fail=0
  for t in "${all[@]}"; do
    if out=$(build-fuzz/tests/fuzz/$t -runs=0 tests/fuzz/corpus/$t 2>&1); then
      echo "fuzz.sh: $t: $(grep -c . <(ls tests/fuzz/corpus/$t)) inputs replayed, $(grep -o 'cov: [0-9]*' <<< "$out" | tail -1)"
    else
      echo "$out" | tail -40
      echo "fuzz.sh: $t: FAILED" >&2
      fail=1
    fi
  done
  exit $fail
fi

work=${DRRL_FUZZ_DIR:-/tmp/drrl-fuzz-corpus}
printf '%-16s %10s %8s %6s %7s %7s\n' target execs exec/s cov ft crashes
for t in "${targets[@]}"; do
  mkdir -p "$work/$t"
  log=$work/$t.log
  touch "$work/.start-$t"
  t0=$SECONDS
  # HDF5 itself allocates (and touches) 4 GiB reading a small string attribute of some edited
  # files (HDF5 1.10.8, in H5T__conv_vlen; h5py does the same): not ours to fuzz, so the HDF5
  # targets run with room for it (docs/results.md, "Fuzzing (issue 16)")
  limits=
  case $t in fuzz_config|fuzz_tsv|fuzz_imdb|fuzz_wordpiece|fuzz_json) ;;
    *) limits="-rss_limit_mb=6144 -malloc_limit_mb=6144" ;; esac
  # one process; the scratch corpus first (new inputs land there), the seeds second
  build-fuzz/tests/fuzz/$t -max_total_time="$secs" -print_final_stats=1 -timeout=30 $limits \
    -artifact_prefix="$work/$t-" ${DRRL_FUZZ_FLAGS:-} "$work/$t" tests/fuzz/corpus/$t \
    > "$log" 2>&1 || true
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' <<< "$last" | grep -o '[0-9]*' || echo -)
  ft=$(grep -o 'ft: [0-9]*' <<< "$last" | grep -o '[0-9]*' || echo -)
  crashes=$(find "$work" -maxdepth 1 -name "$t-*" -newer "$work/.start-$t" -type f | wc -l)
  rate=$((${execs:-0} / (SECONDS - t0 > 0 ? SECONDS - t0 : 1)))
  printf '%-16s %10s %8s %6s %7s %7s\n' "$t" "${execs:-0}" "$rate" "$cov" "$ft" "$crashes"
  if [[ ${DRRL_FUZZ_MERGE:-0} == 1 ]]; then
    build-fuzz/tests/fuzz/$t -merge=1 tests/fuzz/corpus/$t "$work/$t" > "$work/$t.merge.log" 2>&1
  fi
done
