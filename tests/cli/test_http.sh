#!/bin/sh
# --http's JSON API with curl (docs/http.md): every route and its errors.
# Expected values come from the manual (A4.4's rows, labels and units; the
# ranges of 6.6.x and 4; the article number and meter code of A3.2) and from
# the scenario's physics (230 V, 10 A at PF 1 on each phase: P = 6.9 kW).
# Ports 47110-47111. Speaks TAP.
. "$(dirname "$0")/http_lib.sh"

SC='{"name":"http api","grid":{"voltage":230},"load":{"current":10,"pf":1},
 "buses":[{"name":"b1","meters":[{"name":"m1","serial":"13070001"},
  {"name":"m2","model":"4PS","serial":"13070002","settings":{"modbus_id":2,"mbus_id":2}}]}]}'
start_http 47110 "$SC" || { echo "not ok 1 - the twin starts with --http"; exit 1; }
ok "the twin starts with --http and serves /api/meters"

api GET /api/meters
expect "GET /api/meters: both meters, with variant, serial, IDs, Bluetooth" eval 'status_is 200 && jt "[(m[\"id\"],m[\"name\"],m[\"variant\"],m[\"serial\"],m[\"modbus_id\"],m[\"mbus_address\"],m[\"bluetooth\"],m[\"connected\"]) for m in d[\"meters\"]] == [(0,\"m1\",\"4PU\",\"13070001\",1,0,False,False),(1,\"m2\",\"4PS\",\"13070002\",2,2,False,False)]"'

api GET /api/meters/1
expect "GET /api/meters/1: the device page of a 4PS (879-3020, meter code 1112)" eval 'status_is 200 && jt "d[\"article\"]==\"879-3020\" and d[\"meter_code\"]==\"1112\" and d[\"serial\"]==\"13070002\" and \"software\" in d[\"firmware\"] and \"mid_crc\" in d[\"checksums\"] and d[\"settings\"][\"modbus_id\"]==2 and \"password\" not in d[\"settings\"]"'
api GET /api/meters/m1
expect "a meter by its name" eval 'status_is 200 && jt "d[\"article\"]==\"879-3000\" and d[\"meter_code\"]==\"1111\""'

# A4.4, typed from the manual.
api GET /api/meters/0/readings
expect "readings: A4.4's Energy rows, labels and units" eval 'status_is 200 && jt "[(r[\"label\"],r[\"unit\"]) for r in d[\"energy\"]] == [(\"Total active energy\",\"kWh\"),(\"T1 Total active energy\",\"kWh\"),(\"T2 Total active energy\",\"kWh\"),(\"L1 Total active energy\",\"kWh\"),(\"L2 Total active energy\",\"kWh\"),(\"L3 Total active energy\",\"kWh\"),(\"Forward active energy\",\"kWh\"),(\"T1 Forward active energy\",\"kWh\"),(\"T2 Forward active energy\",\"kWh\"),(\"L1 Forward active energy\",\"kWh\"),(\"L2 Forward active energy\",\"kWh\"),(\"L3 Forward active energy\",\"kWh\"),(\"Reverse active energy\",\"kWh\")]"'
expect "readings: A4.4's Instantaneous rows, labels and units" eval 'jt "[(r[\"label\"],r[\"unit\"]) for r in d[\"instantaneous\"]] == [(\"Voltage*\",\"V\"),(\"L1 Voltage\",\"V\"),(\"L2 Voltage\",\"V\"),(\"L3 Voltage\",\"V\"),(\"Grid frequency\",\"Hz\"),(\"Current*\",\"A\"),(\"L1 Current\",\"A\"),(\"L2 Current\",\"A\"),(\"L3 Current\",\"A\"),(\"Total active power\",\"kW\"),(\"L1 Active power\",\"kW\"),(\"L2 Active power\",\"kW\"),(\"L3 Active power\",\"kW\")]"'
expect "readings: the scenario's physics (230 V, 10 A, 50 Hz, 6.9 kW)" eval 'jt "(lambda v: abs(v[\"l1_voltage\"]-230)<0.5 and abs(v[\"l3_current\"]-10)<0.02 and abs(v[\"frequency\"]-50)<0.01 and abs(v[\"total_active_power\"]-6.9)<0.007 and v[\"voltage\"]==0)({r[\"key\"]:r[\"value\"] for r in d[\"instantaneous\"]})"'

api GET '/api/meters/0/registers?address=0x5002&count=2'
expect "registers: 0x5002 is L1's voltage as a float (230 V)" eval 'status_is 200 && jt "__import__(\"struct\").unpack(\">f\", bytes([d[\"words\"][0]>>8, d[\"words\"][0]&255, d[\"words\"][1]>>8, d[\"words\"][1]&255]))[0] > 229.5 and d[\"address\"]==0x5002"'
api GET '/api/meters/0/registers?address=0x4002'
expect "registers: 0x4002 is the meter code 0x1111 (A3.2)" eval 'status_is 200 && jt "d[\"words\"]==[0x1111]"'
api GET '/api/meters/0/registers?address=0x5002&count=126'
expect "registers: count 126 is exception 03 (400)" eval 'status_is 400 && jt "d[\"exception\"]==3"'
api GET '/api/meters/0/registers?address=0x7000&count=2'
expect "registers: outside the map is exception 02 (400)" eval 'status_is 400 && jt "d[\"exception\"]==2"'
api GET '/api/meters/0/registers?count=2'
expect "registers: no address is 400 naming it" eval 'status_is 400 && jt "\"address\" in d[\"error\"]"'

api GET /api/meters/0/lcd
expect "lcd: the text line and the glass (9 + 6 digits, icons)" eval 'status_is 200 && jt "len(d[\"text\"])>0 and len(d[\"display\"][\"main\"][\"segments\"])==9 and len(d[\"display\"][\"obis\"][\"points\"])==6 and d[\"display\"][\"power\"]==\"on\" and isinstance(d[\"display\"][\"icons\"], list)"'

api GET /api/meters/0/settings
expect "settings: every setting, ranges of the manual (Modbus ID 1-247, M-Bus 0-250)" eval 'status_is 200 && jt "d[\"settings\"][\"modbus_id\"]==1 and d[\"ranges\"][\"modbus_id\"]=={\"min\":1,\"max\":247} and d[\"ranges\"][\"mbus_id\"]=={\"min\":0,\"max\":250} and \"password\" not in d[\"settings\"] and len(d[\"settings\"])==18"'

api PUT /api/meters/0/settings '{"password":"1234","settings":{"modbus_id":9}}'
expect "settings: a wrong password is 403" eval 'status_is 403 && jt "\"password\" in d[\"error\"]"'
api GET /api/meters/0/settings
expect "... and nothing changed" jt 'd["settings"]["modbus_id"]==1'
api PUT /api/meters/0/settings '{"password":"0000","settings":{"tariff":2,"modbus_id":300}}'
expect "settings: an ID of 300 is 422 naming the field and 1 to 247" eval 'status_is 422 && jt "\"modbus_id\" in d[\"error\"] and \"1 to 247\" in d[\"error\"]"'
api GET /api/meters/0/settings
expect "... and nothing changed, not even the valid tariff given with it" jt 'd["settings"]["tariff"]==1 and d["settings"]["modbus_id"]==1'
api PUT /api/meters/0/settings '{"password":"0000","settings":{"s0_rate":12345}}'
expect "settings: an S0 rate off the manual's list is 422" eval 'status_is 422 && jt "\"s0_rate\" in d[\"error\"]"'
api PUT /api/meters/0/settings '{"password":"0000","settings":{"password":1}}'
expect "settings: the password is changed with the buttons only (400, 6.6.1)" eval 'status_is 400 && jt "\"6.6.1\" in d[\"error\"]"'
api PUT /api/meters/0/settings '{"password":"0000","settings":{"colour":1}}'
expect "settings: an unknown setting is 400 naming it" eval 'status_is 400 && jt "\"colour\" in d[\"error\"]"'
api PUT /api/meters/0/settings '{"password":"0000","settings":{"tariff":'
expect "settings: bad JSON is 400 saying so" eval 'status_is 400 && jt "\"JSON\" in d[\"error\"]"'
api PUT /api/meters/0/settings '{"settings":{"tariff":2}}'
expect "settings: no password is 400 naming it" eval 'status_is 400 && jt "\"password\" in d[\"error\"]"'
api PUT /api/meters/0/settings '{"password":"0000","settings":{"pulse_width":20,"lcd_cycle":25}}'
expect "settings: two at once with the password (200)" eval 'status_is 200 && jt "d[\"settings\"][\"pulse_width\"]==20 and d[\"settings\"][\"lcd_cycle\"]==25"'
api GET /api/meters/0/lcd
expect "... the LCD at once: not turned" jt 'd["display"]["rotated"] is False'
api PUT /api/meters/0/settings '{"password":"0000","settings":{"screen_direction":1}}'
api GET /api/meters/0/lcd
expect "... screen direction 1: the LCD is turned 180 degrees at once (A3.3 0x4032)" jt 'd["display"]["rotated"] is True'
expect "... logged as set events" grep -q '"event":"set","meter":"m1","setting":"lcd_cycle","value":25,"result"' "$tmp/twin.log"

api POST /api/meters/0/connect
expect "connect while Bluetooth is off: 409, Bluetooth is off in the meter's menu" eval 'status_is 409 && jt "d[\"error\"]==\"Bluetooth is off in the meter'"'"'s menu\""'
api PUT /api/meters/0/settings '{"password":0,"settings":{"bluetooth":1}}'
api POST /api/meters/0/connect
expect "connect with Bluetooth on (200)" eval 'status_is 200 && jt "d[\"connected\"] is True"'
api GET /api/meters/0/lcd
expect "... the LCD's BT icon is steady while connected" jt '"BT" in d["display"]["icons"]'
api GET /api/meters
expect "... and the list says connected" jt 'd["meters"][0]["connected"] is True and d["meters"][0]["bluetooth"] is True'
api POST /api/meters/0/disconnect
expect "disconnect (200)" eval 'status_is 200 && jt "d[\"connected\"] is False"'
api PUT /api/meters/0/settings '{"password":"0000","settings":{"bluetooth":1}}'
api POST /api/meters/0/connect
api PUT /api/meters/0/settings '{"password":"0000","settings":{"bluetooth":0}}'
api GET /api/meters
expect "switching Bluetooth off ends the connection" jt 'd["meters"][0]["connected"] is False'

api POST /api/meters/0/physics '{"voltage":[300,230,230]}'
expect "physics: 300 V is 422 naming voltage[0] and 0 to 276" eval 'status_is 422 && jt "\"voltage[0]\" in d[\"error\"] and \"0 to 276\" in d[\"error\"]"'
api POST /api/meters/0/physics '{"current":[10,70,10]}'
expect "physics: 70 A is 422 (Imax 65 A)" eval 'status_is 422 && jt "\"current[1]\" in d[\"error\"] and \"65\" in d[\"error\"]"'
api POST /api/meters/0/physics '{"frequency":70}'
expect "physics: 70 Hz is 422" eval 'status_is 422 && jt "\"frequency\" in d[\"error\"]"'
api POST /api/meters/0/physics '{"pf":[1.5,1,1]}'
expect "physics: PF 1.5 is 422" eval 'status_is 422 && jt "\"pf[0]\" in d[\"error\"]"'
api POST /api/meters/0/physics '{"load":5}'
expect "physics: an unknown key is 400 naming it" eval 'status_is 400 && jt "\"load\" in d[\"error\"]"'
api POST /api/meters/0/physics '{"direction":"sideways"}'
expect "physics: a bad direction is 400" eval 'status_is 400 && jt "\"direction\" in d[\"error\"]"'
api POST /api/meters/0/physics '{"current":[5,null,7],"pf":[0.5,-0.8,1],"frequency":49.5,"tariff_input":true}'
expect "physics: a subset is applied and echoed (null: unchanged)" eval 'status_is 200 && jt "d[\"current\"]==[5,10,7] and d[\"pf\"]==[0.5,-0.8,1] and d[\"frequency\"]==49.5 and d[\"tariff_input\"] is True and d[\"direction\"]==\"import\""'
expect "... logged as control events" grep -q '"event":"control","meter":"m1","action":"frequency","arg":0,"value":49.5' "$tmp/twin.log"
api GET /api/meters/0/physics
expect "GET physics shows what is in force" jt 'd["frequency"]==49.5 and d["supply"]==[True,True,True]'

api POST /api/meters/0/buttons '{"button":"up"}'
expect "buttons: an unknown button is 400" eval 'status_is 400 && jt "\"button\" in d[\"error\"]"'
api POST /api/meters/0/buttons '{"button":"left","ms":0}'
expect "buttons: 0 ms is 422" eval 'status_is 422 && jt "\"ms\" in d[\"error\"]"'
api POST /api/meters/0/buttons '{"button":"middle","action":"hold"}'
expect "buttons: hold middle (3.5 s by default)" eval 'status_is 200 && jt "d[\"release_ns\"]-d[\"t_ns\"]==3500000000"'
poll /api/meters/0/lcd 'd["display"]["menu"]'
expect "... held over 3 s, it opens the settings menu (6.4: SET on the LCD)" jt 'd["display"]["menu"] and "SET" in d["display"]["icons"]'

api POST /api/meters/1/faults '{"fault":"melt"}'
expect "faults: an unknown fault is 400 listing them" eval 'status_is 400 && jt "\"corrupt_main\" in d[\"error\"]"'
api POST /api/meters/1/faults '{"fault":"corrupt_main"}'
expect "faults: corrupt_main on m2: the power-up finds 7.1 bit 6 (0x40) and runs on the backup" eval 'status_is 200 && jt "d[\"fault\"]==\"corrupt_main\" and d[\"error\"]==0x40 and d[\"stopped\"] is False"'
expect "... logged as a fault event" grep -q '"event":"fault","meter":"m2","fault":"corrupt_main"' "$tmp/twin.log"
api GET /api/meters/1
expect "... the device page gives the same byte, not stopped" jt 'd["error"]==0x40 and d["stopped"] is False'
api POST /api/meters/1/faults '{"fault":"corrupt_both"}'
expect "faults: corrupt_both: both copies' data errors and bit 0 (7.1 bits 6, 5, 0): the meter stops" eval 'status_is 200 && jt "(d[\"error\"] & 0x61)==0x61 and d[\"stopped\"] is True"'
err=$("$PY" -c 'import json,sys; print("%02X" % json.load(open(sys.argv[1]))["error"])' "$tmp/body")
poll /api/meters/1/lcd "d['text']=='Err $err'"
expect "... its glass shows only Err $err (7.1)" jt "d['text']=='Err $err'"
api POST /api/meters/1/faults '{"fault":"restart"}'
expect "... a plain power cycle finds the image sound: 0, not stopped" eval 'status_is 200 && jt "d[\"error\"]==0 and d[\"stopped\"] is False"'

api POST /api/meters/0/save
expect "save without --state is 409" eval 'status_is 409 && jt "\"--state\" in d[\"error\"]"'

api GET /api/meters/7/readings
expect "an unknown meter is 404" eval 'status_is 404 && jt "\"meter 7\" in d[\"error\"]"'
api GET /api/meters/nope
expect "an unknown meter name is 404" eval 'status_is 404'
api GET /api/nothing
expect "an unknown route is 404" eval 'status_is 404'
api DELETE /api/meters/0/settings
expect "a method a route does not take is 405" eval 'status_is 405'
head -c 70000 /dev/zero | tr '\0' ' ' >"$tmp/big.json"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data-binary @"$tmp/big.json" "$URL/api/meters/0/physics")
expect "a body over 64 KiB is 413" eval 'status_is 413'
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X POST -H 'Transfer-Encoding: chunked' \
    --data-binary @"$tmp/big.json" "$URL/api/meters/0/physics")
expect "... also without a Content-Length (chunked)" eval 'status_is 413'

code=$(curl -s -o "$tmp/body" -w '%{http_code}|%{content_type}' "$URL/")
expect "GET / serves the embedded page as text/html" eval '[ "$code" = "200|text/html; charset=utf-8" ] && cmp -s "$tmp/body" frontends/web/index.html'
bad=""
for f in frontends/web/*.js frontends/web/*.css frontends/web/*.html; do
    [ -f "$f" ] || continue
    case $f in *.js) want="text/javascript; charset=utf-8" ;; *.css) want="text/css; charset=utf-8" ;;
    *) want="text/html; charset=utf-8" ;; esac
    got=$(curl -s -o "$tmp/file" -w '%{http_code}|%{content_type}' "$URL/${f#frontends/web/}")
    { [ "$got" = "200|$want" ] && cmp -s "$tmp/file" "$f"; } || bad="$bad ${f#frontends/web/}($got)"
done
expect "every file of frontends/web/ is embedded and served as it is, with its content type" eval '[ -z "$bad" ] || { echo "$bad"; false; }'
code=$(curl -s -o "$tmp/body" -w '%{http_code}' "$URL/nope.js")
expect "a file the page does not have is 404" eval 'status_is 404'
# docs/openapi.json: OpenAPI 3, the same routes as docs/http.md's headings,
# and every route it names is one the twin answers (not 404 or 405).
cat >"$tmp/openapi.py" <<'PY'
import json, re, sys, urllib.request, urllib.error
url = sys.argv[1]
doc = json.load(open("docs/openapi.json"))
assert doc["openapi"].startswith("3."), doc["openapi"]
api = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops if m != "parameters"}
md = open("docs/http.md").read()
heads = set()
for line in md.splitlines():
    if line.startswith("### "):
        for m, p in re.findall(r"`(GET|PUT|POST) (/[^`\[ ]*)", line):
            heads.add((m, p.split("?")[0]))
assert api == heads, ("openapi only", sorted(api - heads), "http.md only", sorted(heads - api))
for m, p in sorted(api):
    path = p.replace("{id}", "0")
    if path.endswith("/registers"):
        path += "?address=0x4000&count=2"
    if path == "/api/events":
        path += "?meter=0"
    data = b"{}" if m in ("PUT", "POST") else None
    req = urllib.request.Request(url + path, data=data, method=m)
    try:
        code = urllib.request.urlopen(req, timeout=2).status
    except urllib.error.HTTPError as e:
        code = e.code
    except Exception as e: # the event stream does not end: its headers came
        code = 200 if path.startswith("/api/events") else str(e)
    assert code not in (404, 405), (m, path, code)
print(len(api), "routes")
PY
expect "docs/openapi.json: OpenAPI 3, the routes of docs/http.md, each answered by the twin" "$PY" "$tmp/openapi.py" "$URL"
expect "the twin is still running" kill -0 "$twin_pid"
stop_twin
echo "1..$n"
