// lcd: the meter's glass in SVG, drawn from the core's display state
// (core/display.h, as GET /api/meters/{id}/lcd and the "lcd" event send it).
//
// The same glass as the SDL window (frontends/sdl/sdl_view.c, draw_lcd): a
// 400 x 150 box; row 1 the tariffs T1-T4, the phases L1-L3, the arrows <- ->,
// icon 1 (Bluetooth) and icon 2 (communication); row 2 the six small digits of
// the OBIS / label field and SET; row 3 the minus, the nine digits (6 + 3,
// manual 6.2) and the units. Every coordinate below is the SDL view's, so a
// digit or an icon sits where it sits in the window. Unlit segments are a
// faint ghost, as on real glass; with the blue backlight (6.6.11) the glass
// is blue; without supply it is blank (docs/display.md). Nothing here computes
// what is lit: the core decides, this file only draws.
"use strict";

const LCD_W = 400;
const LCD_H = 150;

// Bits of display_t.icons (core/display.h, display_icon_t).
const LCD_ICON = {
    T1: 1 << 0, T2: 1 << 1, T3: 1 << 2, T4: 1 << 3,
    L1: 1 << 4, L2: 1 << 5, L3: 1 << 6,
    KWH: 1 << 7, KVARH: 1 << 8, KW: 1 << 9, KVAR: 1 << 10, KVA: 1 << 11,
    V: 1 << 12, A: 1 << 13, HZ: 1 << 14,
    BT: 1 << 15, COMM: 1 << 16, FWD: 1 << 17, REV: 1 << 18, MINUS: 1 << 19, SET: 1 << 20,
};

// Names an API may use for an icon, to its bit (lower case, no blanks).
const LCD_ICON_NAMES = {
    t1: "T1", t2: "T2", t3: "T3", t4: "T4", l1: "L1", l2: "L2", l3: "L3",
    kwh: "KWH", kvarh: "KVARH", kw: "KW", kvar: "KVAR", kva: "KVA", v: "V", a: "A", hz: "HZ",
    bt: "BT", bluetooth: "BT", comm: "COMM", communication: "COMM",
    fwd: "FWD", forward: "FWD", arrow_fwd: "FWD", "->": "FWD",
    rev: "REV", reverse: "REV", arrow_rev: "REV", "<-": "REV",
    minus: "MINUS", "-": "MINUS", set: "SET",
};

// The display state's icons as a bit mask, whether it came as the core's
// number, a list of names or an object of name: true.
function lcdIconMask(icons) {
    if (typeof icons === "number") return icons;
    let names = [];
    if (Array.isArray(icons)) names = icons;
    else if (icons && typeof icons === "object")
        names = Object.keys(icons).filter((k) => icons[k]);
    let mask = 0;
    for (const n of names) {
        const key = LCD_ICON_NAMES[String(n).toLowerCase().replace(/\s+/g, "")];
        if (key) mask |= LCD_ICON[key];
    }
    return mask;
}

// A field's decimal points as a bit mask (number, or list of digit indexes).
// A field's decimal points as a bit mask: a number, a list of booleans (one
// per digit) or a list of digit indexes.
function lcdDpMask(dp) {
    if (typeof dp === "number") return dp;
    if (Array.isArray(dp))
        return dp.reduce((m, v, i) => (typeof v === "boolean" ? (v ? m | (1 << i) : m) : m | (1 << v)), 0);
    return 0;
}

// The power state: "on", "off" or "boot" (display_power_t: 0 on, 1 off, 2 boot).
function lcdPower(state) {
    if (!state) return "off";
    const p = state.power;
    if (p === undefined || p === null) return "on";
    if (typeof p === "boolean") return p ? "on" : "off";
    if (typeof p === "number") return ["on", "off", "boot"][p] || "on";
    return String(p).toLowerCase();
}

const LCD_COLORS = {
    light: { bg: "rgb(84,160,235)", on: "rgb(8,22,48)", ghost: "rgba(8,22,48,0.063)" },
    dark: { bg: "rgb(70,88,104)", on: "rgb(14,20,28)", ghost: "rgba(14,20,28,0.063)" },
};

// SDL fills a pixel when its centre lies in a polygon; the browser, drawing
// without anti-aliasing (shape-rendering: crispEdges), decides at the
// pixel's corner. Shapes move by half a pixel so that both fill the same
// pixels (the test compares the two pictures). Text is on whole pixels.
const LCD_PIXEL_CENTRE = 0.5;

// Collects SVG elements as text; every shape in glass coordinates.
class LcdPen {
    constructor() {
        this.out = [];
    }
    poly(xy, fill) {
        const pts = [];
        for (let i = 0; i < xy.length; i += 2)
            pts.push((xy[i] - LCD_PIXEL_CENTRE).toFixed(2) + "," + (xy[i + 1] - LCD_PIXEL_CENTRE).toFixed(2));
        this.out.push(`<polygon points="${pts.join(" ")}" fill="${fill}"/>`);
    }
    rect(x, y, w, h, fill) {
        this.poly([x, y, x + w, y, x + w, y + h, x, y + h], fill);
    }
    frame(x, y, w, h, t, fill) {
        this.rect(x, y, w, t, fill);
        this.rect(x, y + h - t, w, t, fill);
        this.rect(x, y, t, h, fill);
        this.rect(x + w - t, y, t, h, fill);
    }
    line(x0, y0, x1, y1, t, fill) {
        const dx = x1 - x0, dy = y1 - y0, l = Math.hypot(dx, dy);
        if (l <= 0) return;
        const nx = (-dy / l) * t / 2, ny = (dx / l) * t / 2;
        this.poly([x0 + nx, y0 + ny, x1 + nx, y1 + ny, x1 - nx, y1 - ny, x0 - nx, y0 - ny], fill);
    }
    // Text in the SDL window's 5x7 font, `sc` units per font pixel. The
    // arithmetic is in single precision (Math.fround), as the SDL view's:
    // a cell edge at x.5 then rounds to the same pixel in both.
    text(x, y, sc, s, fill) {
        const f = Math.fround;
        let d = "";
        x = f(x);
        y = f(y);
        sc = f(sc);
        for (let k = 0; k < s.length; k++, x = f(x + f(6 * sc))) {
            const g = FONT_5X7[s[k]];
            if (!g) continue;
            for (let row = 0; row < 7; row++)
                for (let col = 0; col < 5; ) {
                    if (!(g[row] & (0x10 >> col))) {
                        col++;
                        continue;
                    }
                    let run = col;
                    while (run < 5 && g[row] & (0x10 >> run)) run++;
                    // on whole pixels, at least one wide and high, as the
                    // SDL view's cell(): thin strokes do not fall between pixels
                    const cx = f(x + f(col * sc)), cy = f(y + f(row * sc));
                    const x0 = Math.round(cx), x1 = Math.round(f(cx + f((run - col) * sc)));
                    const y0 = Math.round(cy), y1 = Math.round(f(cy + sc));
                    const w = x1 > x0 ? x1 - x0 : 1, h = y1 > y0 ? y1 - y0 : 1;
                    d += `M${x0} ${y0}h${w}v${h}h${-w}z`;
                    col = run;
                }
        }
        if (d) this.out.push(`<path d="${d}" fill="${fill}"/>`);
    }
    textCentered(x, y, w, h, sc, s, fill) {
        const f = Math.fround;
        const tw = f(f(s.length * 6 * f(sc)) - f(sc));
        this.text(f(x + f(f(w - tw) / 2)), f(y + f(f(h - f(7 * f(sc))) / 2)), sc, s, fill);
    }
}

// One hexagonal segment, slanted like the glass (sdl_view.c, segment()).
function lcdSegment(pen, x0, y0, x1, y1, t, base, slant, fill) {
    const h = t / 2;
    const xy =
        y0 === y1
            ? [x0, y0, x0 + h, y0 - h, x1 - h, y0 - h, x1, y0, x1 - h, y0 + h, x0 + h, y0 + h]
            : [x0, y0, x0 + h, y0 + h, x0 + h, y1 - h, x0, y1, x0 - h, y1 - h, x0 - h, y0 + h];
    for (let i = 0; i < 6; i++) xy[2 * i] += (base - xy[2 * i + 1]) * slant;
    pen.poly(xy, fill);
}

// One seven-segment digit with its point (sdl_view.c, digit()).
function lcdDigit(pen, x, y, w, hgt, segs, dp, col) {
    const t = w * 0.19, g = t * 0.2, sl = 0.08, base = y + hgt;
    const x0 = x + t / 2, x1 = x + w - t / 2, y0 = y + t / 2, ym = y + hgt / 2, y1 = y + hgt - t / 2;
    const s = [
        [1, x0 + g, y0, x1 - g, y0], [2, x1, y0 + g, x1, ym - g],
        [4, x1, ym + g, x1, y1 - g], [8, x0 + g, y1, x1 - g, y1],
        [16, x0, ym + g, x0, y1 - g], [32, x0, y0 + g, x0, ym - g],
        [64, x0 + g, ym, x1 - g, ym],
    ];
    for (let pass = 0; pass < 2; pass++)
        for (const [bit, ax, ay, bx, by] of s)
            if (pass === 0 || segs & bit)
                lcdSegment(pen, ax, ay, bx, by, t, base, sl, pass ? col.on : col.ghost);
    const d = t * 1.1;
    pen.rect(x + w + t * 0.35, y + hgt - d, d, d, dp ? col.on : col.ghost);
}

// A field's segments (bit 0 a .. bit 6 g) and points, as the API names them
// ("segments", "points": one boolean per digit) or as display_t does ("seg", "dp").
function lcdField(pen, f, n, x, y, w, h, pitch, col, lit) {
    const seg = (f && (f.segments || f.seg)) || [];
    const dp = lcdDpMask(f && (f.points !== undefined ? f.points : f.dp));
    for (let i = 0; i < n; i++)
        lcdDigit(pen, x + i * pitch, y, w, h, lit ? seg[i] || 0 : 0, lit && dp & (1 << i), col);
}

// The glass as SVG elements (a string), in a 400 x 150 box at (0, 0).
function lcdMarkup(state) {
    const power = lcdPower(state);
    const powered = power !== "off";
    const light = powered && !!state.backlight;
    const col = light ? LCD_COLORS.light : LCD_COLORS.dark;
    const icons = powered ? (typeof state.icon_bits === "number" ? state.icon_bits : lcdIconMask(state.icons)) : 0;
    const ic = (bit) => (icons & bit ? col.on : col.ghost);
    const pen = new LcdPen();

    pen.rect(-8, -8, LCD_W + 16, LCD_H + 16, "rgb(45,48,52)");
    pen.rect(0, 0, LCD_W, LCD_H, col.bg);
    if (light)
        for (let i = 0; i < 6; i++)
            pen.frame(i * 3, i * 3, LCD_W - i * 6, LCD_H - i * 6, 3,
                `rgba(150,210,255,${((40 - i * 6) / 255).toFixed(3)})`);

    const glass = [];
    const start = pen.out.length;
    for (let i = 0; i < 4; i++) {
        const c = ic(LCD_ICON.T1 << i);
        pen.frame(10 + i * 34, 8, 30, 17, 1.5, c);
        pen.textCentered(10 + i * 34, 8, 30, 17, 1.6, "T" + (i + 1), c);
    }
    for (let i = 0; i < 3; i++) pen.text(160 + i * 32, 11, 1.6, "L" + (i + 1), ic(LCD_ICON.L1 << i));
    // "<-" and "->": a bar and a head
    let c = ic(LCD_ICON.REV);
    pen.rect(262 + 8, 11 + 4, 14, 4, c);
    pen.poly([262 + 9, 11, 262, 17, 262 + 9, 23], c);
    c = ic(LCD_ICON.FWD);
    pen.rect(290, 11 + 4, 14, 4, c);
    pen.poly([290 + 13, 11, 290 + 22, 17, 290 + 13, 23], c);
    // icon 1, Bluetooth
    c = ic(LCD_ICON.BT);
    const bx = 336, by = 8, bh = 18, br = 5, bt = 2.2;
    pen.line(bx, by, bx, by + bh, bt, c);
    pen.line(bx, by, bx + br, by + bh / 4, bt, c);
    pen.line(bx + br, by + bh / 4, bx - br, by + (3 * bh) / 4, bt, c);
    pen.line(bx - br, by + bh / 4, bx + br, by + (3 * bh) / 4, bt, c);
    pen.line(bx + br, by + (3 * bh) / 4, bx, by + bh, bt, c);
    // icon 2, communication: two opposite arrows
    c = ic(LCD_ICON.COMM);
    pen.rect(360, 11, 16, 2.5, c);
    pen.poly([374, 8, 380, 12.2, 374, 16.5], c);
    pen.rect(364, 20, 16, 2.5, c);
    pen.poly([366, 17, 360, 21.2, 366, 25.5], c);

    lcdField(pen, state && state.obis, 6, 14, 34, 13, 26, 19, col, powered);
    pen.text(140, 44, 1.6, "SET", ic(LCD_ICON.SET));

    pen.rect(8, 100, 14, 5, ic(LCD_ICON.MINUS));
    lcdField(pen, state && state.main, 9, 30, 74, 21, 60, 31, col, powered);
    const units = [
        [LCD_ICON.KWH, "kWh", 308, 74], [LCD_ICON.KVARH, "kvarh", 308, 90],
        [LCD_ICON.KW, "kW", 308, 106], [LCD_ICON.KVAR, "kvar", 308, 122],
        [LCD_ICON.KVA, "kVA", 362, 74], [LCD_ICON.V, "V", 362, 90],
        [LCD_ICON.A, "A", 362, 106], [LCD_ICON.HZ, "Hz", 362, 122],
    ];
    for (const [bit, s, x, y] of units) pen.text(x, y, 1.6, s, ic(bit));
    glass.push(...pen.out.splice(start));

    // 180 degrees (A3.3 0x4032): the glass turns, the bezel does not.
    const turn = powered && state.rotated ? ` transform="rotate(180 ${LCD_W / 2} ${LCD_H / 2})"` : "";
    return pen.out.join("") + `<g${turn}>` + glass.join("") + "</g>";
}
