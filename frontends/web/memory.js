// memory: the meter's memory as a trainer demonstrates it (manual 7.1). "All
// measurement values are stored twice with the accompanying checksums": a
// power cycle through the memory image with one of the faults of
// docs/scenario.md (POST /api/meters/{id}/faults) shows what the power-up
// finds, the error byte decoded bit by bit in the manual's words, and whether
// the meter runs on (one copy sound) or stops with "Err XX" on the glass.
// "Save now" writes the memory into the state file (POST .../save; without
// --state the twin answers 409 and the page says why).
"use strict";

// 7.1, bit by bit, as the manual words them.
const MEMORY_BITS = [
    "The data in the main storage area and backup area of the battery is wrong or cannot be operated.",
    "The battery mantissa area cannot be operated.",
    "The battery backup area cannot be operated.",
    "The main battery storage area cannot be operated.",
    "Data error in the battery mantissa area.",
    "Data error in the battery backup area (integer bit).",
    "Data error in the main battery storage area (integer bit).",
    "EEPROM cannot be fully initialized.",
];

// The API's faults (docs/scenario.md, "fault"), with what each does to the
// image the next power-up reads.
const MEMORY_FAULTS = [
    ["restart", "none: a plain power cycle"],
    ["corrupt_main", "main copy corrupt"],
    ["corrupt_backup", "backup copy corrupt"],
    ["corrupt_mantissa", "mantissa area corrupt"],
    ["main_unusable", "main area unusable"],
    ["backup_unusable", "backup area unusable"],
    ["mantissa_unusable", "mantissa area unusable"],
    ["corrupt_both", "both copies corrupt"],
    ["storage_unusable", "storage unusable"],
    ["eeprom_init", "EEPROM not initialised"],
];

function memoryHex(b) {
    return (b & 0xff).toString(16).toUpperCase().padStart(2, "0");
}

// api: {fault(name), state()}: promises of {error, stopped}; save().
function memoryCreate(host, api) {
    host.innerHTML = `
      <div class="ctl-row">
        <select data-mem="fault" aria-label="fault found at the power-up">
          ${MEMORY_FAULTS.map(([k, l]) => `<option value="${k}">${l}</option>`).join("")}
        </select>
        <button type="button" data-mem="cycle">Power cycle</button>
        <button type="button" data-mem="save" title="Write the meter's memory into its state file (--state)">Save now</button>
      </div>
      <p class="mem-state" role="status"></p>
      <ul class="mem-bits"></ul>
      <p class="mem-msg" role="status"></p>`;
    const q = (s) => host.querySelector(s);

    function say(text, kind) {
        q(".mem-msg").textContent = text;
        q(".mem-msg").className = "mem-msg " + (kind || "");
    }

    // The byte of the last power-up and what it means (GET /api/meters/{id}
    // and the fault's reply: error, stopped).
    function show(s) {
        if (!s || typeof s.error !== "number") return;
        const b = s.error & 0xff;
        const state = q(".mem-state");
        state.dataset.error = memoryHex(b);
        state.dataset.stopped = s.stopped ? "yes" : "no";
        state.textContent = `error byte ${memoryHex(b)}: ` +
            (s.stopped ? `the meter stopped and shows Err ${memoryHex(b)}`
                : b ? "the meter runs on, from the sound copy"
                    : "the memory is sound");
        state.className = "mem-state " + (b ? "error" : "");
        q(".mem-bits").innerHTML = MEMORY_BITS.map((t, i) =>
            (b >> i) & 1 ? `<li data-bit="${i}">bit${i}: ${t}</li>` : "").join("");
    }

    q('[data-mem="cycle"]').addEventListener("click", async () => {
        const fault = q('[data-mem="fault"]').value;
        say("power cycle…", "");
        try {
            show(await api.fault(fault));
            say(`power cycled (${fault})`, "ok");
        } catch (e) {
            say("power cycle refused: " + e.message, "error");
        }
    });
    q('[data-mem="save"]').addEventListener("click", async () => {
        try {
            await api.save();
            say("saved to the state file", "ok");
        } catch (e) {
            say("not saved: " + e.message, "error");
        }
    });
    api.state().then(show, () => {});
    return { show };
}
