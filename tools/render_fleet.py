#!/usr/bin/env python3
"""render_fleet: a fleet template -> one scenario per shard, and the manifests.

    tools/render_fleet.py deploy/fleet.json --shards 3 --out OUT
    OUT/shard-0.json ... shard-2.json   one scenario each (metersim --check)
    OUT/shard-0.ports ...               "BUS PORT" a line: what metersim-health polls
    OUT/meters.csv                      every meter: shard, bus, port, unit id,
                                        M-Bus address, serial, name, seed
    OUT/k8s/metersim.yaml               ConfigMap, headless Service, StatefulSet,
                                        a Service per pod (docs/deploy.md)

A fleet is many metersim processes ("shards"), each a process of B buses of
M meters, each bus behind its own Modbus TCP gateway (docs/network.md). The
assignment is arithmetic on (shard k, bus b, meter n), so a pod that restarts
with the same ordinal gets the same scenario, the same meter names and so the
same state files (docs/deploy.md):

    port(k, b)   = modbus_port + k*B + b       unique in the fleet
    unit id      = n (1..M) on every gateway   (host:port, unit) unique
    M-Bus addr   = n (1..M)
    serial       = serial + (k*B + b)*M + n-1  unique, and so the M-Bus
                                               secondary address (its last 8)
    seed(k)      = seed + k                    streams that never overlap
    name         = shard{k}-bus{b}-{n:03}      unique: the state file's name

Python 3 standard library only. Exit status 0; 2 for a bad template or
command line, with the key and what is allowed.
"""

import argparse
import copy
import json
import os
import sys

# splitmix64's increment (sim/scenario/scenario_profile.c, scn_draw): draw i
# of seed s is mix(s + (i + 1) * GAMMA); seeds s and s + d meet at draw
# offsets i - j = -d * GAMMA^-1 mod 2^64.
GAMMA = 0x9E3779B97F4A7C15
MASK = (1 << 64) - 1
MAX_SEED = (1 << 53) - 1  # a scenario's "seed" (docs/scenario.md)
MAX_METERS = 10000  # a scenario's meters (sim/scenario/scenario.h)
MAX_BUSES = 256
MAX_UNIT = 247  # Modbus IDs of one bus (0x4003)
MAX_MBUS = 250  # M-Bus primary addresses

# Keys of the fleet template, with what each is (docs/deploy.md).
KEYS = {
    "name": "the StatefulSet's name, prefix of its Services (DNS label)",
    "description": "text",
    "shards": "the number of shards (pods), 1 to 1000; --shards overrides it",
    "image": "the container image",
    "seed": "the fleet's seed; shard k runs with seed + k",
    "listen": "the address the gateways listen on (0.0.0.0 in a pod)",
    "modbus_port": "the Modbus TCP port of shard 0's bus 0",
    "buses_per_shard": "buses in each shard, each with its own port",
    "meters_per_bus": "meters on each bus: unit ids 1..this",
    "serial": "the first meter's serial number (decimal digits)",
    "storage": "the size of each pod's state volume",
    "cpu": "the CPU each pod requests",
    "meter": "what every meter is: model, connection, settings, load, vary, ...",
    "scenario": "what every shard shares: grid, load",
}
METER_KEYS = {"model", "connection", "settings", "registers", "power_down_count",
              "turnaround", "load", "vary"}
SCENARIO_KEYS = {"grid", "load", "duration"}


class Bad(Exception):
    """A template or command line that cannot be rendered."""


def need_int(t, key, lo, hi):
    v = t.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise Bad('"%s": expected an integer %d to %d (%s), not %r'
                  % (key, lo, hi, KEYS[key], v))
    return v


def need_str(t, key, default=None):
    v = t.get(key, default)
    if not isinstance(v, str) or not v:
        raise Bad('"%s": expected a string (%s), not %r' % (key, KEYS[key], v))
    return v


def dns_label(s):
    ok = s and len(s) <= 40 and s[0].isalpha() and s[-1].isalnum()
    return ok and all(ch.islower() or ch.isdigit() or ch == "-" for ch in s)


def seeds_apart(shards):
    """The smallest distance, over every pair of shards, between the draws of
    their splitmix64 streams (seeds seed + k): apart when it is past the
    draws one shard uses."""
    inv = pow(GAMMA, -1, 1 << 64)
    worst = 1 << 64
    for d in range(1, shards):
        off = (-d * inv) & MASK
        dist = min(off, (1 << 64) - off)
        worst = min(worst, dist)
    return worst


def plan(t, shards):
    """Checks the template; returns the fleet's numbers."""
    for k in t:
        if k not in KEYS:
            raise Bad('unknown key "%s" (known: %s)' % (k, ", ".join(KEYS)))
    name = need_str(t, "name")
    if not dns_label(name):
        raise Bad('"name": %r: expected a DNS label of 1 to 40 lower-case letters, '
                  "digits and '-', starting with a letter" % name)
    B = need_int(t, "buses_per_shard", 1, MAX_BUSES)
    M = need_int(t, "meters_per_bus", 1, MAX_UNIT)
    if B * M > MAX_METERS:
        raise Bad('"buses_per_shard" x "meters_per_bus" = %d meters a shard; a scenario '
                  "holds at most %d" % (B * M, MAX_METERS))
    port0 = need_int(t, "modbus_port", 1, 65535)
    last_port = port0 + shards * B - 1
    if last_port > 65535:
        raise Bad('"modbus_port" %d: %d shards of %d buses need ports %d to %d; past 65535'
                  % (port0, shards, B, port0, last_port))
    seed = t.get("seed", 1)
    t = dict(t, seed=seed)
    need_int(t, "seed", 0, MAX_SEED - (shards - 1))
    serial = need_str(t, "serial")
    if not serial.isdigit() or len(serial) > 16:
        raise Bad('"serial": %r: expected 1 to 16 decimal digits' % serial)
    total = shards * B * M
    last = int(serial) + total - 1
    if len(str(last)) > 16:
        raise Bad('"serial": %s: %d meters would reach %d, past 16 digits' % (serial, total, last))
    # The M-Bus secondary address is the serial's last 8 digits (A2.1): the
    # fleet's serials must not wrap there, or two meters would share one.
    low8 = int(serial) % 10**8
    if low8 + total - 1 >= 10**8:
        raise Bad('"serial": %s: %d meters would wrap its last 8 digits (the M-Bus '
                  "secondary address), so two meters would share one; start lower"
                  % (serial, total))
    meter = t.get("meter", {})
    if not isinstance(meter, dict):
        raise Bad('"meter": expected an object (%s)' % KEYS["meter"])
    for k in meter:
        if k not in METER_KEYS:
            raise Bad('"meter": unknown key "%s" (known: %s; name, serial, count and the IDs '
                      "are the fleet's)" % (k, ", ".join(sorted(METER_KEYS))))
    settings = meter.get("settings", {})
    if not isinstance(settings, dict):
        raise Bad('"meter.settings": expected an object')
    for k in ("modbus_id", "mbus_id", "mbus_secondary"):
        if k in settings:
            raise Bad('"meter.settings.%s": assigned by the fleet (docs/deploy.md), not '
                      "given" % k)
    scen = t.get("scenario", {})
    if not isinstance(scen, dict):
        raise Bad('"scenario": expected an object (%s)' % KEYS["scenario"])
    for k in scen:
        if k not in SCENARIO_KEYS:
            raise Bad('"scenario": unknown key "%s" (known: %s)'
                      % (k, ", ".join(sorted(SCENARIO_KEYS))))
    # Two draws a meter ("vary": current, pf): the streams of any two shards
    # must lie further apart than a shard's draws.
    if shards > 1 and seeds_apart(shards) <= 2 * B * M:
        raise Bad('"seed": the streams of two shards would overlap; choose another')
    return {
        "name": name, "shards": shards, "B": B, "M": M, "port0": port0, "seed": seed,
        "serial": serial, "meter": meter, "scenario": scen,
        "listen": need_str(t, "listen", "0.0.0.0"),
        "image": need_str(t, "image", "localhost/metersim:latest"),
        "storage": need_str(t, "storage", "256Mi"),
        "cpu": need_str(t, "cpu", "1"),
        "description": t.get("description", ""),
    }


def port(p, k, b):
    return p["port0"] + k * p["B"] + b


def serial_of(p, k, b, n):
    """Meter n (1..M) of bus b of shard k, zero-padded to the first's width."""
    w = len(p["serial"])
    return str(int(p["serial"]) + (k * p["B"] + b) * p["M"] + n - 1).zfill(w)


def bus_name(k, b):
    return "shard%d-bus%d" % (k, b)


def shard_scenario(p, k):
    s = {
        "name": "%s shard %d of %d" % (p["name"], k, p["shards"]),
        "description": "Rendered by tools/render_fleet.py; do not edit (docs/deploy.md). "
                       "Shard %d: %d buses of %d meters, Modbus TCP ports %d to %d, serials "
                       "%s to %s." % (k, p["B"], p["M"], port(p, k, 0), port(p, k, p["B"] - 1),
                                      serial_of(p, k, 0, 1),
                                      serial_of(p, k, p["B"] - 1, p["M"])),
        "seed": p["seed"] + k,
    }
    s.update(copy.deepcopy(p["scenario"]))
    buses = []
    for b in range(p["B"]):
        m = copy.deepcopy(p["meter"])
        m.update({
            "name": bus_name(k, b) + "-{n:03}",
            "count": p["M"],
            "serial": serial_of(p, k, b, 1),
        })
        m["settings"] = dict(p["meter"].get("settings", {}), modbus_id=1, mbus_id=1)
        buses.append({
            "name": bus_name(k, b),
            "modbus": "tcp:%s:%d" % (p["listen"], port(p, k, b)),
            "meters": [m],
        })
    s["buses"] = buses
    return s


def meters_csv(p):
    rows = ["shard,bus,service,port,unit_id,mbus_address,serial,name,seed"]
    for k in range(p["shards"]):
        for b in range(p["B"]):
            for n in range(1, p["M"] + 1):
                rows.append("%d,%s,%s-%d,%d,%d,%d,%s,%s-%03d,%d" % (
                    k, bus_name(k, b), p["name"], k, port(p, k, b), n, n,
                    serial_of(p, k, b, n), bus_name(k, b), n, p["seed"] + k))
    return "\n".join(rows) + "\n"


def q(s):
    """A YAML scalar: JSON's quoting is YAML's double-quoted style."""
    return json.dumps(s)


def block(text, indent):
    pad = " " * indent
    return "".join(pad + line + "\n" for line in text.splitlines())


def manifests(p, files):
    n = p["name"]
    out = ["# Rendered by tools/render_fleet.py from a fleet template; do not edit.\n"
           "# %d shards of %d buses x %d meters: docs/deploy.md.\n" % (
               p["shards"], p["B"], p["M"])]
    cm = ["apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s-shards\n"
          "  labels:\n    app.kubernetes.io/name: %s\ndata:\n" % (n, n)]
    for fname in sorted(files):
        cm.append("  %s: |\n" % fname)
        cm.append(block(files[fname], 4))
    out.append("".join(cm))
    out.append("""apiVersion: v1
kind: Service
metadata:
  name: {n}
  labels:
    app.kubernetes.io/name: {n}
spec:
  clusterIP: None
  selector:
    app.kubernetes.io/name: {n}
  ports:
    - name: modbus-first
      port: {p0}
      protocol: TCP
""".format(n=n, p0=p["port0"]))
    out.append("""apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {n}
  labels:
    app.kubernetes.io/name: {n}
spec:
  serviceName: {n}
  replicas: {shards}
  podManagementPolicy: Parallel
  selector:
    matchLabels:
      app.kubernetes.io/name: {n}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {n}
    spec:
      terminationGracePeriodSeconds: 30
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        runAsGroup: 10001
        fsGroup: 10001
      containers:
        - name: metersim
          image: {image}
          imagePullPolicy: IfNotPresent
          # The shard is the pod's ordinal (the host name's last number):
          # deploy/metersim-shard runs /etc/metersim/shard-K.json with its
          # state under /var/lib/metersim.
          command: ["metersim-shard"]
          env:
            - name: METERSIM_CONFIG
              value: /etc/metersim
            - name: METERSIM_STATE
              value: /var/lib/metersim
          resources:
            requests:
              cpu: {cpu}
              memory: 256Mi
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
          startupProbe:
            exec:
              command: ["metersim-health"]
            periodSeconds: 2
            failureThreshold: 30
          livenessProbe:
            exec:
              command: ["metersim-health"]
            periodSeconds: 30
            timeoutSeconds: 10
          readinessProbe:
            exec:
              command: ["metersim-health"]
            periodSeconds: 10
            timeoutSeconds: 10
          volumeMounts:
            - name: shards
              mountPath: /etc/metersim
              readOnly: true
            - name: state
              mountPath: /var/lib/metersim
      volumes:
        - name: shards
          configMap:
            name: {n}-shards
  volumeClaimTemplates:
    - metadata:
        name: state
      spec:
        accessModes: ["ReadWriteOnce"]
        resources:
          requests:
            storage: {storage}
""".format(n=n, shards=p["shards"], image=q(p["image"]), cpu=q(p["cpu"]),
           storage=q(p["storage"])))
    for k in range(p["shards"]):
        ports = "".join("    - name: bus%d\n      port: %d\n      targetPort: %d\n"
                        "      protocol: TCP\n" % (b, port(p, k, b), port(p, k, b))
                        for b in range(p["B"]))
        out.append("""apiVersion: v1
kind: Service
metadata:
  name: {n}-{k}
  labels:
    app.kubernetes.io/name: {n}
    metersim/shard: "{k}"
spec:
  type: ClusterIP
  selector:
    statefulset.kubernetes.io/pod-name: {n}-{k}
  ports:
{ports}""".format(n=n, k=k, ports=ports))
    return "---\n".join(out)


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main(argv):
    ap = argparse.ArgumentParser(
        description="Render a metersim fleet template into one scenario per shard and "
                    "Kubernetes manifests (docs/deploy.md).")
    ap.add_argument("template", help="the fleet template (JSON), e.g. deploy/fleet.json")
    ap.add_argument("--shards", type=int, help="the number of shards (default: the "
                                               "template's \"shards\")")
    ap.add_argument("--out", required=True, help="the folder to write into")
    ap.add_argument("--listen", help="the gateways' address (default: the template's)")
    ap.add_argument("--modbus-port", type=int, help="shard 0's first port (default: the "
                                                    "template's)")
    a = ap.parse_args(argv)
    try:
        try:
            with open(a.template, encoding="utf-8") as f:
                t = json.load(f)
        except OSError as e:
            raise Bad("cannot read it: %s" % e.strerror)
        except ValueError as e:
            raise Bad("not valid JSON: %s" % e)
        if not isinstance(t, dict):
            raise Bad("a fleet template is a JSON object")
        if a.listen is not None:
            t["listen"] = a.listen
        if a.modbus_port is not None:
            t["modbus_port"] = a.modbus_port
        if a.shards is not None:
            t["shards"] = a.shards
        shards = need_int(t, "shards", 1, 1000)
        p = plan(t, shards)
    except Bad as e:
        print("render_fleet: %s: %s" % (a.template, e), file=sys.stderr)
        return 2
    os.makedirs(os.path.join(a.out, "k8s"), exist_ok=True)
    files = {}
    for k in range(shards):
        text = json.dumps(shard_scenario(p, k), indent=1) + "\n"
        ports = "".join("%s %d\n" % (bus_name(k, b), port(p, k, b)) for b in range(p["B"]))
        files["shard-%d.json" % k] = text
        files["shard-%d.ports" % k] = ports
    for fname, text in files.items():
        write(os.path.join(a.out, fname), text)
    write(os.path.join(a.out, "meters.csv"), meters_csv(p))
    write(os.path.join(a.out, "k8s", "%s.yaml" % p["name"]), manifests(p, files))
    print("render_fleet: %d shards x %d buses x %d meters = %d meters, ports %d-%d, into %s"
          % (shards, p["B"], p["M"], shards * p["B"] * p["M"], p["port0"],
             port(p, shards - 1, p["B"] - 1), a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
