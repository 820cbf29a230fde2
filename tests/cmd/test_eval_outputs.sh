#!/usr/bin/env bash
# test_eval_outputs.sh (fast suite; issue 16, case 7): drrl-base --eval checks its output before
# the work: --out naming a file (the model itself here) is refused and the file is untouched;
# an unlabelled split (SST-2 test) without --out is refused (it computed everything and wrote
# nothing before); a missing --out folder is made and gets the predictions. Training's config
# line names the folder relative paths start from.
set -euo pipefail
base=$(realpath "$1")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$base" --config configs/tiny.yaml run.dir="$tmp/b" train.epochs=1 data.train_limit=600 > "$tmp/train.txt"
# the config line says where relative paths start (issue 16, case 8)
grep -q "^config: configs/tiny.yaml, run directory $tmp/b (relative paths are from $PWD;" \
  "$tmp/train.txt" || fail "no working directory in: $(head -1 "$tmp/train.txt")"
sum=$(md5sum < "$tmp/b/model.h5")
expect_error "--out: expected a folder for the predictions, found the file $tmp/b/model.h5 (the model itself)" \
  "$base" --eval "$tmp/b/model.h5" --split test --out "$tmp/b/model.h5"
[ "$(md5sum < "$tmp/b/model.h5")" = "$sum" ] || fail "--out onto the model changed the model"
grep -q "predicted" "$tmp/out.txt" && fail "the refused evaluation ran first"
expect_error "--split test: expected --out DIR (data/sst2/test.tsv is unlabelled: its predictions are the only result), found none" \
  "$base" --eval "$tmp/b/model.h5" --split test
"$base" --eval "$tmp/b/model.h5" --split test --out "$tmp/new/deep" > /dev/null
[ "$(wc -l < "$tmp/new/deep/SST-2.tsv")" = 1822 ] || fail "predictions: $(wc -l < "$tmp/new/deep/SST-2.tsv") lines"
echo "test_eval_outputs: ok"
