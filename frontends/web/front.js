// front: the meter's front in SVG, as the SDL window draws it
// (frontends/sdl/sdl_view.c, draw_meter): the housing with its terminals, the
// red pulse LED, the glass (lcd.js), the three capacitive touch buttons
// (6.4) and the two S0 outputs (6.6.3). Same 485 x 640 canvas units as the
// window's left half.
//
// Buttons: pressing the pointer (or a key, main.js) sends the press edge
// ("down"), letting go the release ("up"), so a button is held exactly as
// long as the pointer is down and the menu opens while it is still held, at
// 3 s (6.4). Where the API takes only whole touches, the page falls back to
// sending, on letting go, a "press" (shorter than 0.5 s) or a "hold" of that
// many ms. Keys as in the SDL window: Left, Down / Return / Space, Right.
"use strict";

const FRONT_INK = "rgb(40,44,48)";
const FRONT_BUTTONS = [
    { name: "left", x: 85, y: 350, w: 90, h: 52, sym: "<<" },
    { name: "middle", x: 200, y: 350, w: 90, h: 52, sym: "" },
    { name: "right", x: 315, y: 350, w: 90, h: 52, sym: ">>" },
];
// A pointer held at least this long is sent as a hold, not a press.
const FRONT_HOLD_MS = 500;

// A circle as the SDL view draws it: a 16-sided polygon.
function frontCircle(pen, cx, cy, r, fill) {
    const xy = [];
    for (let i = 0; i < 16; i++) xy.push(cx + r * Math.cos((i * 2 * Math.PI) / 16), cy + r * Math.sin((i * 2 * Math.PI) / 16));
    pen.poly(xy, fill);
}

function frontTerminal(pen, x, y, w, label) {
    pen.rect(x, y, w, w * 0.9, "rgb(70,74,78)");
    pen.rect(x + w * 0.2, y + w * 0.15, w * 0.6, w * 0.35, "rgb(20,22,24)");
    pen.rect(x + w * 0.25, y + w * 0.58, w * 0.5, w * 0.22, "rgb(240,128,20)");
    const f = Math.fround; /* single precision, as sdl_view.c */
    const tw = f(f(label.length * 6 * f(1.4)) - f(1.4));
    pen.text(f(x + f(f(w - tw) / 2)), f(f(y + f(w * f(0.9))) + 4), 1.4, label, FRONT_INK);
}

// The housing: drawn once (it never changes).
function frontHousingMarkup() {
    const pen = new LcdPen();
    pen.rect(0, 0, 485, 640, "rgb(96,102,110)");
    pen.rect(0, 300, 485, 40, "rgb(160,164,168)");
    pen.rect(24, 26, 450, 600, "rgba(0,0,0,0.235)");
    pen.rect(20, 20, 450, 600, "rgb(214,216,214)");
    pen.rect(20, 20, 450, 110, "rgb(188,190,188)");
    pen.rect(20, 490, 450, 130, "rgb(188,190,188)");
    ["L1", "L2", "L3", "N"].forEach((s, i) => frontTerminal(pen, 60 + i * 100, 34, 54, s));
    ["4", "5", "6", "7", "8", "9", "10", "11"].forEach((s, i) => frontTerminal(pen, 62 + i * 47, 520, 28, s));
    ["L1", "L2", "L3", "N"].forEach((s, i) => pen.text(80 + i * 100, 602, 1.4, s, FRONT_INK));
    pen.text(45, 140, 2.4, "WAGO", "rgb(20,60,120)");
    pen.text(392, 145, 1.2, "imp", FRONT_INK);
    pen.text(90, 470, 1.4, "3x230/400V  65A  50Hz", FRONT_INK);
    return pen.out.join("");
}

function frontButtonMarkup(b, held) {
    const pen = new LcdPen();
    pen.rect(b.x, b.y, b.w, b.h, held ? "rgb(170,176,180)" : "rgb(196,199,199)");
    pen.frame(b.x, b.y, b.w, b.h, 1.5, "rgb(150,152,152)");
    pen.rect(b.x + b.w - 26, b.y + b.h - 7, 20, 3, "rgb(40,170,60)");
    if (b.sym) pen.textCentered(b.x, b.y, b.w, b.h, 2.4, b.sym, FRONT_INK);
    else frontCircle(pen, b.x + b.w / 2, b.y + b.h / 2, 7, FRONT_INK);
    return pen.out.join("");
}

// The LED and S0 outputs; `ind` = {led, s0: [s0_1, s0_2]}, `supply` false
// darkens them (a meter without supply pulses nothing), `t2` the tariff input.
function frontIndicatorsMarkup(ind, supply, t2) {
    const pen = new LcdPen();
    const led = supply && ind.led;
    frontCircle(pen, 430, 148, 8, "rgb(60,20,20)");
    frontCircle(pen, 430, 148, 6, led ? "rgb(255,40,30)" : "rgb(110,30,30)");
    if (led) frontCircle(pen, 430, 148, 12, "rgba(255,60,40,0.275)");
    for (let i = 0; i < 2; i++) {
        const on = supply && ind.s0[i];
        frontCircle(pen, 90 + i * 150, 440, 7, on ? "rgb(60,220,80)" : "rgb(90,100,90)");
        pen.text(90 + i * 150 + 14, 435, 1.6, i === 0 ? "S0-1" : "S0-2", FRONT_INK);
    }
    pen.text(330, 435, 1.6, t2 ? "10/11: 230V" : "10/11: 0V", FRONT_INK);
    return pen.out.join("");
}

// Sends button edges, or whole touches where the API has no edges.
// `send(name, action, ms)` returns the API call's promise.
// The calls go one after the other, each when the one before was answered:
// two requests in flight could overtake each other on two connections, and a
// release would come before its press.
function frontToucher(send) {
    let edges = true;
    let chain = Promise.resolve();
    const down = {};
    const queue = (fn) => {
        chain = chain.then(fn).catch(() => {});
    };
    return {
        down(name) {
            down[name] = performance.now();
            queue(() =>
                edges
                    ? send(name, "down").catch((e) => {
                          if (e.status === 400) edges = false; /* an API without edges */
                      })
                    : null
            );
        },
        up(name) {
            if (!down[name]) return;
            const ms = Math.max(1, Math.round(performance.now() - down[name]));
            down[name] = 0;
            queue(() => (edges ? send(name, "up") : send(name, ms >= FRONT_HOLD_MS ? "hold" : "press", ms)));
        },
    };
}

// The front of one meter in `host`; `toucher` (frontToucher) sends the
// touches. Returns {setLcd(state, text), setIndicators(ind, supply, t2),
// setArticle(text)}.
function frontCreate(host, toucher) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 485 640");
    svg.setAttribute("class", "front");
    // Edges on whole pixels, as SDL draws them (no anti-aliasing): the
    // pictures of the two frontends then compare pixel for pixel.
    svg.setAttribute("shape-rendering", "crispEdges");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "the meter's front panel");
    svg.innerHTML =
        frontHousingMarkup() +
        `<g class="article"></g>` +
        `<g class="lcd" transform="translate(45 170)"></g>` +
        `<g class="indicators"></g>`;
    const lcd = svg.querySelector(".lcd");
    const article = svg.querySelector(".article");
    const ind = svg.querySelector(".indicators");
    host.appendChild(svg);

    for (const b of FRONT_BUTTONS) {
        const g = document.createElementNS(ns, "g");
        g.setAttribute("class", "touch");
        g.setAttribute("data-button", b.name);
        g.setAttribute("role", "button");
        g.setAttribute("aria-label", b.name === "middle" ? "middle button" : b.sym + " button");
        g.innerHTML = frontButtonMarkup(b, false);
        svg.appendChild(g);
        let held = false;
        const release = () => {
            if (!held) return;
            held = false;
            g.innerHTML = frontButtonMarkup(b, false);
            toucher.up(b.name);
        };
        g.addEventListener("pointerdown", (ev) => {
            ev.preventDefault();
            held = true;
            g.setPointerCapture(ev.pointerId);
            g.innerHTML = frontButtonMarkup(b, true);
            toucher.down(b.name);
        });
        g.addEventListener("pointerup", release);
        g.addEventListener("pointercancel", release);
        g.addEventListener("lostpointercapture", release);
    }
    // The model's article number on the housing (879-3000, 879-3020:
    // GET /api/meters/{id} "article"), as the SDL window prints it.
    const setArticle = (a) => {
        const pen = new LcdPen();
        pen.text(120, 144, 1.6, `${a}  MID`, FRONT_INK);
        article.innerHTML = pen.out.join("");
    };
    setArticle("879-3000");
    return {
        svg,
        setArticle,
        // `state` is the core's display state; `text` its one-line text form
        // (text_lcd_line), kept on the element for tests and screen readers.
        setLcd(state, text) {
            lcd.innerHTML = lcdMarkup(state);
            lcd.setAttribute("data-power", lcdPower(state));
            lcd.setAttribute("data-text", text || "");
            lcd.setAttribute("aria-label", "LCD: " + (text || lcdPower(state)));
        },
        setIndicators(i, supply, t2) {
            ind.innerHTML = frontIndicatorsMarkup(i, supply, t2);
        },
    };
}
