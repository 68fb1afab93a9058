// node-mbus (libmbus) against the CT-operated variant through an outage
// (issue 12; tests/interop/lib.sh, SCENARIO_CT with the ratio given as the
// scenario setting ct_primary: A2.3 has no CT write over M-Bus), one stage
// per run:
//
//   node node_mbus_ct.js PORT OP SECONDARY PRIMARY U
//
//   write   the telegram's "CT rate (only for CT version)" record (A2.2,
//           line 844: 9995/5 as the BCD digits 9995 05) shows the ratio;
//   values  primary values in A2.2's units: L1-L3 current SECONDARY x
//           PRIMARY / 5 in mA, active power U x I in W per phase and in all,
//           apparent power the same (PF 1), voltage U in 10 mV;
//   down    during the outage: the read fails (no reply);
//   up      after the boot: the first read answers.
//
// Records are matched by their place in A2.2's order (libmbus drops the
// phase VIFEs: node_mbus_check.js). Prints "ok - ..." / "not ok - ...".
'use strict';

const path = require('path');
const MbusMaster = require(path.join(__dirname, 'node_modules', 'node-mbus'));

const [port, op] = process.argv.slice(2, 4);
const [i2, primary, U] = process.argv.slice(4, 7).map(Number);

function check(cond, what) {
    console.log((cond ? 'ok - ' : 'not ok - ') + what);
}

async function main() {
    const master = new MbusMaster({serialPort: port, serialBaudRate: 9600, autoConnect: true});
    if (!(await master.connectAsync().then(() => true, () => false))) {
        check(false, `node-mbus opens ${port}`);
        return;
    }
    let data = null, err = null;
    const t0 = Date.now();
    try {
        data = await master.getDataAsync(1);
    } catch (e) {
        err = e;
    }
    const ms = Date.now() - t0;
    const recs = (data && data.DataRecord) || [];
    const val = (i) => (recs[i] ? Number(recs[i].Value) : NaN);
    if (op === 'write') {
        // 32 records: A2.2's 31 and the CT rate, last (docs/mbus.md decision 2).
        const want = primary * 100 + 5;
        check(recs.length === 32 && val(31) === want,
              `node-mbus reads the CT rate record: ${val(31)} (${primary}/5 as the digits ${want}), ` +
              `${recs.length} records (32: the 2PCT's telegram)${err ? ' ' + err.message : ''}`);
    } else if (op === 'values') {
        const I = i2 * primary / 5, P = U * I; // A, W per phase at PF 1
        const rows = [[13, U * 100, 1, 'L1 voltage (10 mV)'], [16, I * 1000, 10, 'L1 current (mA)'],
            [17, I * 1000, 10, 'L2 current (mA)'], [18, I * 1000, 10, 'L3 current (mA)'],
            [19, 3 * P, 60, 'total active power (W)'], [20, P, 20, 'L1 active power (W)'],
            [27, 3 * P, 60, 'total apparent power (VA)'], [28, 100, 0, 'power factor (0.01)']];
        const bad = rows.filter(([i, v, tol]) => !(Math.abs(val(i) - v) <= tol))
            .map(([i, v, , name]) => `${name} ${val(i)} vs ${v}`);
        check(!err && bad.length === 0,
              `node-mbus reads primary values: I ${I} A = ${i2} A x ${primary}/5 (${val(16)} mA), ` +
              `P ${3 * P} W (${val(19)}), S = P, U ${U} V` +
              (bad.length ? ' (' + bad.join('; ') + ')' : '') + (err ? ' ' + err.message : ''));
    } else if (op === 'down') {
        check(err !== null, `a read during the outage fails after ${ms} ms (${err ? err.message : 'it answered'})`);
    } else if (op === 'up') {
        const info = data && data.SlaveInformation;
        check(!err && info && info.Id === 13070001 && recs.length === 32,
              `the first read after the boot answers (${ms} ms, ${recs.length} records)` +
              (err ? ': ' + err.message : ''));
    }
    await master.closeAsync().catch(() => {});
}

main().then(() => process.exit(0), (e) => {
    console.log(`not ok - node_mbus_ct.js crashed: ${e && e.stack}`);
    process.exit(0);
});
