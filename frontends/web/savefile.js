// savefile: "Save meter data" (manual A4.5): the values of A4.4 written to a
// file the browser downloads, as CSV and as JSON, named after the meter's
// serial number and the time of saving: 13070001_20261202T181500Z.csv. The
// files hold the meter's identity (variant, serial), the meter time of the
// values (t_ns) and every row of "Energy" and "Instantaneous" with its label,
// unit and unrounded value, so a spreadsheet gets what the app shows.
"use strict";

// 2026-12-02T18:15:00.123Z -> 20261202T181500Z (no ':' for file systems).
function savefileStamp(date) {
    return date.toISOString().replace(/\.\d+Z$/, "Z").replace(/[-:]/g, "");
}

function savefileName(serial, date, ext) {
    const safe = String(serial || "meter").replace(/[^0-9A-Za-z_-]/g, "_");
    return `${safe}_${savefileStamp(date)}.${ext}`;
}

// A CSV field, quoted when it needs to be (RFC 4180).
function savefileCsvField(v) {
    const s = v === null || v === undefined ? "" : String(v);
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

function savefileCsv(meter, data, date) {
    const lines = [["section", "key", "label", "value", "unit"].join(",")];
    for (const [section, rows] of [["Energy", data.energy], ["Instantaneous", data.instantaneous]])
        for (const r of rows || [])
            lines.push([section, r.key, r.label, r.value, r.unit].map(savefileCsvField).join(","));
    const head = [
        `# serial,${savefileCsvField(meter.serial)}`,
        `# variant,${savefileCsvField(meter.variant)}`,
        `# saved,${date.toISOString()}`,
        `# t_ns,${data.t_ns}`,
    ];
    return head.concat(lines).join("\r\n") + "\r\n";
}

function savefileJson(meter, data, date) {
    return JSON.stringify(
        {
            serial: meter.serial,
            variant: meter.variant,
            name: meter.name,
            saved: date.toISOString(),
            t_ns: data.t_ns,
            energy: data.energy,
            instantaneous: data.instantaneous,
        },
        null,
        2
    ) + "\n";
}

function savefileDownload(name, text, type) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// Both files, of the same values and the same instant.
function savefileSave(meter, data) {
    const date = new Date();
    savefileDownload(savefileName(meter.serial, date, "csv"), savefileCsv(meter, data, date), "text/csv");
    savefileDownload(savefileName(meter.serial, date, "json"), savefileJson(meter, data, date), "application/json");
}
