// page_check: the web page of issue 16 in a real browser (Debian's chromium,
// headless, driven by playwright-core), against a running twin with --http
// and a Modbus TCP gateway (started by test_page.sh). Prints TAP lines; the
// plan comes at the end.
//
// Expected values come from the manual (A4.4's rows and units, the menu's
// screens of 6.6), from the scenario's physics computed here, and from a
// third-party Modbus client (mbpoll) reading the same meter in the same
// second; never from the page or the API themselves.
//
// Numbering starts at 1 and no plan is printed: test_page.sh goes on
// counting (the screenshot comparisons) and prints the plan.
//
// env: HTTP (base URL), MBPORT (Modbus TCP port), SHOTS (folder for the
// screenshots), SERIAL (meter 1's serial), U (the three voltages), I (the
// three currents), PF, EXPORT (the phase that exports, 1-3); TOKEN_HTTP and
// TOKEN: a second twin that wants a token; PAGE_TIMES=1 prints the time of
// each result since the twin started (where a slow run spends it).
"use strict";
const { chromium } = require("playwright-core");
const { execFileSync } = require("child_process");
const fs = require("fs");
const path = require("path");

const HTTP = process.env.HTTP;
const MBPORT = process.env.MBPORT;
const SHOTS = process.env.SHOTS;
const SERIAL = process.env.SERIAL;
const U = process.env.U.split(",").map(Number);
const I = process.env.I.split(",").map(Number);
const PF = Number(process.env.PF);
const EXPORT = Number(process.env.EXPORT);
const TOKEN_HTTP = process.env.TOKEN_HTTP || ""; // a second twin, with --http-token TOKEN
const TOKEN = process.env.TOKEN || "";

let n = 0;
let failed = 0;
function ok(cond, desc, diag) {
    n++;
    console.log(`${cond ? "ok" : "not ok"} ${n} - ${desc}`);
    if (process.env.PAGE_TIMES) console.log(`# at ${elapsed()} s`);
    if (!cond) {
        failed++;
        if (diag) for (const l of String(diag).split("\n")) console.log("# " + l);
    }
    return cond;
}
const now = () => Date.now() / 1000;
const T0 = Number(process.env.T0 || now());
const elapsed = () => (now() - T0).toFixed(1);

// mbpoll over Modbus TCP: `count` values of `type` from `reg` of `unit`
// (PDU addresses, -0; Float ABCD, -B). null when the meter does not answer.
function mbpoll(unit, type, reg, count) {
    try {
        const out = execFileSync(
            "mbpoll",
            ["-m", "tcp", "-p", MBPORT, "-a", String(unit), "-0", "-B", "-1", "-o", "1",
                "-t", type, "-r", String(reg), "-c", String(count), "127.0.0.1"],
            { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }
        );
        const vals = [];
        for (const line of out.split("\n")) {
            const m = /^\[(\d+)\]:\s+(\S+)/.exec(line);
            if (m) vals.push(m[2].startsWith("0x") ? parseInt(m[2], 16) : Number(m[2]));
        }
        return vals.length === count ? vals : null;
    } catch (e) {
        return null;
    }
}

// mbpoll again until the meter answers (it boots for 0.5 s after a power
// cycle), for at most `ms`.
async function mbpollUntil(unit, type, reg, count, ms) {
    const t0 = Date.now();
    for (;;) {
        const v = mbpoll(unit, type, reg, count);
        if (v || Date.now() - t0 > ms) return v;
        await new Promise((r) => setTimeout(r, 100));
    }
}

// A4.4, as the manual prints it: label and unit, in this order.
const A44_ENERGY = [
    "Total active energy", "T1 Total active energy", "T2 Total active energy",
    "L1 Total active energy", "L2 Total active energy", "L3 Total active energy",
    "Forward active energy", "T1 Forward active energy", "T2 Forward active energy",
    "L1 Forward active energy", "L2 Forward active energy", "L3 Forward active energy",
    "Reverse active energy",
].map((l) => [l, "kWh"]);
const A44_INST = [
    ["Voltage*", "V"], ["L1 Voltage", "V"], ["L2 Voltage", "V"], ["L3 Voltage", "V"],
    ["Grid frequency", "Hz"], ["Current*", "A"], ["L1 Current", "A"], ["L2 Current", "A"],
    ["L3 Current", "A"], ["Total active power", "kW"], ["L1 Active power", "kW"],
    ["L2 Active power", "kW"], ["L3 Active power", "kW"],
];
// The same rows in the Modbus map (A3.2): Float ABCD, 2 registers each.
// 0x6000: active total (total, T1, T2, L1, L2, L3), 0x600C: forward (the
// same six), 0x6018: reverse total; 0x5000: "Voltage*", U L1-L3, f,
// "Current*", I L1-L3, P total, P L1-L3.
const A44_ENERGY_REG = 0x6000;
const A44_INST_REG = 0x5000;

async function tableRows(page, cls) {
    return page.$$eval(`.${cls} tbody tr`, (trs) =>
        trs.map((tr) => [tr.querySelector("th").textContent, Number(tr.querySelector(".num").textContent),
            tr.querySelector(".unit").textContent]));
}

async function lcdText(page) {
    return page.getAttribute("svg.front g.lcd", "data-text");
}
// Waits until the glass's text form matches `re` (the twin runs in real time).
async function waitLcd(page, re, ms) {
    try {
        await page.waitForFunction(
            (src) => new RegExp(src).test(document.querySelector("svg.front g.lcd").getAttribute("data-text") || ""),
            re.source, { timeout: ms || 3000 });
        return true;
    } catch (e) {
        return false;
    }
}

// A touch button pressed (short) or held for `ms` with the mouse.
async function touch(page, name, ms) {
    const button = page.locator(`svg.front g.touch[data-button="${name}"]`);
    await button.scrollIntoViewIfNeeded();
    const box = await button.boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.waitForTimeout(ms || 60);
    await page.mouse.up();
}

async function shot(page, name) {
    await page.locator("svg.front").screenshot({ path: path.join(SHOTS, name + ".png") });
}

// The LED is drawn dark (a pulse is 30 ms): the picture does not depend on
// when a pulse comes.
async function ledDark(page) {
    await page.waitForFunction(() => !document.querySelector('svg.front .indicators [fill="rgb(255,40,30)"]'),
        null, { timeout: 3000 }).catch(() => {});
}

async function main() {
    const browser = await chromium.launch({
        executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
        args: ["--no-sandbox", "--font-render-hinting=none", "--disable-gpu"],
    });
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 1000 }, deviceScaleFactor: 1, acceptDownloads: true });
    const page = await ctx.newPage();
    page.setDefaultTimeout(5000);
    const external = [];
    const errors = [];
    page.on("request", (r) => {
        if (!r.url().startsWith(HTTP) && !r.url().startsWith("blob:") && !r.url().startsWith("data:")) external.push(r.url());
    });
    page.on("pageerror", (e) => errors.push(e.message));

    // ---- the meter list, and the page's own resources only
    await page.goto(HTTP + "/");
    const listed = await page.waitForSelector(".meter-list tbody tr", { timeout: 5000 }).then(() => true, () => false);
    const serials = await page.$$eval(".meter-list tbody tr", (trs) => trs.map((t) => t.children[2].textContent));
    ok(listed && serials.includes(SERIAL), "the page lists the meters", `serials: ${serials}`);
    const ids = await page.$$eval(".meter-list tbody tr", (trs) => trs.map((t) => t.dataset.id));
    const id1 = ids[serials.indexOf(SERIAL)];
    const id2 = ids.find((x) => x !== id1);
    await page.goto(`${HTTP}/#meter=${encodeURIComponent(id1)}`);
    await page.waitForSelector("svg.front g.lcd[data-power]", { timeout: 5000 }).catch(() => {});

    // ---- connect (A4.2) and the device page (A4.3)
    await page.click(".app .connect");
    const connected = await page.waitForSelector(".app .energy tbody tr", { timeout: 5000 }).then(() => true, () => false);
    ok(connected, "Connect opens the device page and the values (A4.2, A4.3)",
        `${await page.textContent(".app-state").catch(() => "")} (${elapsed()} s after the start)`);
    const dev = await page.textContent(".device dl").catch(() => "");
    ok(dev.includes(SERIAL) && /Software version/.test(dev), "the device page shows the serial number and software version", dev);

    // ---- the normal display: part 1's serial number page, shown from 10 s to
    // 20 s after power-up (6.1: part 1 scrolls every 10 s; docs/display.md),
    // before any Modbus traffic (icon 2 dark)
    const sn = await waitLcd(page, new RegExp(`^Sn ${SERIAL} kWh T1 BT$`), 15000);
    await ledDark(page);
    await shot(page, "normal");
    ok(sn, `the glass shows part 1's serial number page: Sn ${SERIAL} (6.1; ${elapsed()} s after the start)`,
        await lcdText(page));

    // ---- every A4.4 row against mbpoll in the same second, and the physics
    await page.click(".app .refresh");
    await page.waitForTimeout(100);
    const t0 = now();
    const energy = await tableRows(page, "energy");
    const inst = await tableRows(page, "instantaneous");
    const mbE = mbpoll(1, "4:float", A44_ENERGY_REG, 13);
    const mbI = mbpoll(1, "4:float", A44_INST_REG, 13);
    const dt = now() - t0;
    ok(JSON.stringify(energy.map((r) => [r[0], r[2]])) === JSON.stringify(A44_ENERGY),
        "Energy: exactly A4.4's 13 rows, labels and units", JSON.stringify(energy));
    ok(JSON.stringify(inst.map((r) => [r[0], r[2]])) === JSON.stringify(A44_INST),
        "Instantaneous: exactly A4.4's 13 rows, labels and units", JSON.stringify(inst));
    ok(mbE && mbI && dt < 1, `mbpoll reads 0x6000 and 0x5000 within a second of the page (${dt.toFixed(2)} s)`);
    // Modbus floats for the energy rows: 0x6000..0x600A, 0x600C..0x6016, 0x6018.
    const pTot = (U[0] * I[0] + U[1] * I[1] + U[2] * I[2]) * PF / 1000;
    if (mbE && mbI) {
        for (let k = 0; k < 13; k++) {
            // the page shows 3 decimals; the meter counts on between the two reads
            const tol = 0.0005 + 1e-6 + (pTot * (dt + 1.2)) / 3600;
            const got = energy[k] ? energy[k][1] : NaN;
            ok(Math.abs(got - mbE[k]) <= tol, `${A44_ENERGY[k][0]}: page ${got} kWh, Modbus ${mbE[k]}`);
        }
        for (let k = 0; k < 13; k++) {
            const unit = A44_INST[k][1];
            const tol = (unit === "V" || unit === "Hz" ? 0.005 : 0.0005) + 1e-4 * Math.abs(mbI[k]);
            const got = inst[k] ? inst[k][1] : NaN;
            ok(Math.abs(got - mbI[k]) <= tol, `${A44_INST[k][0]}: page ${got} ${unit}, Modbus ${mbI[k]}`);
        }
    }
    // The physics of the scenario: U, f 50 Hz, I, P = U I PF, export negative;
    // "Voltage*" and "Current*" read 0 (docs/decisions.md).
    const sign = (p) => (p + 1 === EXPORT ? -1 : 1);
    const pPh = [0, 1, 2].map((p) => (sign(p) * U[p] * I[p] * PF) / 1000);
    const want = [0, U[0], U[1], U[2], 50, 0, I[0], I[1], I[2], pPh[0] + pPh[1] + pPh[2], pPh[0], pPh[1], pPh[2]];
    const phys = want.every((w, k) => inst[k] && Math.abs(inst[k][1] - w) <= 0.01 + 0.002 * Math.abs(w));
    ok(phys, "Instantaneous agrees with the scenario's physics (U, f, I, P = U I PF)",
        `want ${want.map((w) => w.toFixed(3))}\ngot  ${inst.map((r) => r[1])}`);

    // ---- save meter data (A4.5): a CSV and a JSON named after serial and time
    const downloads = [];
    const got2 = new Promise((resolve) => {
        page.on("download", (d) => {
            downloads.push(d);
            if (downloads.length === 2) resolve();
        });
    });
    await page.click(".app .save");
    await Promise.race([got2, page.waitForTimeout(5000)]);
    const names = downloads.map((d) => d.suggestedFilename()).sort();
    const re = new RegExp(`^${SERIAL}_\\d{8}T\\d{6}Z\\.(csv|json)$`);
    ok(names.length === 2 && names.every((x) => re.test(x)) && names[0].slice(0, -4) === names[1].slice(0, -5),
        "Save meter data downloads SERIAL_TIME.csv and SERIAL_TIME.json", JSON.stringify(names));
    const shown = await tableRows(page, "energy");
    for (const d of downloads) {
        const file = path.join(SHOTS, d.suggestedFilename());
        await d.saveAs(file);
        const text = fs.readFileSync(file, "utf8");
        if (file.endsWith(".json")) {
            let j = null;
            try {
                j = JSON.parse(text);
            } catch (e) {}
            const rows = j ? j.energy.concat(j.instantaneous) : [];
            const a44 = A44_ENERGY.concat(A44_INST);
            ok(j && j.serial === SERIAL && rows.length === 26 &&
                rows.every((r, k) => r.label === a44[k][0] && r.unit === a44[k][1] && typeof r.value === "number") &&
                j.energy.every((r, k) => Math.abs(r.value - shown[k][1]) <= 0.0005 + 1e-9),
                "the JSON file holds the serial and A4.4's 26 rows with the values shown", text.slice(0, 400));
        } else {
            const lines = text.trim().split(/\r?\n/).filter((l) => !l.startsWith("#"));
            const rows = lines.slice(1).map((l) => l.split(","));
            ok(lines[0] === "section,key,label,value,unit" && rows.length === 26 &&
                rows.every((r, k) => r[2] === A44_ENERGY.concat(A44_INST)[k][0] && Number.isFinite(Number(r[3]))) &&
                text.includes(SERIAL),
                "the CSV file holds a header and A4.4's 26 rows", text.slice(0, 400));
        }
    }

    // ---- change settings with the right password (A4.6): Modbus ID 17, S0 10 imp/kWh
    await page.waitForSelector('.settings [data-key="modbus_id"]', { timeout: 3000 }).catch(() => {});
    await page.fill('input[data-key="modbus_id"]', "17");
    await page.selectOption('select[data-key="s0_rate"]', { label: "10" });
    const green = await page.$$eval(".settings tr.changed", (t) => t.map((x) => x.dataset.key));
    ok(green.sort().join() === "modbus_id,s0_rate", "changed settings are highlighted (A4.6)", JSON.stringify(green));
    // the S0 rate alone with its own Save (individually), then the rest with
    // "Save all changes" (all at once): A4.6 "individually and/or ... all at once"
    await page.click('.settings tr[data-key="s0_rate"] .save-one');
    await page.fill("#password-dialog input", "0000");
    await page.click("#password-dialog button.ok");
    const one = await page.waitForFunction(() => /saved: s0_rate$/.test(document.querySelector(".settings-msg").textContent),
        null, { timeout: 3000 }).then(() => true, () => false);
    const left = await page.$$eval(".settings tr.changed", (t) => t.map((x) => x.dataset.key));
    ok(one && left.join() === "modbus_id", "Save beside the S0 rate saves it alone; the Modbus ID stays an edit",
        `${await page.textContent(".settings-msg")}; still changed: ${left}`);
    await page.click(".settings .save-all");
    await page.fill("#password-dialog input", "0000");
    await page.click("#password-dialog button.ok");
    const savedMsg = await page.waitForFunction(() => /saved: modbus_id$/.test(document.querySelector(".settings-msg").textContent),
        null, { timeout: 3000 }).then(() => true, () => false);
    ok(savedMsg, "Save all changes with the right password saves the rest", await page.textContent(".settings-msg"));
    const id17 = mbpoll(17, "4", 0x4003, 1);
    const s0 = mbpoll(17, "4:float", 0x400d, 1);
    ok(id17 && id17[0] === 17, "Modbus: the meter answers as ID 17 and 0x4003 reads 17 (A3.3)", JSON.stringify(id17));
    ok(s0 && Math.abs(s0[0] - 10) < 1e-6, "Modbus: 0x400D reads 10 imp/kWh (A3.3)", JSON.stringify(s0));

    // ---- a wrong password is refused, nothing changes
    await page.fill('input[data-key="modbus_id"]', "18");
    await page.click(".settings .save-all");
    await page.fill("#password-dialog input", "1234");
    await page.click("#password-dialog button.ok");
    const refused = await page.waitForFunction(() => /wrong password/.test(document.querySelector(".settings-msg").textContent),
        null, { timeout: 3000 }).then(() => true, () => false);
    ok(refused, "a wrong password is refused and the page says so", await page.textContent(".settings-msg"));
    const still = mbpoll(17, "4", 0x4003, 1);
    ok(still && still[0] === 17, "Modbus: after the refusal the ID is still 17", JSON.stringify(still));
    await page.screenshot({ path: path.join(SHOTS, "refused-page.png") });

    // ---- a live control: L1's load to 20 A in the panel reaches the
    // registers (0x500C, L1 current, A3.2) from the next one-second window
    await page.fill('.controls tr[data-phase="0"] input[data-ctl="current"]', "20");
    await page.press('.controls tr[data-phase="0"] input[data-ctl="current"]', "Enter");
    let i20 = null;
    for (let k = 0; k < 15 && !(i20 && Math.abs(i20[0] - 20) < 1e-3); k++) {
        await page.waitForTimeout(200);
        i20 = mbpoll(17, "4:float", 0x500c, 1);
    }
    ok(i20 && Math.abs(i20[0] - 20) < 1e-3, "the panel's L1 load of 20 A reads 20 A over Modbus (0x500C)", JSON.stringify(i20));

    // ---- the menu with the touch buttons (6.4-6.6): hold the middle one 3 s,
    // >> to SEt, middle, password 0000 (four middle presses), then the list: 6.6.3
    // shows the S0 rate set above, 6.6.6 the Modbus ID.
    await touch(page, "middle", 3300);
    const top = await waitLcd(page, /^6\.5 bt on/, 3000);
    ok(top, "holding the middle button 3 s opens the menu: 6.5 bt on", await lcdText(page));
    await touch(page, "right");
    const set = await waitLcd(page, /^6\.6 SEt/, 2000);
    ok(set, ">> moves to 6.6 SEt", await lcdText(page));
    // middle opens the password (0000, the first digit blinking), then four
    // middle presses confirm its four digits (6.6: "Confirm each digit")
    await touch(page, "middle");
    await waitLcd(page, /^PASS /, 2000);
    for (let k = 0; k < 4; k++) await touch(page, "middle");
    const list = await waitLcd(page, /^6\.6\.1 PASS/, 3000);
    ok(list, "the password 0000 opens the settings list: 6.6.1 PASS", await lcdText(page));
    await touch(page, "right");
    await waitLcd(page, /^6\.6\.2 /, 2000);
    await touch(page, "right");
    const s0lcd = await waitLcd(page, /^6\.6\.3 S0 10 /, 2000);
    ok(s0lcd, "the LCD shows the new S0 rate: 6.6.3 S0 10", await lcdText(page));
    for (let k = 0; k < 3; k++) {
        await touch(page, "right");
        await waitLcd(page, new RegExp(`^6\\.6\\.${4 + k} `), 2000);
    }
    const idlcd = await waitLcd(page, /^6\.6\.6 Id 017 /, 2000);
    ok(idlcd, "the LCD shows the new Modbus ID: 6.6.6 Id 017", await lcdText(page));
    mbpoll(17, "4", 0x4003, 1); // icon 2 (communication) lit for the picture, as on every run
    await waitLcd(page, /COMM/, 2000);
    await ledDark(page);
    await shot(page, "menu");

    // ---- the supply off: the meter goes dark and stops answering
    await page.click('.controls [data-ctl="all-off"]');
    const dark = await page.waitForSelector('svg.front g.lcd[data-power="off"]', { timeout: 3000 }).then(() => true, () => false);
    ok(dark, "switching the supply off darkens the glass", await lcdText(page));
    await shot(page, "dark");
    const silent = mbpoll(17, "4", 0x4003, 1);
    ok(silent === null, "Modbus: the dark meter does not answer", JSON.stringify(silent));

    // ---- the meter whose Bluetooth is off: connect fails, saying why
    await page.goto(`${HTTP}/#meter=${encodeURIComponent(id2)}`);
    await page.waitForSelector(".app .connect", { timeout: 5000 });
    await page.click(".app .connect");
    const why = await page.waitForFunction(() => /Bluetooth is off/.test(document.querySelector(".app-state").textContent),
        null, { timeout: 3000 }).then(() => true, () => false);
    const hidden = await page.isHidden(".app .app-body");
    ok(why && hidden, "connecting fails while the meter's Bluetooth is off (6.5), the page says why",
        await page.textContent(".app-state"));
    await page.locator(".app-bar").screenshot({ path: path.join(SHOTS, "bt-off.png") });

    // ---- meter 2's menu to 6.6.6: the SDL tests' "menu" state (Id 001,
    // Bluetooth off, no bus traffic), for comparing the two drawings
    await page.waitForSelector("svg.front g.lcd[data-power]");
    await touch(page, "middle", 3300);
    const top2 = await waitLcd(page, /^6\.5 bt oFF /, 3000);
    await touch(page, "right");
    await waitLcd(page, /^6\.6 SEt/, 2000);
    await touch(page, "middle");
    await waitLcd(page, /^PASS /, 2000);
    for (let k = 0; k < 4; k++) await touch(page, "middle");
    await waitLcd(page, /^6\.6\.1 PASS/, 3000);
    for (let k = 2; k <= 6; k++) {
        await touch(page, "right");
        await waitLcd(page, new RegExp(`^6\\.6\\.${k} `), 2000);
    }
    const id001 = await waitLcd(page, /^6\.6\.6 Id 001 SET$/, 2000);
    await ledDark(page);
    await shot(page, "sdl-menu");
    ok(top2 && id001, "meter 2's menu, walked with the buttons: 6.5 bt oFF ... 6.6.6 Id 001 SET", await lcdText(page));

    // ---- memory (7.1), meter 1 back on supply: a power cycle that finds the
    // main copy corrupt runs on (bit 6, 0x40, "Data error in the main battery
    // storage area"); one that finds both copies corrupt stops the meter with
    // Err XX on the glass (bit 0: "the data in the main storage area and backup
    // area ... is wrong"). mbpoll reads the byte in the low byte of 0x401D
    // (A3.2, active status word) after the 0.5 s boot; the stopped meter's
    // settings went with its copies, so it answers at the manual's default
    // Modbus ID 1 (6.6.6; docs/state.md).
    await page.goto(`${HTTP}/#meter=${encodeURIComponent(id1)}`);
    await page.waitForSelector('.memory [data-mem="cycle"]');
    await page.click('.controls [data-ctl="all-on"]');
    await page.waitForSelector('svg.front g.lcd[data-power="on"]', { timeout: 3000 }).catch(() => {});
    const memState = async () => page.$eval(".memory .mem-state", (e) => [e.dataset.error, e.dataset.stopped, e.textContent]);
    await page.selectOption('.memory [data-mem="fault"]', "corrupt_main");
    await page.click('.memory [data-mem="cycle"]');
    await page.waitForFunction(() => document.querySelector(".memory .mem-state").dataset.error === "40", null, { timeout: 3000 }).catch(() => {});
    const [e1, stop1, text1] = await memState();
    const bits1 = await page.$$eval(".memory .mem-bits li", (lis) => lis.map((l) => [l.dataset.bit, l.textContent]));
    ok(e1 === "40" && stop1 === "no" && bits1.length === 1 && bits1[0][0] === "6" &&
        bits1[0][1].includes("Data error in the main battery storage area (integer bit)"),
        "Memory: a power cycle with the main copy corrupt shows error byte 40, bit 6 in the manual's words, running on (7.1)",
        `${text1} ${JSON.stringify(bits1)}`);
    const st1 = await mbpollUntil(17, "4:hex", 0x401D, 2, 3000);
    ok(st1 && (st1[1] & 0xff) === 0x40, "Modbus: 0x401D's low byte reads 0x40 after the boot (A3.2, 7.1)", JSON.stringify(st1));
    await page.click('.memory [data-mem="save"]');
    const nosave = await page.waitForFunction(() => /not saved: .*--state/.test(document.querySelector(".memory .mem-msg").textContent),
        null, { timeout: 3000 }).then(() => true, () => false);
    ok(nosave, "Memory: Save now without --state says why (409)", await page.textContent(".memory .mem-msg"));
    await page.selectOption('.memory [data-mem="fault"]', "corrupt_both");
    await page.click('.memory [data-mem="cycle"]');
    await page.waitForFunction(() => document.querySelector(".memory .mem-state").dataset.stopped === "yes", null, { timeout: 3000 }).catch(() => {});
    const [e2, stop2, text2] = await memState();
    const st2 = await mbpollUntil(1, "4:hex", 0x401D, 2, 3000);
    const byte2 = st2 ? st2[1] & 0xff : -1;
    const hex2 = byte2.toString(16).toUpperCase().padStart(2, "0");
    const errLcd = await waitLcd(page, new RegExp(`^Err ${hex2}$`), 3000);
    const bits2 = await page.$$eval(".memory .mem-bits li", (lis) => lis.map((l) => l.dataset.bit));
    ok(stop2 === "yes" && (byte2 & 1) === 1 && e2 === hex2 && bits2.includes("0") && errLcd,
        `Memory: both copies corrupt: the meter stops, the page and the glass show Err ${hex2} as 0x401D reads it, bit 0 set (7.1)`,
        `${text2} ${JSON.stringify(bits2)} 0x401D ${JSON.stringify(st2)} glass ${await lcdText(page)}`);

    // ---- a twin with --http-token: without the token the page is refused
    // (401); opened as /?token=T it lists the meters and its event stream runs
    if (TOKEN_HTTP) {
        const bare = await browser.newContext();
        const p1 = await bare.newPage();
        const r1 = await p1.goto(TOKEN_HTTP + "/");
        ok(r1 && r1.status() === 401, "--http-token: the page without the token is refused (401)", r1 && r1.status());
        await bare.close();
        const tctx = await browser.newContext();
        const p2 = await tctx.newPage();
        p2.on("pageerror", (e) => errors.push(e.message));
        await p2.goto(`${TOKEN_HTTP}/?token=${encodeURIComponent(TOKEN)}`);
        const rows = await p2.waitForSelector(".meter-list tbody tr", { timeout: 5000 }).then(() => true, () => false);
        const live = await p2.waitForFunction(() => document.getElementById("status").textContent === "live",
            null, { timeout: 5000 }).then(() => true, () => false);
        const glass = await p2.waitForSelector('svg.front g.lcd[data-power="on"]', { timeout: 5000 }).then(() => true, () => false);
        ok(rows && live && glass, "--http-token: the page opened with ?token= lists the meters, draws the glass and follows the events",
            await p2.textContent("#status"));
        await tctx.close();
    }

    ok(external.length === 0, "the page loads nothing from outside the twin", external.join("\n"));
    ok(errors.length === 0, "no script error on the page", errors.join("\n"));
    await browser.close();
}

main()
    .catch((e) => ok(false, "the browser run", e.stack))
    .finally(() => {
        process.exit(failed ? 1 : 0);
    });
