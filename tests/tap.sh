# Shared by the shell libraries of the twin's suites (tests/interop/lib.sh,
# tests/cli/http_lib.sh; sourced, not run): the TAP counters, a temporary
# directory removed on exit, and the twin (started by each library its own
# way) stopped by its PID.
#
#   . "$(dirname "$0")/../tap.sh"
#   ok DESCRIPTION / notok DESCRIPTION   -> "ok N - ..." / "not ok N - ..."
#   stop_twin                            -> the twin of $twin_pid, if any, ended
set -u
BUILD=${BUILD:-build}
BIN=$BUILD/metersim
PY=/usr/bin/python3 # Debian's python: it has pymodbus (the pyenv one on PATH does not)
tmp=$(mktemp -d)
twin_pid=""
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }

stop_twin() {
    if [ -n "$twin_pid" ]; then
        kill "$twin_pid" 2>/dev/null
        wait "$twin_pid" 2>/dev/null
        twin_pid=""
    fi
}
cleanup() {
    stop_twin
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
