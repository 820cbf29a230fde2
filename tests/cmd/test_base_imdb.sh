#!/usr/bin/env bash
# test_base_imdb.sh: drrl-base on byte-level IMDB (data.format: imdb) with the convolutional
# position encoding, end to end on configs/imdb-tiny.yaml (the 200-review sample in
# data/imdb-sample; run from the source root). The sample is too small to learn the task, so
# accuracies are not judged; what is checked:
#   1. train: exit 0, files written, the dev set is 40 distinct rows held out of the train file;
#   2. reload: `--eval model.h5` gives exactly the predictions the in-memory model gave;
#   3. length: --eval at the training length (256) and at 2x (data.max_len=512) both run on the
#      test file; reviews that fit in 256 tokens get the same predictions at both lengths
#      (the conv position is relative: a longer plan changes nothing for them);
#   4. resume: 10 steps, then --resume, ends in the state of a straight run (sha256);
#   5. errors: a learned-position model refuses data.max_len past its max_pos (and accepts its
#      own length); dev_rows too large; dev_rows with sst2; a missing .gz file; evaluating the
#      byte model as SST-2 (another vocabulary).
set -euo pipefail
base=$(realpath "$1")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cfg=configs/imdb-tiny.yaml

# 1. train
"$base" --config $cfg run.dir="$tmp/a" > "$tmp/a.txt"
for f in model.h5 checkpoint.h5 metrics.csv dev_predictions.tsv; do
  [[ -s "$tmp/a/$f" ]] || fail "$f missing"
done
grep -q "^data: 160 train reviews (160 rows of data/imdb-sample/train.tsv.gz; .*), 40 dev (40 rows held out of" \
  "$tmp/a.txt" || fail "data line: $(grep '^data:' "$tmp/a.txt")"
grep -q "^model: 1 layers, d=32, .*conv positions k=5" "$tmp/a.txt" || fail "model line"
[[ $(tail -n +2 "$tmp/a/dev_predictions.tsv" | cut -f1 | sort -un | awk '$1 >= 0 && $1 < 200' | wc -l) -eq 40 ]] \
  || fail "dev rows: expected 40 distinct rows of the train file"
acc=$(sed -n 's/^training done: .*best dev accuracy \([0-9.]*\)$/\1/p' "$tmp/a.txt")
[[ -n "$acc" ]] || fail "no training summary"

# 2. reload: same dev predictions and accuracy
"$base" --eval "$tmp/a/model.h5" --split dev --out "$tmp/dev" > "$tmp/dev.txt"
cmp "$tmp/dev/IMDB.tsv" "$tmp/a/dev_predictions.tsv" || fail "reloaded model predicts differently"
grep -q "accuracy $acc " "$tmp/dev.txt" || fail "reloaded accuracy differs from $acc"

# 3. test at the training length and at twice it
"$base" --eval "$tmp/a/model.h5" --split test --out "$tmp/t256" > "$tmp/t256.txt"
"$base" --eval "$tmp/a/model.h5" --split test data.max_len=512 --out "$tmp/t512" > "$tmp/t512.txt"
grep -q "on test (data/imdb-sample/test.tsv.gz, max_len 256): accuracy [0-9.]* ([0-9]*/200)" "$tmp/t256.txt" \
  || fail "test at 256: $(head -1 "$tmp/t256.txt")"
grep -q "on test (data/imdb-sample/test.tsv.gz, max_len 512): accuracy [0-9.]* ([0-9]*/200)" "$tmp/t512.txt" \
  || fail "test at 512: $(head -1 "$tmp/t512.txt")"
[[ $(wc -l < "$tmp/t512/IMDB.tsv") -eq 201 ]] || fail "test predictions: expected 200 rows + header"
# rows of at most 254 bytes ([CLS] + bytes + [SEP] <= 256): uncut at both lengths
python3 - "$tmp/t256/IMDB.tsv" "$tmp/t512/IMDB.tsv" data/imdb-sample/test.tsv.gz <<'EOF'
import gzip, sys
short = [i for i, line in enumerate(gzip.open(sys.argv[3]).read().split(b"\n")[1:-1])
         if len(line) - 2 <= 254]
p = [dict(l.split("\t") for l in open(f).read().split("\n")[1:-1]) for f in sys.argv[1:3]]
diff = [i for i in short if p[0][str(i)] != p[1][str(i)]]
if not short or diff:
    sys.exit(f"FAIL: {len(short)} short test reviews, predictions differ at 256 vs 512 for {diff}")
print(f"{len(short)} short test reviews: same predictions at 256 and 512")
EOF

# 4. resume: 10 steps, then the rest, vs the straight run
"$base" --config $cfg run.dir="$tmp/b" train.max_steps=10 > /dev/null
"$base" --resume "$tmp/b/checkpoint.h5" train.max_steps=0 > "$tmp/b2.txt"
sa=$(state "$tmp/a.txt"); sb=$(state "$tmp/b2.txt")
[[ -n "$sa" && "$sa" == "$sb" ]] || fail "resumed state $sb differs from straight $sa"

# 5. errors
"$base" --config $cfg model.position=learned run.dir="$tmp/l" train.max_steps=2 > /dev/null
"$base" --eval "$tmp/l/model.h5" --split test > /dev/null || fail "learned model at its own length"
expect_error "data.max_len: expected at most model.max_pos (256) with model.position: learned" \
  "$base" --eval "$tmp/l/model.h5" --split test data.max_len=512
expect_error "data.dev_rows: expected fewer than the 200 rows of data/imdb-sample/train.tsv.gz, found 200" \
  "$base" --config $cfg data.dev_rows=200 run.dir="$tmp/c"
expect_error "data.dev_rows: expected 0 with data.format: sst2" \
  "$base" --config configs/tiny.yaml data.dev_rows=10 run.dir="$tmp/c"
expect_error "data.train: $tmp/none.tsv.gz: cannot open" \
  "$base" --config $cfg data.train="$tmp/none.tsv.gz" run.dir="$tmp/c"
[[ -e "$tmp/c" ]] && fail "a failed run wrote $tmp/c"
expect_error "the model was trained with another vocabulary" \
  "$base" --eval "$tmp/a/model.h5" data.format=sst2 data.dev_rows=0
echo "test_base_imdb: ok (dev accuracy $acc, state $sa)"
