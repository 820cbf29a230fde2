# lib.sh: the preamble every tests/cmd/*.sh sources, after turning its program arguments into
# absolute paths (`source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"`): strict mode, the working
# directory is the source root (DRRL_SOURCE_ROOT, set by tests/meson.build), $tmp is a fresh
# folder removed on exit, $py the Debian Python, and the helpers below.
set -euo pipefail
cd "${DRRL_SOURCE_ROOT:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3

# fail MESSAGE: print FAIL: MESSAGE on stderr and stop the test
fail() { echo "FAIL: $*" >&2; exit 1; }

# state LOG: the training-state sha256 a program printed into LOG
state() { sed -n 's/^training state sha256 //p' "$1"; }

# expect_error PATTERN COMMAND...: COMMAND must fail with PATTERN (a fixed string) in its
# stderr; its stdout goes to $tmp/out.txt, its stderr to $tmp/err.txt
expect_error() {
  local pat="$1"; shift
  if "$@" > "$tmp/out.txt" 2> "$tmp/err.txt"; then fail "accepted: $*"; fi
  grep -qF -- "$pat" "$tmp/err.txt" || fail "expected '$pat' in: $(cat "$tmp/err.txt")"
}

# kill_one_of_two JOB PATTERN: with mpirun job JOB (a background pid) running two processes
# whose command lines match PATTERN (an extended regex), kill one with SIGKILL: the job must
# end with a non-zero status within 20 seconds (the caller's EXIT trap cleans up the rest)
kill_one_of_two() {
  local job=$1 pat=$2 pids="" rc=0 t0
  for _ in $(seq 100); do
    pids=$(pgrep -f "$pat" || true)
    [ "$(echo "$pids" | wc -w)" = 2 ] && break; sleep 0.1
  done
  [ "$(echo "$pids" | wc -w)" = 2 ] || fail "the two processes did not start"
  sleep 1
  kill -KILL "$(echo "$pids" | tail -1)"
  t0=$(date +%s); wait "$job" || rc=$?
  [ "$rc" != 0 ] || fail "a killed process: the job exited 0"
  (( $(date +%s) - t0 <= 20 )) || fail "a killed process: the job took $(( $(date +%s) - t0 )) s to end"
}
