// readings: the app's "Energy" and "Instantaneous" lists (manual A4.4), as
// GET /api/meters/{id}/readings and the "readings" event give them: rows of
// {key, label, value, unit}, in the manual's order, with its labels and units
// ("Total active energy ... kWh", "L1 Voltage ... V"). The page adds nothing
// and leaves nothing out; it only formats the numbers: energies to the Wh
// (3 decimals, as the LCD's 6 + 3 digits, 6.2), voltage and frequency to 2
// decimals (A4.4's own "227.57 V"), current and power to 3.
"use strict";

const READINGS_DECIMALS = { kWh: 3, kvarh: 3, V: 2, Hz: 2, A: 3, kW: 3, kvar: 3, kVA: 3 };

function readingsFormat(value, unit) {
    if (typeof value !== "number" || !Number.isFinite(value)) return "–";
    const d = READINGS_DECIMALS[unit] === undefined ? 3 : READINGS_DECIMALS[unit];
    return value.toFixed(d);
}

function readingsEscape(s) {
    return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

// One list as table rows: label, value, unit; data-key for tests and styles.
function readingsRows(rows) {
    return (rows || [])
        .map(
            (r) =>
                `<tr data-key="${readingsEscape(r.key)}"><th scope="row">${readingsEscape(r.label)}</th>` +
                `<td class="num">${readingsFormat(r.value, r.unit)}</td><td class="unit">${readingsEscape(r.unit)}</td></tr>`
        )
        .join("");
}

// Fills the two tables of `host` from a readings answer.
function readingsShow(host, data) {
    host.querySelector(".energy tbody").innerHTML = readingsRows(data.energy);
    host.querySelector(".instantaneous tbody").innerHTML = readingsRows(data.instantaneous);
    const t = host.querySelector(".readings-time");
    if (t) t.textContent = readingsTime(data);
}

// The meter's time of the values, as the twin gives it (t_ns, virtual time
// since the start) and the wall clock of the browser when they came.
function readingsTime(data) {
    const s = typeof data.t_ns === "number" ? (data.t_ns / 1e9).toFixed(1) + " s" : "?";
    return `meter time ${s}, read ${new Date().toLocaleTimeString()}`;
}
