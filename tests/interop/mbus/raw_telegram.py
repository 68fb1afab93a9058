"""The bytes libmbus does not show: reads each meter of three.json with a
plain REQ_UD2 and decodes the RSP_UD with a small EN 13757-3 decoder of its
own (not the twin's record table), to check what node-mbus drops:

  - the phase VIFEs FC 01 / FC 02 / FC 03 on the per-phase voltage, current,
    active and reactive power records (A2.2), and on no other record;
  - the backward-flow VIFE 3C on the reverse energy records (A2.2), and on
    no other record;
  - the signs: a meter that exports reads negative powers (two's complement,
    A2.2 "79 29 ED" = -1234567 W) and a negative power factor (BCD with an F
    nibble in front, EN 13757-3).

Usage: /usr/bin/python3 raw_telegram.py PORT
Prints one unnumbered line per check, "ok - ..." or "not ok - ...".
"""
import sys
import termios
import time

import serial

PORT = sys.argv[1]
# (primary address, serial, amps, +1 import / -1 export), as in three.json
METERS = [(1, 13070001, 10, 1), (2, 13070002, 5, 1), (3, 13070003, 10, -1)]
U = 230

# Record positions (0-based, A2.2 order) that carry a phase, and which.
PHASE = {13: 1, 14: 2, 15: 3,      # L1..L3 voltage
         16: 1, 17: 2, 18: 3,      # L1..L3 current
         20: 1, 21: 2, 22: 3,      # L1..L3 active power
         24: 1, 25: 2, 26: 3}      # L1..L3 reactive power
BACKWARD = {5, 6, 7, 8, 9, 12}     # reverse active energy total, T1..T4; reverse reactive

# EN 13757-3 DIF data field: length in bytes, and BCD or binary.
DATA_LEN = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 4, 6: 6, 7: 8,
            9: 1, 10: 2, 11: 3, 12: 4, 14: 6}


def check(cond, what):
    print(("ok - " if cond else "not ok - ") + what)


def checksum(b):
    return sum(b) & 0xFF


def short(c, a):
    return bytes([0x10, c, a, (c + a) & 0xFF, 0x16])


def read_frame(port, deadline=2.0):
    """One frame: E5, or 68 L L 68 ... 16 (read until its length is known)."""
    buf = b""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        buf += port.read(1 if not buf else max(1, want(buf) - len(buf)))
        if buf and len(buf) >= want(buf):
            break
    return buf


def want(buf):
    if buf[:1] == b"\xE5":
        return 1
    if buf[:1] == b"\x68" and len(buf) >= 2:
        return buf[1] + 6
    return 300


def bcd(data):
    """BCD, LSB first; an F in the top nibble makes it negative (EN 13757-3)."""
    digits = "".join("%02X" % x for x in reversed(data))
    neg = digits[0] == "F"
    if neg:
        digits = "0" + digits[1:]
    if not digits.isdigit():
        return None
    return -int(digits) if neg else int(digits)


def parse_records(body):
    """Generic DIF/DIFE/VIF/VIFE walk; returns [(dib, vib, data, value)]."""
    out = []
    p = 0
    while p < len(body):
        dib = [body[p]]
        p += 1
        while dib[-1] & 0x80:
            dib.append(body[p])
            p += 1
        vib = [body[p]]
        p += 1
        if vib[0] == 0x7C:  # plain-text unit without VIFE: length, then text
            n = body[p]
            vib += list(body[p:p + n + 1])
            p += n + 1
        while vib[-1] & 0x80 or vib[0] in (0xFB, 0xFD) and len(vib) == 1:
            vib.append(body[p])
            p += 1
        code = dib[0] & 0x0F
        n = DATA_LEN[code]
        data = body[p:p + n]
        p += n
        if code >= 9:
            value = bcd(data)
        else:
            value = int.from_bytes(data, "little", signed=True)
        out.append((bytes(dib), bytes(vib), bytes(data), value))
    return out


def vifes(vib):
    """The VIFE bytes: after the VIF (and after FB/FD's first extension byte,
    which with them is the real VIF; after a plain-text unit's text)."""
    if vib[0] & 0x7F == 0x7C:
        return list(vib[2 + vib[1]:])
    start = 2 if vib[0] in (0xFB, 0xFD) else 1
    return list(vib[start:])


def open_port():
    """9600 8E1 as A2.1 says. A Linux pty keeps no parity bit: once a client
    has closed it, asking for PARENB again fails with EINVAL, so fall back to
    8N1 (on a pty the bytes are the same)."""
    try:
        return serial.Serial(PORT, 9600, bytesize=8, parity=serial.PARITY_EVEN, stopbits=1,
                             timeout=0.5)
    except (serial.SerialException, OSError, termios.error):
        return serial.Serial(PORT, 9600, bytesize=8, parity=serial.PARITY_NONE, stopbits=1,
                             timeout=0.5)


def main():
    port = open_port()
    for addr, ident, amps, sign in METERS:
        port.reset_input_buffer()
        port.write(short(0x40, addr))             # SND_NKE
        ack = read_frame(port)
        port.write(short(0x5B, addr))             # REQ_UD2
        f = read_frame(port)
        tag = "raw REQ_UD2 to %d" % addr
        check(ack == b"\xE5", "%s: SND_NKE answered E5 (got %s)" % (tag, ack.hex(" ")))
        sound = (len(f) >= 21 and f[0] == 0x68 and f[3] == 0x68 and f[1] == f[2] and
                 len(f) == f[1] + 6 and f[-1] == 0x16 and f[-2] == checksum(f[4:-2]))
        check(sound, "%s: a sound long frame, L = 238 (got %d bytes, L = %s)"
              % (tag, len(f), f[1] if len(f) > 1 else "-"))
        if not sound:
            continue
        check(f[4] == 0x08 and f[5] == addr and f[6] == 0x72,
              "%s: C 08 (RSP_UD), A %02X, CI 72" % (tag, addr))
        hdr = f[7:19]
        check(bcd(hdr[0:4]) == ident and hdr[4:6] == b"\xCD\x25" and hdr[6] == 1 and hdr[7] == 2,
              "%s: header ID %d (BCD, LSB first), CD 25, version 01, medium 02 (got %s)"
              % (tag, ident, hdr[:8].hex(" ")))
        try:
            recs = parse_records(f[19:-2])
        except (IndexError, KeyError) as e:
            check(False, "%s: the records parse (%r)" % (tag, e))
            continue
        check(len(recs) == 31, "%s: 31 records (got %d)" % (tag, len(recs)))
        if len(recs) != 31:
            continue
        bad_phase, bad_back = [], []
        for i, (dib, vib, data, value) in enumerate(recs):
            e = vifes(vib)
            # FC 01..03: the phase (A2.2); FC 10 on the resettable kWh is not one.
            phase = e[-1] if len(e) >= 2 and e[-2] == 0xFC and e[-1] in (1, 2, 3) else None
            if phase != PHASE.get(i):
                bad_phase.append("record %d VIB %s" % (i, vib.hex(" ")))
            if any(x & 0x7F == 0x3C for x in e) != (i in BACKWARD):
                bad_back.append("record %d VIB %s" % (i, vib.hex(" ")))
        check(not bad_phase, "%s: phase VIFEs FC 01..03 on the 12 per-phase records only%s"
              % (tag, " (" + "; ".join(bad_phase) + ")" if bad_phase else ""))
        check(recs[10][1] == b"\x83\xFC\x10",
              "%s: the resettable kWh keeps A2.2's VIF 83 FC 10 (got %s)" % (tag, recs[10][1].hex(" ")))
        check(not bad_back, "%s: backward-flow VIFE 3C on the 6 reverse energy records only%s"
              % (tag, " (" + "; ".join(bad_back) + ")" if bad_back else ""))
        # Values that depend on the phase being right: every phase reads the
        # scenario's values, with the sign of the direction.
        p = U * amps
        want_vals = {13: U * 100, 14: U * 100, 15: U * 100,
                     16: amps * 1000, 17: amps * 1000, 18: amps * 1000,
                     19: sign * 3 * p, 20: sign * p, 21: sign * p, 22: sign * p,
                     28: sign * 100}
        bad = ["record %d = %s, expected %d" % (i, recs[i][3], v)
               for i, v in sorted(want_vals.items())
               if recs[i][3] is None or abs(recs[i][3] - v) > (0 if i == 28 else 1)]
        check(not bad, "%s: U, I, P per phase and PF with their signs (%s)%s"
              % (tag, "export" if sign < 0 else "import", " (" + "; ".join(bad) + ")" if bad else ""))
        if sign < 0:
            check(recs[28][2] == b"\x00\xF1",
                  "%s: PF -1.00 is BCD 00 F1 (got %s)" % (tag, recs[28][2].hex(" ")))
            check(recs[20][2] == (-p & 0xFFFFFF).to_bytes(3, "little"),
                  "%s: L1 active power -%d W in 24-bit two's complement (got %s)"
                  % (tag, p, recs[20][2].hex(" ")))
    port.close()


main()
