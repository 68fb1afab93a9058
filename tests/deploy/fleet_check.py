#!/usr/bin/python3
"""fleet_check: checks of a rendered fleet for tests/deploy/test_fleet.sh.

    fleet_check.py scenarios OUT SHARDS   the shard scenarios, expanded as
                                          docs/scenario.md says a template
                                          expands: names, serials, unit ids,
                                          ports unique across the shards
    fleet_check.py manifests OUT SHARDS   the manifests parse as YAML (Debian's
                                          python3-yaml) with the kinds and
                                          wiring docs/deploy.md describes
    fleet_check.py containerfile FILE     FROM, USER, HEALTHCHECK, ENTRYPOINT

Each check prints one TAP-like line "ok - what" or "not ok - what (why)"; the
shell test numbers them.
"""
import json
import os
import re
import sys


def say(good, what, why=""):
    print(("ok - %s" if good else "not ok - %s (" + why + ")") % what)


def expand(sc):
    """Every meter of a scenario: (bus, port, unit id, serial, name), the
    template rules of docs/scenario.md (Buses and fleets), not the tool's."""
    out = []
    for bus in sc["buses"]:
        ep = bus["modbus"]
        ep = [ep] if isinstance(ep, str) else ep
        tcp = [e for e in ep if e.startswith("tcp:")]
        port = int(tcp[0].rsplit(":", 1)[1])
        for m in bus["meters"]:
            count = m.get("count", 1)
            first = m["serial"]
            uid0 = m.get("settings", {}).get("modbus_id", 1)
            for n in range(1, count + 1):
                name = re.sub(r"\{n:0(\d+)\}", lambda g: str(n).zfill(int(g.group(1))),
                              m["name"]).replace("{n}", str(n))
                serial = str(int(first) + n - 1).zfill(len(first))
                out.append((bus["name"], port, uid0 + n - 1, serial, name))
    return out


def scenarios(out, shards):
    meters, ports, seeds = [], [], []
    for k in range(shards):
        with open(os.path.join(out, "shard-%d.json" % k)) as f:
            sc = json.load(f)
        seeds.append(sc["seed"])
        ms = expand(sc)
        meters += [(k,) + m for m in ms]
        ports += sorted({m[1] for m in ms})
    n = len(meters)
    say(n > 0, "%d meters in %d shards" % (n, shards))
    names = {m[5] for m in meters}
    say(len(names) == n, "meter names unique across shards (%d)" % len(names))
    serials = {m[4] for m in meters}
    say(len(serials) == n, "serial numbers unique across shards (%d)" % len(serials))
    sec = {m[4][-8:] for m in meters}
    say(len(sec) == n, "M-Bus secondary addresses (a serial's last 8 digits, A2.1) unique (%d)"
        % len(sec))
    say(len(set(ports)) == len(ports), "Modbus TCP ports unique across shards (%s)"
        % ",".join(map(str, ports)))
    pu = {(m[2], m[3]) for m in meters}
    say(len(pu) == n, "(port, unit id) unique: every meter reachable alone (%d)" % len(pu))
    say(all(1 <= m[3] <= 247 for m in meters), "unit ids within 1..247")
    say(len(set(seeds)) == shards, "a seed per shard (%s)" % ",".join(map(str, seeds)))
    # The fleet's meters.csv says the same as the scenarios.
    with open(os.path.join(out, "meters.csv")) as f:
        rows = [l.rstrip("\n").split(",") for l in f][1:]
    csv = {(int(r[0]), int(r[3]), int(r[4]), r[6], r[7]) for r in rows}
    mine = {(m[0], m[2], m[3], m[4], m[5]) for m in meters}
    say(csv == mine, "meters.csv lists the scenarios' meters, no more, no fewer (%d rows)"
        % len(rows), "differ: %s" % sorted(csv ^ mine)[:4])


def manifests(out, shards):
    import yaml  # Debian's python3-yaml

    path = os.path.join(out, "k8s")
    files = [f for f in os.listdir(path) if f.endswith(".yaml")]
    docs = []
    for f in files:
        with open(os.path.join(path, f)) as fh:
            docs += [d for d in yaml.safe_load_all(fh) if d]
    kinds = sorted(d["kind"] for d in docs)
    say(kinds == sorted(["ConfigMap", "StatefulSet"] + ["Service"] * (shards + 1)),
        "the manifests parse as YAML: a ConfigMap, a StatefulSet, %d Services" % (shards + 1),
        "kinds %s" % kinds)
    by = {}
    for d in docs:
        by.setdefault(d["kind"], []).append(d)
    ss = by["StatefulSet"][0]
    spec = ss["spec"]
    name = ss["metadata"]["name"]
    say(spec["replicas"] == shards, "StatefulSet %s: %d replicas" % (name, shards))
    headless = [s for s in by["Service"] if s["spec"].get("clusterIP") == "None"]
    say(len(headless) == 1 and headless[0]["metadata"]["name"] == spec["serviceName"],
        "its serviceName is a headless Service")
    vct = spec.get("volumeClaimTemplates", [])
    c = spec["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    say(len(vct) == 1 and mounts.get(vct[0]["metadata"]["name"]) == env.get("METERSIM_STATE"),
        "state on a volumeClaimTemplate mounted at METERSIM_STATE (%s)" % env.get("METERSIM_STATE"))
    sec = spec["template"]["spec"].get("securityContext", {})
    say(sec.get("runAsNonRoot") is True and sec.get("runAsUser", 0) != 0,
        "pods run as a non-root user (%s)" % sec.get("runAsUser"))
    probes = [c.get(p, {}).get("exec", {}).get("command") for p in
              ("livenessProbe", "readinessProbe")]
    say(probes == [["metersim-health"]] * 2, "liveness and readiness: metersim-health")
    cm = by["ConfigMap"][0]
    vols = {v["name"]: v for v in spec["template"]["spec"]["volumes"]}
    cmvol = [v for v in vols.values() if v.get("configMap", {}).get("name") ==
             cm["metadata"]["name"]]
    say(len(cmvol) == 1 and mounts.get(cmvol[0]["name"]) == env.get("METERSIM_CONFIG"),
        "the shards' ConfigMap mounted at METERSIM_CONFIG (%s)" % env.get("METERSIM_CONFIG"))
    same = True
    for k in range(shards):
        with open(os.path.join(out, "shard-%d.json" % k)) as f:
            same = same and json.loads(cm["data"]["shard-%d.json" % k]) == json.load(f)
        with open(os.path.join(out, "shard-%d.ports" % k)) as f:
            same = same and cm["data"]["shard-%d.ports" % k] == f.read()
    say(same, "the ConfigMap holds each shard's scenario and ports, as rendered")
    per = [s for s in by["Service"] if s["spec"].get("clusterIP") != "None"]
    good = len(per) == shards
    why = ""
    for k in range(shards):
        svc = [s for s in per if s["metadata"]["name"] == "%s-%d" % (name, k)]
        if len(svc) != 1:
            good, why = False, "no Service %s-%d" % (name, k)
            break
        sel = svc[0]["spec"]["selector"]
        with open(os.path.join(out, "shard-%d.ports" % k)) as f:
            want = [int(l.split()[1]) for l in f if l.strip()]
        got = [p["targetPort"] for p in svc[0]["spec"]["ports"]]
        if sel != {"statefulset.kubernetes.io/pod-name": "%s-%d" % (name, k)} or got != want:
            good, why = False, "Service %s-%d: selector %s, ports %s, want %s" % (
                name, k, sel, got, want)
            break
    say(good, "a Service per pod (pod-name selector) exposing its shard's Modbus TCP ports", why)


def containerfile(path):
    with open(path) as f:
        text = f.read()
    # Joined continuation lines, comments dropped: one instruction a line.
    lines = [l for l in re.sub(r"\\\n", " ", text).splitlines()
             if l.strip() and not l.lstrip().startswith("#")]
    ins = [(l.split(None, 1)[0].upper(), l.split(None, 1)[1] if " " in l.strip() else "")
           for l in lines]
    first = ins[0]
    say(first == ("FROM", "debian:bookworm-slim"), "FROM debian:bookworm-slim (Debian stable)",
        "first %s" % (first,))
    users = [(i, a) for i, (k, a) in enumerate(ins) if k == "USER"]
    last_run = max(i for i, (k, _) in enumerate(ins) if k == "RUN")
    user = users[-1][1].split(":")[0].strip() if users else "root"
    say(user not in ("root", "0") and users[-1][0] > last_run,
        "a non-root USER (%s) after every RUN" % user)
    say(re.search(r"useradd\b[^&]*\b%s\b" % re.escape(user), text) is not None,
        "... made with useradd")
    hc = [a for k, a in ins if k == "HEALTHCHECK"]
    say(len(hc) == 1 and "CMD" in hc[0] and "metersim-health" in hc[0],
        "a HEALTHCHECK running metersim-health", "%s" % hc)
    say(re.search(r"apt-get install[^&]*metersim_\*\.deb", text) is not None and
        re.search(r"apt-get install[^&]*\bmbpoll\b", text) is not None,
        "installs the package of make deb, and mbpoll")
    ep = [a for k, a in ins if k == "ENTRYPOINT"]
    say(ep == ['["metersim-shard"]'], "ENTRYPOINT metersim-shard")
    for src in re.findall(r"COPY[^\n]*?((?:deploy/\S+\s*)+)/usr/local/bin/", text):
        for f in src.split():
            say(os.path.isfile(f) and os.access(f, os.X_OK), "COPY source %s exists" % f)


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "scenarios":
        scenarios(sys.argv[2], int(sys.argv[3]))
    elif what == "manifests":
        manifests(sys.argv[2], int(sys.argv[3]))
    else:
        containerfile(sys.argv[2])
