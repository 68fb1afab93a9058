// controls: the scenario's live controls beside the front, as in the SDL
// window's panel: supply per phase (manual 4: the meter is powered from its
// phases), the tariff input (230 V on terminals 10/11, A1.1), the load per
// phase in A, and the direction of the flow (import, forward; export,
// reverse), which the API sets for the three phases together; beside them
// what the API also takes: voltage and power factor per phase (cos phi,
// negative: capacitive) and the grid frequency. Each
// change is one POST /api/meters/{id}/physics (docs/http.md); the twin logs
// it as a timeline event. The values shown are what was last set here or
// read back from the meter.
"use strict";

const CONTROLS_PHASES = ["L1", "L2", "L3"];

function controlsCreate(host, send) {
    const state = {
        supply: [true, true, true],
        current: [0, 0, 0],
        voltage: [230, 230, 230],
        pf: [1, 1, 1],
        frequency: 50,
        direction: "import", // "import", "export", or "mixed" (a scenario's phases differ)
        tariffInput: false,
    };
    host.innerHTML = `
      <div class="ctl-row">
        <button type="button" class="toggle" data-ctl="tariff">tariff input</button>
        <span class="hint">terminals 10/11 (A1.1)</span>
      </div>
      <table class="ctl-phases">
        <thead><tr><th></th><th>supply</th><th colspan="3">load</th><th>voltage</th><th>PF</th></tr></thead>
        <tbody>${CONTROLS_PHASES.map((p, i) => `
          <tr data-phase="${i}">
            <th>${p}</th>
            <td><button type="button" class="toggle" data-ctl="supply">supply</button></td>
            <td><button type="button" data-ctl="minus" aria-label="${p} -1 A">&minus;</button></td>
            <td><input type="number" data-ctl="current" min="0" max="65" step="0.1" aria-label="${p} current, A"> A</td>
            <td><button type="button" data-ctl="plus" aria-label="${p} +1 A">+</button></td>
            <td><input type="number" data-ctl="voltage" min="0" max="276" step="0.1" aria-label="${p} voltage, V"> V</td>
            <td><input type="number" data-ctl="pf" min="-1" max="1" step="0.01" aria-label="${p} power factor"></td>
          </tr>`).join("")}
        </tbody>
      </table>
      <div class="ctl-row"><label>grid frequency <input type="number" data-ctl="frequency" min="45" max="65" step="0.01"> Hz</label></div>
      <div class="ctl-row"><button type="button" class="toggle" data-ctl="direction">import</button>
        <span class="hint">direction of the flow, all phases</span></div>
      <div class="ctl-row"><button type="button" data-ctl="all-off">all supply off</button>
        <button type="button" data-ctl="all-on">all supply on</button></div>`;

    const q = (sel) => host.querySelector(sel);
    const row = (i) => host.querySelector(`tr[data-phase="${i}"]`);

    function show() {
        const d = q('[data-ctl="direction"]');
        d.classList.toggle("rev", state.direction === "export");
        d.textContent = { import: "import (forward)", export: "export (reverse)", mixed: "mixed" }[state.direction] || state.direction;
        const t = q('[data-ctl="tariff"]');
        t.classList.toggle("on", state.tariffInput);
        t.textContent = state.tariffInput ? "tariff input 230 V" : "tariff input 0 V";
        for (let i = 0; i < 3; i++) {
            const r = row(i);
            const s = r.querySelector('[data-ctl="supply"]');
            s.classList.toggle("on", state.supply[i]);
            s.textContent = state.supply[i] ? "on" : "off";
            const put = (ctl, v, d) => {
                const el = r.querySelector(`[data-ctl="${ctl}"]`);
                if (document.activeElement !== el) el.value = Number(v).toFixed(d);
            };
            put("current", state.current[i], 1);
            put("voltage", state.voltage[i], 1);
            put("pf", state.pf[i], 2);
        }
        const f = q('[data-ctl="frequency"]');
        if (document.activeElement !== f) f.value = Number(state.frequency).toFixed(2);
    }

    // Sends a change; the answer is the meter's physics after it.
    function apply(body) {
        send(body).then((p) => adopt(p), show);
        show();
    }

    function adopt(p) {
        if (!p) return show();
        const three = (v) => (Array.isArray(v) ? v : [v, v, v]);
        if (p.supply !== undefined) state.supply = three(p.supply).map(Boolean);
        if (p.current !== undefined) state.current = three(p.current).map(Number);
        if (p.voltage !== undefined) state.voltage = three(p.voltage).map(Number);
        if (p.pf !== undefined) state.pf = three(p.pf).map(Number);
        if (typeof p.frequency === "number") state.frequency = p.frequency;
        if (typeof p.direction === "string") state.direction = p.direction;
        if (p.tariff_input !== undefined) state.tariffInput = !!p.tariff_input;
        show();
    }

    q('[data-ctl="tariff"]').addEventListener("click", () => {
        state.tariffInput = !state.tariffInput;
        apply({ tariff_input: state.tariffInput });
    });
    q('[data-ctl="all-off"]').addEventListener("click", () => {
        state.supply = [false, false, false];
        apply({ supply: state.supply.slice() });
    });
    q('[data-ctl="all-on"]').addEventListener("click", () => {
        state.supply = [true, true, true];
        apply({ supply: state.supply.slice() });
    });
    for (let i = 0; i < 3; i++) {
        const r = row(i);
        r.querySelector('[data-ctl="supply"]').addEventListener("click", () => {
            state.supply[i] = !state.supply[i];
            apply({ supply: state.supply.slice() });
        });
        const setCurrent = (a) => {
            state.current[i] = Math.max(0, Math.min(65, Math.round(a * 10) / 10));
            apply({ current: state.current.slice() });
        };
        r.querySelector('[data-ctl="minus"]').addEventListener("click", () => setCurrent(state.current[i] - 1));
        r.querySelector('[data-ctl="plus"]').addEventListener("click", () => setCurrent(state.current[i] + 1));
        r.querySelector('[data-ctl="current"]').addEventListener("change", (ev) => {
            const a = parseFloat(ev.target.value);
            if (Number.isFinite(a)) setCurrent(a);
        });
        // One phase changed, the others left as they are (null).
        for (const key of ["voltage", "pf"])
            r.querySelector(`[data-ctl="${key}"]`).addEventListener("change", (ev) => {
                const v = parseFloat(ev.target.value);
                if (!Number.isFinite(v)) return show();
                const arr = [null, null, null];
                arr[i] = v;
                apply({ [key]: arr });
            });
    }
    q('[data-ctl="frequency"]').addEventListener("change", (ev) => {
        const hz = parseFloat(ev.target.value);
        if (Number.isFinite(hz)) apply({ frequency: hz });
        else show();
    });
    q('[data-ctl="direction"]').addEventListener("click", () => {
        state.direction = state.direction === "import" ? "export" : "import";
        apply({ direction: state.direction });
    });
    show();

    return {
        state,
        show,
        // Takes what the meter says it has (physics as the API reports it).
        adopt,
    };
}
