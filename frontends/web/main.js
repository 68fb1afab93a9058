// main: puts the page together. The meter list on top; for the chosen meter
// (#meter=ID in the address, so a link opens it) its front (front.js), its
// live controls (controls.js), its memory (memory.js) and the app's functions
// (app.js). The front
// follows the twin through the meter's event stream: "lcd" redraws the glass
// from the core's display state, "indicators" the LED and S0 outputs,
// "readings" the live values. The list and the physics are read again when a
// connection changes and every few seconds (a setting changed in the menu, a
// scenario's timeline).
"use strict";

const Main = {
    meters: [],
    selected: null,
    view: null, // {id, front, controls, app, events}
};

function mainSelected() {
    const m = /meter=([^&]+)/.exec(location.hash);
    return m ? decodeURIComponent(m[1]) : null;
}

function mainStatus(text, kind) {
    const el = document.getElementById("status");
    el.textContent = text;
    el.className = kind || "";
}

async function mainRefreshList() {
    try {
        Main.meters = await metersLoad();
    } catch (e) {
        mainStatus("cannot list the meters: " + e.message, "error");
        return;
    }
    if (!Main.selected && Main.meters.length) Main.selected = String(Main.meters[0].id);
    metersRender(document.getElementById("meters"), Main.meters, Main.selected, (id) => {
        location.hash = "meter=" + encodeURIComponent(id);
    });
    const m = Main.meters.find((x) => String(x.id) === String(Main.selected));
    if (Main.view && m && Main.view.id === String(m.id)) {
        Main.view.app.setConnected(!!m.connected);
        Main.view.physics(); /* a scenario's timeline may have changed it */
        Main.view.memory();
    }
    else if (m) mainOpen(m);
}

// The LED and S0 lines as {led, s0: [a, b]}, whatever names the event uses.
// The API sends {s0_1: {on, pulses}, s0_2: {...}, led: {...}}; plain
// booleans are taken too.
function mainIndicators(d) {
    const on = (x) => !!(x && typeof x === "object" ? x.on : x);
    const s0 = Array.isArray(d.s0) ? d.s0 : [d.s0_1, d.s0_2];
    return { led: on(d.led), s0: s0.map(on) };
}

function mainOpen(meter) {
    if (Main.view && Main.view.events) Main.view.events.close();
    const panel = document.getElementById("panel");
    panel.innerHTML = `
      <section class="front-host" aria-label="front panel"></section>
      <section class="side">
        <h2 class="meter-title"></h2>
        <div class="controls"></div>
        <div class="live-host"></div>
        <h2>Memory (7.1)</h2>
        <div class="memory"></div>
        <h2>Bluetooth app</h2>
        <div class="app"></div>
      </section>`;
    panel.querySelector(".meter-title").textContent = `${meter.name || meter.id} — ${meter.variant || ""} ${meter.serial || ""}`;
    const id = String(meter.id);
    const toucher = frontToucher((button, action, ms) =>
        Api.post(Api.meter(id, "/buttons"), ms === undefined ? { button, action } : { button, action, ms }).catch((e) => {
            mainStatus("button refused: " + e.message, "error");
            throw e;
        }));
    const front = frontCreate(panel.querySelector(".front-host"), toucher);
    const controls = controlsCreate(panel.querySelector(".controls"), (body) =>
        Api.post(Api.meter(id, "/physics"), body).catch((e) => {
            mainStatus("control refused: " + e.message, "error");
            throw e;
        }));
    const memory = memoryCreate(panel.querySelector(".memory"), {
        fault: (fault) => Api.post(Api.meter(id, "/faults"), { fault }),
        save: () => Api.post(Api.meter(id, "/save")),
        state: () => Api.get(Api.meter(id)),
    });
    const app = appCreate(panel.querySelector(".app"), meter, { changed: mainRefreshList });
    const ind = { led: false, s0: [false, false] };
    let lcdState = null;
    const redrawIndicators = () =>
        front.setIndicators(ind, lcdPower(lcdState) !== "off", controls.state.tariffInput);

    Main.view = { id, front, controls, app, events: null };
    front.setLcd(null);
    redrawIndicators();
    Api.get(Api.meter(id, "/lcd"))
        .then((d) => {
            lcdState = d.display || d;
            front.setLcd(lcdState, d.text);
            redrawIndicators();
        })
        .catch((e) => mainStatus("cannot read the LCD: " + e.message, "error"));
    Main.view.physics = () =>
        Api.get(Api.meter(id, "/physics"))
            .then((p) => controls.adopt(p))
            .catch(() => {});
    Main.view.physics();
    Main.view.memory = () =>
        Api.get(Api.meter(id))
            .then((d) => memory.show(d))
            .catch(() => {});
    Api.get(Api.meter(id))
        .then((d) => d && d.article && front.setArticle(d.article))
        .catch(() => {});

    Main.view.events = Api.events(
        id,
        {
            lcd: (d) => {
                lcdState = d.display || d;
                front.setLcd(lcdState, d.text);
                redrawIndicators();
            },
            indicators: (d) => {
                Object.assign(ind, mainIndicators(d));
                if (d.tariff_input !== undefined) controls.state.tariffInput = !!d.tariff_input;
                redrawIndicators();
            },
            readings: (d) => liveShow(panel.querySelector(".live-host"), d),
        },
        (open) => mainStatus(open ? "live" : "event stream lost, retrying…", open ? "ok" : "error")
    );
    mainKeys(toucher);
}

// The SDL window's keys for the three buttons: Left, Down/Return/Space,
// Right, with their press and release edges (auto-repeat ignored).
function mainKeys(toucher) {
    const names = { ArrowLeft: "left", ArrowDown: "middle", Enter: "middle", " ": "middle", ArrowRight: "right" };
    document.onkeydown = (ev) => {
        const b = names[ev.key];
        if (!b || ev.target.closest("input, select, textarea, button, dialog")) return;
        ev.preventDefault();
        if (!ev.repeat) toucher.down(b);
    };
    document.onkeyup = (ev) => {
        const b = names[ev.key];
        if (b) toucher.up(b);
    };
}

window.addEventListener("hashchange", () => {
    Main.selected = mainSelected();
    const m = Main.meters.find((x) => String(x.id) === String(Main.selected));
    if (m) mainOpen(m);
    metersRender(document.getElementById("meters"), Main.meters, Main.selected, (id) => {
        location.hash = "meter=" + encodeURIComponent(id);
    });
});

window.addEventListener("DOMContentLoaded", () => {
    Main.selected = mainSelected();
    mainRefreshList();
    setInterval(mainRefreshList, 5000);
});
