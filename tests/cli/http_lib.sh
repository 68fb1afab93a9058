# Shared by tests/cli/test_http*.sh (sourced, not run): the twin started with
# --http on a port of the range 47100-47199, calls with curl, JSON read with
# Debian's python3; the TAP counters, the temporary folder and stop_twin are
# tests/tap.sh's.
#
#   . "$(dirname "$0")/http_lib.sh"
#   start_http PORT SCENARIO_TEXT [metersim flags...]  -> $twin_pid, $URL
#   api METHOD PATH [BODY]   -> $code (HTTP status), body in $tmp/body
#   jq_ 'EXPR'               -> prints EXPR of the body as JSON (d: the body)
#   stop_twin
# shellcheck source=../tap.sh
. "$(dirname "$0")/../tap.sh"
# expect DESCRIPTION CONDITION-COMMAND...: ok if the command succeeds.
expect() {
    desc=$1
    shift
    if "$@" >"$tmp/check.out" 2>&1; then
        ok "$desc"
    else
        notok "$desc"
        sed 's/^/# /' "$tmp/check.out"
        echo "# HTTP $code: $(head -c 400 "$tmp/body" 2>/dev/null)"
    fi
}

# start_http PORT SCENARIO_TEXT [flags...]: waits until the service answers
# (at most 5 s) and the first window is published (the log's t = 2 line).
start_http() {
    HPORT=$1
    printf '%s\n' "$2" >"$tmp/scenario.json"
    shift 2
    URL=http://127.0.0.1:$HPORT
    "$BIN" --headless --scenario "$tmp/scenario.json" --until 300s --http "127.0.0.1:$HPORT" \
        "$@" >"$tmp/twin.log" 2>"$tmp/twin.err" &
    twin_pid=$!
    # 10 s for each wait: under the sanitizers, on a loaded machine
    i=0
    until curl -s -m 2 -o /dev/null "$URL/api/meters" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 500 ] || ! kill -0 "$twin_pid" 2>/dev/null; then
            echo "# the twin did not serve HTTP: $(cat "$tmp/twin.err")"
            return 1
        fi
        sleep 0.02
    done
    i=0
    while ! grep -q '"t":2[,}]' "$tmp/twin.log" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 500 ] || ! kill -0 "$twin_pid" 2>/dev/null; then
            echo "# the twin logged no second 2 in 10 s: $(tail -c 300 "$tmp/twin.log"); $(cat "$tmp/twin.err")"
            return 1
        fi
        sleep 0.02
    done
    return 0
}

# api METHOD PATH [BODY] [curl flags...]
api() {
    m=$1 p=$2
    shift 2
    if [ $# -gt 0 ]; then
        b=$1
        shift
        code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X "$m" -H 'Content-Type: application/json' \
            --data-binary "$b" "$@" "$URL$p")
    else
        code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X "$m" "$URL$p")
    fi
}

# jq_ EXPR: a Python expression over the body `d` (parsed JSON), printed.
jq_() {
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); r=eval(sys.argv[2]); print(json.dumps(r) if not isinstance(r,str) else r)' "$tmp/body" "$1"
}
# jt EXPR: succeeds when the Python expression over the body is true.
jt() {
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$tmp/body" "$1" || {
        echo "false: $1"
        return 1
    }
}
# poll PATH EXPR: GET PATH until jt EXPR holds, every 0.1 s for 6 s at most
# (the twin runs in real time); the last reply stays in $tmp/body.
poll() {
    i=0
    until api GET "$1" && jt "$2" >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -gt 60 ] && return 1
        sleep 0.1
    done
}
status_is() { [ "$code" = "$1" ] || { echo "status $code, expected $1"; return 1; }; }
