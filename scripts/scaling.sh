#!/usr/bin/env bash
# scaling.sh: drrl-train and drrl-eval with 1 and 2 processes (mpirun), one thread each, on
# the SST-2 frozen model (runs/sst2-base, made by scripts/run.sh) -- the table of
# docs/results.md "Several processes (issue 17)". Prints per K: PPO environment steps per
# second and seconds per iteration (iterations 2.. of ITERS; the first one includes start-up),
# drrl-eval's wall time, and the speed-ups.
#   scripts/scaling.sh [OUT_DIR] [ITERS]      (default runs/scaling, 4)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/scaling}
iters=${2:-4}
[[ -f runs/sst2-base/model.h5 ]] || { echo "scaling.sh: runs/sst2-base/model.h5 missing (scripts/run.sh makes it)" >&2; exit 1; }
mpirun=(mpirun --allow-run-as-root --oversubscribe --mca btl self,vader -x OMP_NUM_THREADS=1)
export OMP_NUM_THREADS=1 DRRL_KERNEL_CACHE=${DRRL_KERNEL_CACHE:-off}
mkdir -p "$out"
train=(build/cmd/drrl-train --config configs/sst2-drrl.yaml env.threads=1 ppo.iterations="$iters"
       run.checkpoint_every="$iters" run.rollouts_every=0)
# one latency table for both (measured alone first)
if [[ ! -f $out/latency.h5 ]]; then
  build/cmd/drrl-train --config configs/sst2-drrl.yaml env.threads=1 ppo.iterations=1 \
    run.rollouts_every=0 run.dir="$out/table" --force > /dev/null
  cp "$out/table/latency.h5" "$out/latency.h5"
fi
for k in 1 2; do
  rm -rf "$out/train-$k"
  "${mpirun[@]}" -np "$k" "${train[@]}" latency.file="$out/latency.h5" run.dir="$out/train-$k" \
    > "$out/train-$k.txt"
done
for k in 1 2; do
  rm -rf "$out/eval-$k"
  t0=$(date +%s.%N)
  "${mpirun[@]}" -np "$k" build/cmd/drrl-eval --checkpoint "$out/train-1" --reps 1 \
    --modes full,static:8,static:16,policy --out "$out/eval-$k" > "$out/eval-$k.txt"
  echo "$t0 $(date +%s.%N)" > "$out/eval-$k.seconds"
done
/usr/bin/python3 - "$out" "$iters" <<'PY'
import csv, sys
out, iters = sys.argv[1], int(sys.argv[2])
row = {}
for k in (1, 2):
    m = list(csv.DictReader(open(f"{out}/train-{k}/metrics.csv")))[1:]  # after start-up
    fps = sum(float(r["fps"]) for r in m) / len(m)
    secs = [float(b["seconds"]) - float(a["seconds"]) for a, b in zip(m, m[1:])] or [float(m[0]["seconds"])]
    t0, t1 = map(float, open(f"{out}/eval-{k}.seconds").read().split())
    ev = t1 - t0
    row[k] = (fps, sum(secs) / len(secs), ev)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"CPU: {cpu}; one thread per process; {iters} PPO iterations of configs/sst2-drrl.yaml")
print("| processes | env steps/s | s per iteration | drrl-eval wall s |")
print("|---|---|---|---|")
for k in (1, 2):
    print(f"| {k} | {row[k][0]:.1f} | {row[k][1]:.2f} | {row[k][2]:.1f} |")
print(f"| 2 vs 1 | {row[2][0] / row[1][0]:.2f}x | {row[1][1] / row[2][1]:.2f}x | {row[1][2] / row[2][2]:.2f}x |")

# the cost model of one iteration: T(K) = W / K + m A(K), W the one-process work (environment
# and update), m minibatches, A(K) a ring allreduce of b bytes: 2 (K - 1) alpha +
# 2 (K - 1) / K * b / beta
import re
params = int(re.search(r"policy: (\d+) parameters", open(f"{out}/train-1.txt").read()).group(1))
cfg = open(f"{out}/train-1/config.yaml").read()
key = lambda sec, k: int(re.search(rf"(?ms)^{sec}:.*?^  {k}: (\d+)", cfg).group(1))
N = key("ppo", "episodes") * key("env", "batch") * 4  # 4 layers: steps per episode
m = key("ppo", "epochs") * -(-N // key("ppo", "minibatch"))
b = 4 * params
W = row[1][1]
print(f"\ncost model: W = {W:.2f} s per iteration alone, m = {m} minibatches, b = {b} bytes "
      f"({params} parameters) per allreduce")
nets = {"shared memory (alpha 2 us, beta 10 GB/s)": (2e-6, 10e9),
        "10 GbE (alpha 30 us, beta 1.25 GB/s)": (30e-6, 1.25e9)}
print("| network | K | same batch: s/iter, speed-up | batch x K: efficiency |")
print("|---|---|---|---|")
for name, (al, be) in nets.items():
    for K in (2, 8, 16, 32, 64):
        A = 2 * (K - 1) * al + 2 * (K - 1) / K * b / be
        strong = W / K + m * A
        weak = W / (W + m * A)
        same = f"{strong:.3f}, {W / strong:.1f}x" if K <= key("env", "batch") else "more processes than slots"
        print(f"| {name} | {K} | {same} | {100 * weak:.0f}% |")
PY
