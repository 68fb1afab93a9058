#!/usr/bin/python3
"""Checks a --trace-pcap file with tshark (issue 15, docs/trace.md).

Usage: check_pcap.py rtu SCENARIO PCAP FIRST   the scenario's Modbus RTU and M-Bus frames
       check_pcap.py tcp EXPECT_JSON PCAP FIRST Modbus/TCP through the gateway

Expected values come from the scenario (requests and their times), the
Modbus spec (echoes, exceptions), the grid (230 V as Float ABCD words), the
M-Bus short frames (EN 13757-2: C field, address); never from the twin's
output. Prints TAP lines.
"""
import json
import struct
import subprocess
import sys

mode, spec, pcap, first = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
n = first - 1
# The documented option set (docs/trace.md): the meter side is port 502 for
# the RTU dissector too (it tells queries from responses by it), and M-Bus
# frames go to the IEC 60870-5-101 dissector, which reads the FT1.2 link
# layer M-Bus shares.
OPTS = ["-o", "mbrtu.tcp.port:502", "-o", "mbrtu.crc_verification:TRUE", "-d",
        "tcp.port==2405,iec60870_101"]


def tap(ok, what, detail=""):
    global n
    n += 1
    print(("ok %d - %s" if ok else "not ok %d - %s") % (n, what) + ("" if ok or not detail else ": " + detail))


def fields(filt, *names):
    cmd = ["tshark", "-r", pcap] + OPTS + ["-Y", filt, "-T", "fields", "-E", "separator=|"]
    for f in names:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return None
    return [l.split("|") for l in out.stdout.splitlines()]


def words(x):
    return struct.unpack(">2H", struct.pack(">f", x))


def secs(at):
    return float(at[:-2]) / 1000 if at.endswith("ms") else float(at.rstrip("s"))


bad = fields("_ws.malformed || _ws.expert.severity >= \"warning\" || mbrtu.crc16.incorrect",
             "frame.number", "_ws.expert.message")
modbus_filter = "mbrtu || mbtcp"

if mode == "rtu":
    sc = json.load(open(spec))
    reqs = [(secs(e["at"]), bytes.fromhex(e["modbus"]["request"])) for e in sc["timeline"] if "modbus" in e]
    rows = fields("mbrtu", "frame.number", "frame.time_epoch", "modbus.func_code", "modbus.request_frame",
                  "modbus.regval_uint16", "modbus.exception_code", "mbrtu.unit_id", "_ws.col.Info")
    tap(rows is not None, "tshark reads the pcap")
    rows = rows or []
    bad_mb = fields("(mbrtu) && (_ws.malformed || _ws.expert.severity >= \"warning\" || mbrtu.crc16.incorrect)",
                    "frame.number")
    tap(bad_mb == [], "no malformed Modbus RTU packet, no warning, every CRC right (crc_verification on)",
        repr(bad_mb))
    queries = [r for r in rows if "Query" in r[7]]
    responses = [r for r in rows if "Response" in r[7]]
    tap([(round(float(r[1]), 9), int(r[2])) for r in queries] == [(t, q[1]) for t, q in reqs],
        "every request of the scenario, at its virtual time, with its function code",
        repr([(r[1], r[2]) for r in queries]))
    # tshark links a reply to its request (modbus.request_frame); an exception
    # reply it does not link: that one answers the query just before it.
    def paired(r):
        if r[5]:
            before = [q for q in queries if int(q[0]) < int(r[0])]
            return bool(before) and before[-1][2] == r[2]
        return any(q[0] == r[3] and q[2] == r[2] for q in queries)
    pairs = all(paired(r) for r in responses)
    answered = len(reqs) - sum(1 for e in sc["timeline"] if e.get("modbus", {}).get("expect_none"))
    tap(len(responses) == answered and pairs,
        "every reply is paired with its request (modbus.request_frame), same function", "%d replies" % len(responses))
    w230 = words(230.0)
    tap(len(responses) > 0 and responses[0][4] == ",".join(str(w) for w in w230 * 3),
        "0x5002's reply: the registers of 230.0 as Float ABCD, three times", responses[0][4] if responses else "")
    exc = [r for r in responses if r[5]]
    tap(len(exc) == 1 and exc[0][5] == "2" and exc[0][2] == "3", "the read of 0x0001: exception 2 to function 3")
    tap(all(r[6] == "1" for r in rows), "every frame to and from unit 1")
    mb = fields("iec60870_101", "frame.time_epoch", "iec60870_101.ctrlfield", "iec60870_101.linkaddr",
                "iec60870_101.header")
    want = [(secs(e["at"]), int(e["mbus"]["short"].split()[0], 16), int(e["mbus"]["short"].split()[1], 16))
            for e in sc["timeline"] if "mbus" in e]
    got = [(round(float(r[0]), 9), int(r[1], 16), int(r[2])) for r in (mb or []) if r[3] == "0x10"]
    tap(got == want, "the M-Bus requests as FT1.2 short frames: time, C field, address (iec60870_101)", repr(got))
    tap(len(mb or []) == 2 * len(want), "the M-Bus replies are there too (E5, a long frame)")
else:
    want = json.load(open(spec))  # [[function, [register words] or null], ...] in order
    rows = fields("mbtcp", "frame.number", "mbtcp.trans_id", "modbus.func_code", "modbus.request_frame",
                  "modbus.regval_uint16", "_ws.col.Info", "tcp.srcport")
    tap(rows is not None, "tshark reads the pcap")
    rows = rows or []
    bad_mb = fields("(mbtcp || mbrtu) && (_ws.malformed || _ws.expert.severity >= \"warning\")", "frame.number")
    tap(bad_mb == [], "no malformed Modbus/TCP or RTU packet", repr(bad_mb))
    queries = [r for r in rows if "Query" in r[5]]
    responses = [r for r in rows if "Response" in r[5]]
    tap([int(q[2]) for q in queries] == [w[0] for w in want], "Modbus/TCP: the client's requests, in order",
        repr([q[2] for q in queries]))
    pairs = len(responses) == len(queries) and all(
        any(q[0] == r[3] and q[1] == r[1] and q[2] == r[2] for q in queries) for r in responses)
    tap(pairs, "each response answers its request: transaction id and function")
    vals = [(int(r[2]), [int(v) for v in r[4].split(",")] if r[4] else None) for r in responses]
    tap(all(w[1] is None or v[1] == w[1] for v, w in zip(vals, want)), "the registers read are the expected values",
        repr(vals))
    rtu = fields("mbrtu", "frame.number", "modbus.func_code")
    tap(rtu is not None and len(rtu) == 2 * len(want), "the gateway's RTU exchanges on the bus are in the same file")
