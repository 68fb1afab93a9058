// settings: "Change settings" (manual A4.6). Every setting the meter reports
// (GET /api/meters/{id}/settings) in one form; a changed one is highlighted in
// green, as in the app. "Save" next to a setting saves that one, "Save all
// changes" saves every changed one at once; both ask first for the meter's
// password (the button menu's, 6.6.1; default 0000) and send
// PUT {"password", "settings": {...}}. A wrong password is refused by the
// meter (403) and nothing changes; the page says so. The password itself is
// shown but not editable: "can only be changed on the meter using the keys"
// (A4.6, 6.6.1).
"use strict";

// Names, sections and choices of the settings (core/settings.h, the scenario's
// names, docs/scenario.md). A setting the meter reports that is not listed
// here is still shown, as a number.
const SETTINGS_FIELDS = [
    { key: "bluetooth", label: "Bluetooth (6.5)", choices: [[0, "off"], [1, "on"]] },
    { key: "password", label: "Password (6.6.1)", readonly: true },
    { key: "tariff", label: "Tariff (6.6.2)", choices: [[1, "T1"], [2, "T2"], [3, "T3"], [4, "T4"]] },
    {
        key: "s0_rate", label: "S0 output rate, imp/kWh (6.6.3)",
        choices: [[1000000, "10000"], [200000, "2000"], [100000, "1000"], [10000, "100"],
            [1000, "10"], [100, "1"], [10, "0.1"], [1, "0.01"]],
    },
    { key: "pulse_type", label: "Pulse type (6.6.4)", choices: [[1, "active / reactive"], [2, "forward / reverse"]] },
    { key: "pulse_width", label: "Pulse width, ms (6.6.5)", min: 2, max: 99 },
    { key: "modbus_id", label: "Modbus ID (6.6.6)", min: 1, max: 247 },
    {
        key: "modbus_baud", label: "Modbus baud rate (6.6.7)",
        choices: [[1, "300"], [2, "600"], [3, "1200"], [4, "2400"], [5, "4800"], [6, "9600"],
            [7, "19200"], [8, "38400"], [9, "57600"], [10, "115200"]],
    },
    { key: "modbus_parity", label: "Parity (6.6.8)", choices: [[1, "even"], [2, "none"], [3, "odd"]] },
    { key: "mbus_id", label: "M-Bus primary address (6.6.9)", min: 0, max: 250 },
    {
        key: "mbus_baud", label: "M-Bus baud rate (6.6.10)",
        choices: [[300, "300"], [600, "600"], [1200, "1200"], [2400, "2400"], [4800, "4800"], [9600, "9600"]],
    },
    { key: "mbus_secondary", label: "M-Bus secondary address (A2.1)", min: 0, max: 99999999 },
    { key: "backlight", label: "Backlight (6.6.11)", choices: [[0, "off"], [1, "on"], [2, "button"]] },
    { key: "obis", label: "OBIS codes (6.6.14)", choices: [[0, "off"], [1, "on"]] },
    {
        key: "combination_code", label: "Combination code (6.6.15)",
        choices: [[1, "C-01"], [2, "C-02"], [3, "C-03"], [4, "C-04"], [5, "C-05"]],
    },
    { key: "lcd_cycle", label: "LCD cycle time, s (A3.3)", min: 1, max: 30 },
    { key: "data_type", label: "Data type (A3.3)", choices: [[1, "standard (float)"], [2, "integer"]] },
    { key: "screen_direction", label: "Screen direction (A3.3)", choices: [[0, "standard"], [1, "180°"]] },
    { key: "ct_primary", label: "CT primary, A (A3.3)", min: 5, max: 9995 },
];

// A setting's row description; one the page does not know is a plain number.
function settingsFieldFor(key) {
    return SETTINGS_FIELDS.find((f) => f.key === key) || { key, label: key, min: 0, max: 4294967295 };
}

// The settings form of one meter in `host`. `load()` reads the meter's
// settings, `save(password, changes)` writes them; `ask()` resolves to the
// password typed or null.
function settingsCreate(host, io) {
    let current = {};
    host.innerHTML = `
      <form class="settings-form" novalidate>
        <table><tbody></tbody></table>
        <div class="settings-actions">
          <button type="button" class="save-all">Save all changes</button>
          <button type="button" class="reload">Reload</button>
          <span class="settings-msg" role="status"></span>
        </div>
      </form>`;
    const body = host.querySelector("tbody");
    const msg = host.querySelector(".settings-msg");

    function say(text, kind) {
        msg.textContent = text;
        msg.className = "settings-msg " + (kind || "");
    }

    function inputFor(f, value) {
        // The password is never shown (the menu too shows "PASS ----", 6.6.1).
        if (f.readonly) return `<input data-key="${f.key}" value="----" readonly title="changed only with the meter's keys (A4.6)">`;
        if (f.choices) {
            const known = f.choices.some(([v]) => v === value);
            const opts = (known ? f.choices : f.choices.concat([[value, String(value)]]))
                .map(([v, l]) => `<option value="${v}"${v === value ? " selected" : ""}>${l}</option>`)
                .join("");
            return `<select data-key="${f.key}">${opts}</select>`;
        }
        return `<input type="number" data-key="${f.key}" min="${f.min}" max="${f.max}" step="1" value="${value}">`;
    }

    function render(values) {
        current = Object.assign({}, values);
        const keys = SETTINGS_FIELDS.map((f) => f.key).filter((k) => k in values);
        for (const k of Object.keys(values)) if (!keys.includes(k) && typeof values[k] === "number") keys.push(k);
        body.innerHTML = keys
            .map((k) => {
                const f = settingsFieldFor(k);
                const save = f.readonly ? "" : `<button type="button" class="save-one" data-key="${k}">Save</button>`;
                return `<tr data-key="${k}"><th scope="row"><label>${f.label}</label></th><td>${inputFor(f, values[k])}</td><td>${save}</td></tr>`;
            })
            .join("");
        for (const el of body.querySelectorAll("[data-key]:is(input, select)"))
            el.addEventListener(el.tagName === "SELECT" ? "change" : "input", () => mark(el));
        for (const b of body.querySelectorAll(".save-one"))
            b.addEventListener("click", () => {
                const ch = changes();
                if (!(b.dataset.key in ch)) {
                    say(`${settingsFieldFor(b.dataset.key).label}: not changed`, "");
                    return;
                }
                commit({ [b.dataset.key]: ch[b.dataset.key] });
            });
    }

    function valueOf(el) {
        return Number(el.value);
    }

    // A changed setting is highlighted in green (A4.6).
    function mark(el) {
        const changed = valueOf(el) !== current[el.dataset.key];
        el.closest("tr").classList.toggle("changed", changed);
    }

    function changes() {
        const out = {};
        for (const el of body.querySelectorAll("[data-key]:is(input, select)")) {
            if (el.readOnly) continue;
            const v = valueOf(el);
            if (v !== current[el.dataset.key]) out[el.dataset.key] = v;
        }
        return out;
    }

    async function commit(ch) {
        const names = Object.keys(ch);
        if (!names.length) {
            say("nothing changed", "");
            return;
        }
        const password = await io.ask(names.map((k) => settingsFieldFor(k).label).join(", "));
        if (password === null) {
            say("not saved", "");
            return;
        }
        const pending = changes(); // edits not saved now stay edits
        try {
            await io.save(password, ch);
            await reload(true);
            for (const [k, v] of Object.entries(pending)) {
                const el = body.querySelector(`[data-key="${k}"]:is(input, select)`);
                if (k in ch || !el) continue;
                el.value = String(v);
                mark(el);
            }
            say(`saved: ${names.join(", ")}`, "ok");
        } catch (e) {
            if (e.status === 403) say("wrong password: nothing was changed", "error");
            else say("refused: " + e.message, "error");
        }
    }

    async function reload(keepMsg) {
        try {
            const data = await io.load();
            render(data && data.settings ? data.settings : data || {});
            if (!keepMsg) say("", "");
        } catch (e) {
            say("cannot read the settings: " + e.message, "error");
        }
    }

    host.querySelector(".save-all").addEventListener("click", () => commit(changes()));
    host.querySelector(".reload").addEventListener("click", () => reload(false));
    return { reload, changes };
}
