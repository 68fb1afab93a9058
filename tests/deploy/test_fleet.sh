#!/bin/sh
# A fleet past one machine (docs/deploy.md): tools/render_fleet.py renders
# deploy/fleet.json for 3 shards; every shard's scenario loads with
# `metersim --check`; names, serial numbers, unit ids and ports are unique
# across the shards (the templates expanded as docs/scenario.md says, by
# tests/deploy/fleet_check.py); the manifests parse as YAML with the kinds
# and wiring expected; the Containerfile is checked as far as it can be
# without a registry (no image is built here). Then a small fleet of the same
# template really runs: three shards started by deploy/metersim-shard as a pod
# would start them, each meter read over Modbus TCP by mbpoll (serial numbers
# all different and as rendered), deploy/metersim-health against the running
# twins, and a shard killed and restarted resumes its meters' energy from its
# state folder. Ports 47460-47479. Speaks TAP.
set -u
BUILD=${BUILD:-build}
BIN=$(pwd)/$BUILD/metersim
PY=/usr/bin/python3 # Debian's, with python3-yaml
tmp=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { # DESCRIPTION CONDITION...
    d=$1
    shift
    if "$@"; then ok "$d"; else notok "$d"; fi
}
# Lines "ok - x" / "not ok - x (why)" of fleet_check.py, numbered here.
relay() {
    while IFS= read -r line; do
        case $line in
        "ok - "*) ok "${line#ok - }" ;;
        *) notok "${line#not ok - }" ;;
        esac
    done
}

# --- the example, rendered for 3 shards ---------------------------------------
out=$tmp/fleet
$PY tools/render_fleet.py deploy/fleet.json --shards 3 --out "$out" >"$tmp/r.out" 2>&1
st=$?
check "render_fleet.py deploy/fleet.json --shards 3: status 0 ($(cat "$tmp/r.out"))" [ "$st" -eq 0 ]
check "three shard scenarios, no fourth" [ -f "$out/shard-2.json" ] && [ ! -e "$out/shard-3.json" ]
"$BIN" --check "$out"/shard-*.json >"$tmp/c.out" 2>"$tmp/c.err"
st=$?
check "each shard's scenario loads with metersim --check (status $st; $(tr '\n' ' ' <"$tmp/c.err" | head -c 300))" \
    [ "$st" -eq 0 ] && [ "$(grep -c ': ok: 200 meters on 4 buses' "$tmp/c.out")" -eq 3 ]
$PY tests/deploy/fleet_check.py scenarios "$out" 3 >"$tmp/fc" 2>&1 || echo "not ok - fleet_check scenarios crashed: $(tail -1 "$tmp/fc")" >>"$tmp/fc"
relay <"$tmp/fc"
$PY tests/deploy/fleet_check.py manifests "$out" 3 >"$tmp/fc" 2>&1 || echo "not ok - fleet_check manifests crashed: $(tail -1 "$tmp/fc")" >>"$tmp/fc"
relay <"$tmp/fc"
check "deploy/k8s/metersim.yaml is the render of deploy/fleet.json (re-render it when either changes)" \
    cmp -s "$out/k8s/metersim.yaml" deploy/k8s/metersim.yaml
$PY tests/deploy/fleet_check.py containerfile Containerfile >"$tmp/fc" 2>&1 || echo "not ok - fleet_check containerfile crashed: $(tail -1 "$tmp/fc")" >>"$tmp/fc"
relay <"$tmp/fc"

# --- a bad template is refused, naming the key ---------------------------------
bad() { # DESCRIPTION TEXT PYTHON-EDIT
    $PY -c "import json,sys; t=json.load(open('deploy/fleet.json')); $3; json.dump(t, open('$tmp/bad.json','w'))"
    $PY tools/render_fleet.py "$tmp/bad.json" --out "$tmp/bad" >/dev/null 2>"$tmp/bad.err"
    st=$?
    check "refused: $1 (status $st: $(cat "$tmp/bad.err"))" [ "$st" -eq 2 ] && grep -qF -- "$2" "$tmp/bad.err"
}
bad "248 meters a bus" '"meters_per_bus": expected an integer 1 to 247' "t['meters_per_bus']=248"
bad "ports past 65535" 'past 65535' "t['modbus_port']=65530"
bad "serials that wrap their last 8 digits" "secondary address" "t['serial']='99999900'"
bad "a Modbus ID given in the template" '"meter.settings.modbus_id": assigned by the fleet' "t['meter']['settings']={'modbus_id': 5}"
bad "an unknown key" 'unknown key "shard"' "t['shard']=2"

# --- a small fleet of the same template, running ------------------------------
# 3 shards of 2 buses x 3 meters on 127.0.0.1:47460-47465, 40 A at PF 1 for
# every meter (vary off), so energy shows within a second or two.
$PY -c "
import json; t = json.load(open('deploy/fleet.json'))
t.update(buses_per_shard=2, meters_per_bus=3)
t['meter'].pop('vary'); t['scenario']['load'] = {'current': 40, 'pf': 1}
json.dump(t, open('$tmp/small.json', 'w'))"
small=$tmp/small
$PY tools/render_fleet.py "$tmp/small.json" --shards 3 --listen 127.0.0.1 --modbus-port 47460 \
    --out "$small" >/dev/null
export METERSIM_CONFIG="$small" METERSIM_BIN="$BIN"
start_shard() { # K [how]: by METERSIM_SHARD, or by the host name (a pod's)
    mkdir -p "$tmp/state-$1"
    if [ "${2:-}" = host ]; then
        HOSTNAME=metersim-$1 METERSIM_STATE="$tmp/state-$1" sh deploy/metersim-shard \
            >"$tmp/shard-$1.log" 2>"$tmp/shard-$1.err" &
    else
        METERSIM_SHARD=$1 METERSIM_STATE="$tmp/state-$1" sh deploy/metersim-shard \
            >"$tmp/shard-$1.log" 2>"$tmp/shard-$1.err" &
    fi
    eval "pid$1=$!"
    pids="$pids $!"
}
listening() { # PORT: wait up to 10 s
    i=0
    while [ $i -lt 100 ]; do
        ss -ltn "sport = :$1" | grep -q LISTEN && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
start_shard 0
start_shard 1
start_shard 2 host
up=0
for p in 47460 47461 47462 47463 47464 47465; do listening $p && up=$((up + 1)); done
check "three shards up, six gateways listening (one shard by its host name metersim-2)" [ "$up" -eq 6 ]
check "shard 2 found its number in the host name" grep -qF "shard 2: $small/shard-2.json" "$tmp/shard-2.err"

# Every meter's serial number (0x4000, 2 registers BCD, A3.2) by mbpoll.
: >"$tmp/serials"
for k in 0 1 2; do
    while read -r bus port; do
        mbpoll -m tcp -p "$port" -a 1:3 -t 4:hex -r 0x4000 -c 2 -0 -1 -o 2 127.0.0.1 >"$tmp/mb" 2>&1
        awk -v k="$k" -v port="$port" '
            /Polling slave/ { u = $4; sub(/\.\.\./, "", u) }
            /^\[16384\]/ { hi = substr($2, 3) }
            /^\[16385\]/ { print k "," port "," u "," hi substr($2, 3) }' "$tmp/mb" >>"$tmp/serials"
    done <"$small/shard-$k.ports"
done
want=$(awk -F, 'NR > 1 { print $1 "," $4 "," $5 "," substr($7, length($7) - 7) }' "$small/meters.csv" | sort)
got=$(sort "$tmp/serials")
check "18 meters read over Modbus TCP: each (shard, port, unit) answers the serial rendered for it" \
    [ "$(echo "$got" | wc -l)" -eq 18 ] && [ "$got" = "$want" ]
check "... 18 different serial numbers" [ "$(cut -d, -f4 "$tmp/serials" | sort -u | wc -l)" -eq 18 ]

for k in 0 1 2; do
    METERSIM_SHARD=$k sh deploy/metersim-health 2>"$tmp/h.err"
    st=$?
    check "metersim-health against shard $k: status 0 ($(cat "$tmp/h.err"))" [ "$st" -eq 0 ]
done
HOSTNAME=metersim-1 sh deploy/metersim-health 2>"$tmp/h.err"
check "metersim-health by the host name metersim-1: status 0" [ $? -eq 0 ]

energy() { # PORT: active energy total (0x6000, Float ABCD, kWh) of unit 1
    mbpoll -m tcp -p "$1" -a 1 -t 4:float -B -r 0x6000 -c 1 -0 -1 -o 2 127.0.0.1 2>/dev/null |
        awk '/^\[24576\]/ { print $2 }'
}
sleep 2
e1=$(energy 47462)
# 3 x 230 V x 40 A = 27.6 kW: 2 s make about 0.015 kWh.
check "shard 1 meters energy after 2 s ($e1 kWh)" awk "BEGIN { exit !($e1 > 0.005) }"
kill "$pid1"
wait "$pid1"
st=$?
check "shard 1 stops on SIGTERM (status $st)" [ "$st" -eq 0 ]
METERSIM_SHARD=1 sh deploy/metersim-health 2>"$tmp/h.err"
st=$?
check "metersim-health with shard 1 down: status 1, its ports named" [ "$st" -eq 1 ] &&
    grep -qF "127.0.0.1:47462" "$tmp/h.err" && grep -qF "127.0.0.1:47463" "$tmp/h.err"
check "each of shard 1's meters has its state file" [ "$(ls "$tmp/state-1" | grep -c '^meter\.shard1-bus[01]-00[123]$')" -eq 6 ]
start_shard 1
listening 47462 && listening 47463
e2=$(energy 47462)
check "restarted, shard 1 resumes its meters: $e2 kWh, not less than $e1" \
    awk "BEGIN { exit !($e2 >= $e1 && $e2 > 0) }"

# --- what a pod cannot start with ------------------------------------------------
HOSTNAME=metersim METERSIM_STATE="$tmp" sh deploy/metersim-shard >/dev/null 2>"$tmp/e"
st=$?
check "no shard number (host name without -N): status 2, said" [ "$st" -eq 2 ] && grep -qF "no shard number" "$tmp/e"
METERSIM_SHARD=7 METERSIM_STATE="$tmp" sh deploy/metersim-shard >/dev/null 2>"$tmp/e"
st=$?
check "shard 7 of 3: status 2, the path named" [ "$st" -eq 2 ] && grep -qF "$small/shard-7.json not found" "$tmp/e"

echo "1..$n"
