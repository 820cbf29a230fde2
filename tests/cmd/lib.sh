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
