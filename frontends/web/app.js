// app: the functions of WAGO's "Energy Meter Configurator" app (manual
// Appendix 4) for one meter: connect (A4.2; only while the meter's Bluetooth
// is on, 6.5: the twin answers 409 otherwise and the page says why), the
// device page (A4.3: meter type, serial number, software version,
// checksums), "Energy" and "Instantaneous" with refresh (A4.4), save meter
// data (A4.5, savefile.js) and change settings (A4.6, settings.js). As in the
// app, the values and settings are there only while connected.
"use strict";

// What the device page shows (A4.3: "meter type, serial number, software
// version and checksums"), by the names of GET /api/meters/{id} (nested
// objects flattened: firmware.software); absent ones are left out.
const APP_DEVICE_FIELDS = [
    ["variant", "Meter type"],
    ["article", "Article"],
    ["serial", "Serial number"],
    ["firmware.software", "Software version"],
    ["software_version", "Software version"],
    ["firmware.hardware", "Hardware version"],
    ["checksums.mid_crc", "Checksum (MID CRC)"],
    ["checksum", "Checksum (MID CRC)"],
    ["checksums.checksum2", "Checksum 2"],
    ["name", "Name"],
    ["modbus_id", "Modbus ID"],
    ["mbus_address", "M-Bus address"],
];

function appEscape(s) {
    return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

// {a: {b: 1}} -> {"a.b": 1}, scalars only.
function appFlatten(o, prefix, out) {
    out = out || {};
    for (const [k, v] of Object.entries(o || {})) {
        if (v && typeof v === "object" && !Array.isArray(v)) appFlatten(v, prefix + k + ".", out);
        else if (typeof v !== "object") out[prefix + k] = v;
    }
    return out;
}

function appDeviceValue(key, v) {
    if (key === "checksum" && typeof v === "number") return v.toString(16).toUpperCase().padStart(4, "0");
    if (key === "software_version" && typeof v === "number") return v.toFixed(2);
    return v;
}

function appCreate(host, meter, hooks) {
    host.innerHTML = `
      <div class="app-bar">
        <button type="button" class="connect">Connect</button>
        <span class="app-state" role="status"></span>
        <span class="app-tools" hidden>
          <button type="button" class="refresh" title="Refresh (A4.4)" aria-label="Refresh">&#x21bb; Refresh</button>
          <button type="button" class="save" title="Save meter data (A4.5)" aria-label="Save meter data">Save meter data</button>
        </span>
      </div>
      <div class="app-body" hidden>
        <section class="device"><h3>Device</h3><dl></dl></section>
        <section class="readings">
          <p class="readings-time"></p>
          <table class="energy"><caption>Energy</caption><tbody></tbody></table>
          <table class="instantaneous"><caption>Instantaneous</caption><tbody></tbody></table>
        </section>
        <section class="settings"><h3>Settings</h3><div class="settings-host"></div></section>
      </div>`;
    const q = (s) => host.querySelector(s);
    const stateEl = q(".app-state");
    let connected = !!meter.connected;
    let last = null; // the last readings shown, for saving

    const settings = settingsCreate(q(".settings-host"), {
        load: () => Api.get(Api.meter(meter.id, "/settings")),
        save: (password, changes) => Api.put(Api.meter(meter.id, "/settings"), { password, settings: changes }),
        ask: (what) => passwordAsk(what),
    });

    function say(text, kind) {
        stateEl.textContent = text;
        stateEl.className = "app-state " + (kind || "");
    }

    function show() {
        q(".connect").textContent = connected ? "Disconnect" : "Connect";
        q(".app-tools").hidden = !connected;
        q(".app-body").hidden = !connected;
        host.classList.toggle("connected", connected);
    }

    async function device() {
        const d = await Api.get(Api.meter(meter.id));
        const info = appFlatten(Object.assign({}, meter, d && d.meter ? d.meter : d), "");
        const seen = new Set();
        q(".device dl").innerHTML = APP_DEVICE_FIELDS.filter(([k, l]) => {
            if (info[k] === undefined || info[k] === null || seen.has(l)) return false;
            seen.add(l);
            return true;
        })
            .map(([k, l]) => `<dt>${l}</dt><dd data-key="${k}">${appEscape(appDeviceValue(k, info[k]))}</dd>`)
            .join("");
        meter.serial = info.serial;
        meter.variant = info.variant;
    }

    async function refresh() {
        try {
            last = await Api.get(Api.meter(meter.id, "/readings"));
            readingsShow(host, last);
            return last;
        } catch (e) {
            say("cannot read the values: " + e.message, "error");
            throw e;
        }
    }

    async function open() {
        await device();
        await refresh();
        await settings.reload(false);
    }

    async function connect() {
        say("connecting…", "");
        try {
            await Api.post(Api.meter(meter.id, "/connect"));
        } catch (e) {
            connected = false;
            show();
            if (e.status === 409)
                say("Cannot connect: Bluetooth is off on this meter. Switch it on in the meter's menu " +
                    "(hold the middle button 3 s, then bt on; manual 6.5).", "error");
            else say("Cannot connect: " + e.message, "error");
            hooks.changed();
            return;
        }
        connected = true;
        show();
        say("connected", "ok");
        hooks.changed();
        try {
            await open();
        } catch (e) {
            say("connected, but reading failed: " + e.message, "error");
        }
    }

    async function disconnect() {
        try {
            await Api.post(Api.meter(meter.id, "/disconnect"));
        } catch (e) {
            say("Cannot disconnect: " + e.message, "error");
            return;
        }
        connected = false;
        show();
        say("disconnected", "");
        hooks.changed();
    }

    q(".connect").addEventListener("click", () => (connected ? disconnect() : connect()));
    q(".refresh").addEventListener("click", () => refresh().catch(() => {}));
    q(".save").addEventListener("click", async () => {
        try {
            const data = await refresh();
            savefileSave(meter, data);
            say("meter data saved", "ok");
        } catch (e) {
            /* refresh() said why */
        }
    });
    show();
    if (connected) open().catch((e) => say(e.message, "error"));
    else say("not connected", "");

    return {
        // The meter list says the link changed (e.g. Bluetooth switched off
        // on the meter, which drops the connection).
        setConnected(c) {
            if (c === connected) return;
            connected = c;
            show();
            if (c) open().catch((e) => say(e.message, "error"));
            else say("not connected", "");
        },
        get connected() {
            return connected;
        },
        get last() {
            return last;
        },
    };
}
