// Reads the twin with node-mbus (libmbus) as a new user would: by primary
// address, by a secondary-address scan, then by secondary address; checks
// what libmbus decoded against the physics of tests/interop/mbus/three.json.
//
// Usage: node node_mbus_check.js PORT SPAWN_MS
//   PORT      the twin's M-Bus pty (a symlink is fine)
//   SPAWN_MS  Date.now() when the twin was started, to bound the energy
//
// Prints one line per check, "ok - ..." or "not ok - ...", unnumbered: the
// calling shell script numbers them (TAP). Exits 0 unless it could not run.
//
// Expected values come from the scenario, not from the program: U = 230 V,
// I per meter, PF 1 (import or export), so P = U x I per phase; A2.2 units:
// 10 mV, mA, W, var, VA, 0.01 (PF), mHz, Wh. libmbus drops the phase VIFE
// (FC 01..03) and the backward-flow VIFE (3C): records are therefore matched
// by their position in A2.2's order; raw_telegram.py checks those bytes.
'use strict';

const path = require('path');
const MbusMaster = require(path.join(__dirname, 'node_modules', 'node-mbus'));

// Also a module: node_mbus_tcp_check.js reads the same meters through
// --mbus tcp with these checks (require() it, then setSpawn()).
const port = process.argv[2];
let spawnMs = Number(process.argv[3]);
if (require.main === module && (!port || !spawnMs)) {
    console.error('usage: node node_mbus_check.js PORT SPAWN_MS');
    process.exit(2);
}

// The meters of three.json.
const U = 230, F = 50;
const METERS = [
    {address: 1, id: 13070001, amps: 10, sign: +1, fwd0: 1000000}, // 1000 kWh at start
    {address: 2, id: 13070002, amps: 5, sign: +1, fwd0: 0},
    {address: 3, id: 13070003, amps: 10, sign: -1, fwd0: 0},       // exporting
];
// libmbus's secondary address string: ID (8 BCD digits), then the
// manufacturer, version and medium bytes in hex as they stand in the header
// (A2.3's selection example: 01 00 07 13 CD 25 01 02 = "13070001CD250102").
const secondary = (m) => String(m.id) + 'CD25' + '01' + '02';

let failures = 0;
function check(cond, what) {
    console.log((cond ? 'ok - ' : 'not ok - ') + what);
    if (!cond) failures++;
}

// Energy registered since the start, Wh, as an interval: the twin's virtual
// clock runs at real time from a moment after SPAWN_MS (start-up), so the
// elapsed virtual time lies a little below the wall time since the spawn.
function energyBounds(m, t0, t1) {
    const watts = 3 * U * m.amps;
    const lo = watts * Math.max(0, (t0 - spawnMs) / 1000 - 3) * 0.95 / 3600;
    const hi = watts * ((t1 - spawnMs) / 1000 + 1) / 3600;
    return [Math.floor(lo), Math.ceil(hi)];
}

// The 31 records of A2.2 in order, with the value each must hold.
function expected(m, e) {
    const P = U * m.amps; // W per phase at PF 1
    const imp = m.sign > 0 ? e : [0, 0], exp = m.sign < 0 ? e : [0, 0];
    const add = (a, b) => [a[0] + b[0], a[1] + b[1]];
    const exact = (v, tol) => [v - tol, v + tol];
    const rows = [
        ['Total forward active energy (Wh)', add(imp, [m.fwd0, m.fwd0])],
        ['Forward active energy T1 (Wh)', imp],
        ['Forward active energy T2', exact(0, 0)],
        ['Forward active energy T3', exact(0, 0)],
        ['Forward active energy T4', exact(0, 0)],
        ['Total reverse active energy (Wh)', exp],
        ['Reverse active energy T1 (Wh)', exp],
        ['Reverse active energy T2', exact(0, 0)],
        ['Reverse active energy T3', exact(0, 0)],
        ['Reverse active energy T4', exact(0, 0)],
        // C-03 (factory code): the day counter counts forward + reverse.
        ['Total kWh (resettable) (Wh)', add(imp, exp)],
        ['Forward reactive energy (varh)', exact(0, 1)],
        ['Reverse reactive energy (varh)', exact(0, 1)],
    ];
    for (const l of [1, 2, 3]) rows.push([`L${l} voltage (10 mV)`, exact(U * 100, 1)]);
    for (const l of [1, 2, 3]) rows.push([`L${l} current (mA)`, exact(m.amps * 1000, 1)]);
    rows.push(['Total active power (W)', exact(m.sign * 3 * P, 1)]);
    for (const l of [1, 2, 3]) rows.push([`L${l} active power (W)`, exact(m.sign * P, 1)]);
    rows.push(['Total reactive power (var)', exact(0, 1)]);
    for (const l of [1, 2, 3]) rows.push([`L${l} reactive power (var)`, exact(0, 1)]);
    rows.push(['Total apparent power (VA)', exact(3 * P, 1)]);
    rows.push(['Total power factor (0.01)', exact(m.sign * 100, 0)]);
    rows.push(['Grid frequency (mHz)', exact(F * 1000, 1)]);
    rows.push(['Tariff', exact(1, 0)]);
    return rows;
}

function checkTelegram(m, how, data, t0, t1) {
    const info = data && data.SlaveInformation;
    check(info && info.Id === m.id && info.Manufacturer === 'INM' && info.Version === 1 &&
          info.Medium === 'Electricity' && info.Status === 0,
          `${how}: header of meter ${m.address} (id ${m.id}, CD 25 = "INM", version 1, electricity, ` +
          `status 0): got ${JSON.stringify(info)}`);
    const recs = (data && data.DataRecord) || [];
    const rows = expected(m, energyBounds(m, t0, t1));
    check(recs.length === rows.length, `${how}: ${rows.length} records (got ${recs.length})`);
    const bad = [];
    rows.forEach(([name, [lo, hi]], i) => {
        const v = recs[i] ? Number(recs[i].Value) : NaN;
        if (!(v >= lo && v <= hi)) bad.push(`${name}: ${v}, expected ${lo === hi ? lo : lo + '..' + hi}`);
    });
    check(bad.length === 0, `${how}: meter ${m.address}: every record's value matches the scenario` +
          (bad.length ? ' (' + bad.join('; ') + ')' : ''));
    // Tariff records: libmbus decodes DIFE 10/20/30 and 80 10 as tariffs 1..4.
    const tariffs = [1, 2, 3, 4, 6, 7, 8, 9].map((i) => recs[i] && recs[i].Tariff);
    check(JSON.stringify(tariffs) === '[1,2,3,4,1,2,3,4]',
          `${how}: meter ${m.address}: libmbus reads the tariffs of the DIFEs as 1..4 (got ${tariffs})`);
}

async function timed(fn) {
    const t0 = Date.now();
    const r = await fn();
    return [r, t0, Date.now()];
}

async function main() {
    // 8E1 is libmbus's only setting; 9600 because it cannot set a pty to 2400.
    const master = new MbusMaster({serialPort: port, serialBaudRate: 9600, autoConnect: true});
    check(await master.connectAsync().then(() => true, () => false), `node-mbus opens ${port} at 9600 8E1`);

    // 1. A secondary-address scan (first: it takes ~30 s, so the reads after it
    //    see settled readings, not the first window after start-up)
    //    finds all three by wildcard selection (EN 13757-3 annex).
    let found = [];
    try {
        const t0 = Date.now();
        found = await master.scanSecondaryAsync();
        console.error(`# secondary scan: ${(Date.now() - t0) / 1000} s`);
    } catch (e) {
        check(false, `secondary scan failed: ${e.message}`);
    }
    const want = METERS.map(secondary).sort();
    check(JSON.stringify([...found].sort()) === JSON.stringify(want),
          `secondary scan finds the three meters ${want.join(', ')} (got ${JSON.stringify(found)})`);

    // 2. By primary address (with node-mbus's default SND_NKE "ping" first).
    const access = {};
    for (const m of METERS) {
        try {
            const [d, t0, t1] = await timed(() => master.getDataAsync(m.address));
            access[m.address] = d && d.SlaveInformation && d.SlaveInformation.AccessNumber;
            checkTelegram(m, `primary ${m.address}`, d, t0, t1);
        } catch (e) {
            check(false, `primary ${m.address}: read failed: ${e.message}`);
        }
    }

    // 3. By secondary address (selection 52, then REQ_UD2 to FD).
    for (const m of METERS) {
        try {
            const [d, t0, t1] = await timed(() => master.getDataAsync(secondary(m)));
            checkTelegram(m, `secondary ${secondary(m)}`, d, t0, t1);
            // A2.2: the access number goes up by one with every telegram read.
            const a = d && d.SlaveInformation && d.SlaveInformation.AccessNumber;
            check(a === (access[m.address] + 1) % 256,
                  `meter ${m.address}: access number ${access[m.address]} then ${a} (+1 per read, A2.2)`);
        } catch (e) {
            check(false, `secondary ${secondary(m)}: read failed: ${e.message}`);
        }
    }

    // A secondary address nobody has is not answered: libmbus reports "no device".
    try {
        await master.getDataAsync('13079999' + 'CD250102');
        check(false, 'an unknown secondary address is not selected');
    } catch (e) {
        check(/does not match any device/.test(e.message),
              `an unknown secondary address is not selected (${e.message})`);
    }
    await master.closeAsync().catch(() => {});
    return failures;
}

if (require.main === module) {
    main().then(() => process.exit(0), (e) => {
        console.log(`not ok - node-mbus check crashed: ${e && e.stack}`);
        process.exit(1);
    });
} else {
    module.exports = {METERS, secondary, check, checkTelegram, timed, MbusMaster,
                      setSpawn: (ms) => { spawnMs = ms; }};
}
