#!/usr/bin/env bash
# test_bench.sh (fast suite): the command line of drrl-bench and drrl-bench-linear on tiny
# layers: --version, --help, a repeated flag, a removed flag (--csv) and conflicting flags
# are errors in the common format (exit 2); --out DIR writes DIR/bench.csv with one row per
# (length, configuration); --quiet keeps progress lines and the summary only; the same --seed
# gives the same fidelity and bound columns and another seed different ones; --calibrate
# writes the latency table with the kernel variants it chose and adds them to the kernel cache
# (DRRL_KERNEL_CACHE); the efficiency columns are the matmul rate over the sgemm rate and the
# FMA peak measured in the same run (recomputed here); --kernel NAME runs that variant (its
# name in every attention row, fidelity equal to the default's within float rounding); a
# failing --out run keeps an earlier bench.csv and leaves no .tmp.
set -euo pipefail
bench=$(realpath "$1")
linear=$(realpath "$2")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tiny=(--n 32,64 --d 32 --heads 4 --ranks 2,4 --landmarks 8 --features 8 --reps 1)

for prog in "$bench" "$linear"; do
  name=$(basename "$prog")
  "$prog" --version > "$tmp/v.txt"
  grep -qE "^$name [0-9]+\.[0-9]+\.[0-9]+ \(git [0-9a-z-]+\)$" "$tmp/v.txt" || fail "$name --version: $(cat "$tmp/v.txt")"
  grep -q "^BLAS: .*threads$" "$tmp/v.txt" || fail "$name --version has no BLAS line"
  "$prog" --help > "$tmp/h.txt"
  grep -q "^usage: $name" "$tmp/h.txt" && grep -q -- "--seed N" "$tmp/h.txt" \
    || fail "$name --help: $(head -3 "$tmp/h.txt")"
  expect_error "$name: error: --seed: expected once, found it again ('2' after '1')" \
    "$prog" --seed 1 --seed=2
done
grep -q -- "--out DIR .*DIR/bench.csv" <("$bench" --help) || fail "drrl-bench --help lacks --out DIR"

expect_error "drrl-bench: error: --reps: expected once, found it again ('2' after '1')" \
  "$bench" --reps 1 --reps 2
[ "$(set +e; "$bench" --reps 1 --reps 2 2> /dev/null; echo $?)" = 2 ] || fail "a usage error must exit 2"
expect_error "drrl-bench: error: --csv: expected a flag of drrl-bench, found an unknown flag" \
  "$bench" --csv x.csv
expect_error "drrl-bench: error: --ranks: expected distinct values, found 4 twice" \
  "$bench" --ranks 4,4
expect_error "drrl-bench: error: --heads: expected a divisor of --d 32, found 5" \
  "$bench" --d 32 --heads 5
expect_error "drrl-bench: error: --out: expected no --out with --calibrate" \
  "$bench" --calibrate "$tmp/l.h5" --out "$tmp/o"
expect_error "drrl-bench: error: --peak: expected a flag of drrl-bench, found an unknown flag" \
  "$bench" --peak 233
expect_error "drrl-bench: error: --kernel: expected auto, default, list or a variant name" \
  "$bench" --kernel flash:64x100
expect_error "drrl-bench: error: --kernel: expected no --kernel with --calibrate" \
  "$bench" --calibrate "$tmp/l.h5" --kernel default
expect_error "drrl-bench-linear: error: --reps: expected an integer in [1, 1000000], found '0'" \
  "$linear" --reps=0

# --out DIR (created) gets bench.csv: a header and 2 lengths x 9 configurations
"$bench" "${tiny[@]}" --out "$tmp/o/deep" --seed 3 > "$tmp/b1.txt"
[ -f "$tmp/o/deep/bench.csv" ] || fail "--out did not write DIR/bench.csv"
[ "$(wc -l < "$tmp/o/deep/bench.csv")" = 19 ] || fail "bench.csv: expected 19 lines, found $(wc -l < "$tmp/o/deep/bench.csv")"
head -1 "$tmp/o/deep/bench.csv" | grep -q "^kernel,n,rank,latency_ms," || fail "bench.csv header"
grep -q "^drrl-bench: 18 rows (2 lengths) in .* s; wrote $tmp/o/deep/bench.csv$" "$tmp/b1.txt" \
  || fail "summary: $(tail -1 "$tmp/b1.txt")"
grep -q "^whitened  *64 *4 " "$tmp/b1.txt" || fail "the table was not printed"
grep -q "configurations  18/18 (100%) .*ETA" "$tmp/b1.txt" || fail "no progress line"

# the measured references: in the header, and every row's sgemm_eff and fma_eff are its
# mm_gflops over them
grep -qE "^measured in this run: sgemm [0-9.]+ GFLOP/s \(n=2048\), fp32 FMA peak [0-9.]+ GFLOP/s" \
  "$tmp/b1.txt" || fail "no measured peaks in the header"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
  { m = $c["mm_gflops"]; s = $c["sgemm_gflops"]; f = $c["fma_gflops"];
    if (!(s > 0 && f > 0)) { print "row " NR ": peaks " s ", " f; bad = 1 }
    if ((m / s - $c["sgemm_eff"])^2 > 1e-6 || (m / f - $c["fma_eff"])^2 > 1e-6) {
      print "row " NR ": efficiency " $c["sgemm_eff"] ", " $c["fma_eff"] " vs " m / s ", " m / f; bad = 1 }
    v = $c["variant"]; k = $1
    if ((k == "nystrom" || k == "performer") != (v == "-")) { print "row " NR ": variant " v; bad = 1 } }
  END { exit bad }' "$tmp/o/deep/bench.csv" || fail "efficiency or variant columns"

# --kernel NAME: that variant in every attention row, the same fidelity within rounding
"$bench" "${tiny[@]}" --out "$tmp/o4" --seed 3 --kernel flash:8x32 --quiet > /dev/null
awk -F, 'NR > 1 && $1 != "nystrom" && $1 != "performer" && $NF != "flash:8x32" { exit 1 }' \
  "$tmp/o4/bench.csv" || fail "--kernel flash:8x32 did not run everywhere"
paste -d, <(cut -d, -f1-3,8 "$tmp/o/deep/bench.csv") <(cut -d, -f8 "$tmp/o4/bench.csv") |
  awk -F, 'NR > 1 && ($4 - $5)^2 > 1e-10 { print; exit 1 }' || fail "flash changed the fidelity"

# a failing run (its --torch CSV is missing) keeps the earlier bench.csv byte for byte, leaves
# no .tmp behind, and creates no --out folder that did not exist
cp "$tmp/o/deep/bench.csv" "$tmp/good.csv"
expect_error "drrl-bench: error: $tmp/none.csv: cannot open the PyTorch CSV" \
  "$bench" "${tiny[@]}" --out "$tmp/o/deep" --torch "$tmp/none.csv"
cmp -s "$tmp/good.csv" "$tmp/o/deep/bench.csv" || fail "a failing run changed DIR/bench.csv"
[ -z "$(ls "$tmp/o/deep" | grep -v '^bench\.csv$')" ] || fail "a failing run left: $(ls "$tmp/o/deep")"
expect_error "cannot open the PyTorch CSV" "$bench" "${tiny[@]}" --out "$tmp/o/new" --torch "$tmp/none.csv"
[ ! -e "$tmp/o/new" ] || fail "a failing run created its --out folder"

# --quiet: progress lines and the summary only; the same seed, the same numbers
"$bench" "${tiny[@]}" --out="$tmp/o2" --seed=3 --quiet > "$tmp/b2.txt"
grep -vq "ETA\|^drrl-bench: 18 rows" "$tmp/b2.txt" && fail "--quiet printed more: $(cat "$tmp/b2.txt")"
[ "$(grep -c ETA "$tmp/b2.txt")" = 2 ] || fail "--quiet: expected 2 progress lines"
cut -d, -f1-3,8-10 "$tmp/o/deep/bench.csv" > "$tmp/f1.csv"
cut -d, -f1-3,8-10 "$tmp/o2/bench.csv" > "$tmp/f2.csv"
cmp -s "$tmp/f1.csv" "$tmp/f2.csv" || fail "the same --seed gave different fidelity or bounds"
"$bench" "${tiny[@]}" --out "$tmp/o3" --quiet > /dev/null
cut -d, -f1-3,8-10 "$tmp/o3/bench.csv" > "$tmp/f3.csv"
cmp -s "$tmp/f1.csv" "$tmp/f3.csv" && fail "--seed 3 and the default seed gave the same numbers"

DRRL_KERNEL_CACHE="$tmp/cache" "$bench" --calibrate "$tmp/lat.h5" --n 32,64 --d 32 --heads 4 \
  --ranks 2,4 --reps 1 > "$tmp/c.txt"
grep -q "^drrl-bench: wrote $tmp/lat.h5 (format drrl-latency, version 1, group /latency): 2 lengths x 2 ranks" \
  "$tmp/c.txt" || fail "calibrate summary: $(tail -1 "$tmp/c.txt")"
[ -s "$tmp/lat.h5" ] || fail "no latency table written"
# 2 lengths x 3 widths (ranks 2, 4 and the head size 8) chosen, and cached for this machine
[ "$(grep -cE "^  N=(32|64) +k=(2|4|8) +(tiled|sgemm|flash):" "$tmp/c.txt")" = 6 ] \
  || fail "calibrate: expected 6 kernel choices: $(cat "$tmp/c.txt")"
grep -q "^kernel variants added to this machine's cache $tmp/cache/kernels-[0-9a-f]*.h5" "$tmp/c.txt" \
  || fail "calibrate: no cache line"
# --causal: the table of a causal decoder (attribute causal = 1); without --calibrate refused
DRRL_KERNEL_CACHE="$tmp/cache" "$bench" --calibrate "$tmp/latc.h5" --causal --n 32,64 --d 32 \
  --heads 4 --ranks 2,4 --reps 1 > "$tmp/cc.txt"
$py - "$tmp/lat.h5" "$tmp/latc.h5" <<'PY' || fail "--causal: the causal attribute"
import sys, h5py
plain, causal = (h5py.File(p, "r")["latency"].attrs.get("causal", 0) for p in sys.argv[1:])
assert plain == 0 and causal == 1, (plain, causal)
PY
expect_error "drrl-bench: error: --causal: expected --calibrate FILE.h5 with it" "$bench" --causal
DRRL_KERNEL_CACHE="$tmp/cache" "$bench" --kernel list > "$tmp/list.txt"
[ "$(grep -cE "^  N=(32|64) +k=(2|4|8) " "$tmp/list.txt")" = 6 ] || fail "--kernel list: $(cat "$tmp/list.txt")"

# drrl-bench-linear's header carries the BLAS line of --version word for word
"$linear" --version | grep "^BLAS: " > "$tmp/blas.txt"
"$linear" --reps 1 > "$tmp/l.txt"
sed -n 2p "$tmp/l.txt" | sed -E 's/; OpenMP max threads [0-9]+$//' | cmp -s - "$tmp/blas.txt" \
  || fail "drrl-bench-linear header: '$(sed -n 2p "$tmp/l.txt")', --version: '$(cat "$tmp/blas.txt")'"
"$linear" --reps 1 --quiet > "$tmp/l.txt"
[ "$(wc -l < "$tmp/l.txt")" = 1 ] && grep -q "^drrl-bench-linear: 4 shapes in .*; no file written$" \
  "$tmp/l.txt" || fail "drrl-bench-linear --quiet: $(cat "$tmp/l.txt")"
echo "test_bench: ok"
