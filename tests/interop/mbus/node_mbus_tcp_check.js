// node-mbus (libmbus) as an M-Bus master over TCP: the twin's three meters
// of three.json through --mbus tcp:PORT (M-Bus frames on a TCP stream, as a
// transparent M-Bus/TCP gateway carries them), read by primary address and
// by secondary address. The checks are node_mbus_check.js's own (the same
// meters, the same expected values from the scenario's physics).
//
// Usage: node node_mbus_tcp_check.js HOST PORT SPAWN_MS
//   HOST PORT  the twin's M-Bus TCP endpoint
//   SPAWN_MS   Date.now() when the twin was started, to bound the energy
//
// Prints one line per check, "ok - ..." or "not ok - ...", unnumbered: the
// calling shell script numbers them (TAP). Exits 0 unless it could not run.
//
// No secondary-address scan here: over TCP libmbus waits its whole time-out
// for every probe nobody answers (0.3 s here, many probes), so a scan would take minutes;
// test_node_mbus.sh scans on a pty.
'use strict';

const path = require('path');
const base = require(path.join(__dirname, 'node_mbus_check.js'));
const {METERS, secondary, check, checkTelegram, timed, MbusMaster} = base;

const host = process.argv[2];
const port = Number(process.argv[3]);
const spawnMs = Number(process.argv[4]);
if (!host || !port || !spawnMs) {
    console.error('usage: node node_mbus_tcp_check.js HOST PORT SPAWN_MS');
    process.exit(2);
}
base.setSpawn(spawnMs);

async function main() {
    // timeout (ms): libmbus's receive time-out on the socket (SO_RCVTIMEO),
    // for each read; 0.3 s, above the 0.2 s libmbus itself uses on a serial
    // line at 9600. The twin sends each character as its stop bit ends on
    // the virtual 9600 bit/s line (~1.1 ms apart), the first one 33 bit
    // times after the request. Each getData waits the time-out out a few
    // times (its purges after SND_NKE to the broadcast address).
    const master = new MbusMaster({host, port, timeout: 300, autoConnect: true});
    check(await master.connectAsync().then(() => true, () => false),
          `node-mbus connects to ${host}:${port} over TCP`);

    const access = {};
    for (const m of METERS) {
        try {
            const [d, t0, t1] = await timed(() => master.getDataAsync(m.address));
            access[m.address] = d && d.SlaveInformation && d.SlaveInformation.AccessNumber;
            checkTelegram(m, `TCP, primary ${m.address}`, d, t0, t1);
        } catch (e) {
            check(false, `TCP, primary ${m.address}: read failed: ${e.message}`);
        }
    }
    for (const m of METERS) {
        try {
            const [d, t0, t1] = await timed(() => master.getDataAsync(secondary(m)));
            checkTelegram(m, `TCP, secondary ${secondary(m)}`, d, t0, t1);
            const a = d && d.SlaveInformation && d.SlaveInformation.AccessNumber;
            check(a === (access[m.address] + 1) % 256,
                  `TCP: meter ${m.address}: access number ${access[m.address]} then ${a} (+1 per read, A2.2)`);
        } catch (e) {
            check(false, `TCP, secondary ${secondary(m)}: read failed: ${e.message}`);
        }
    }
    try {
        await master.getDataAsync('13079999' + 'CD250102');
        check(false, 'TCP: an unknown secondary address is not selected');
    } catch (e) {
        check(/does not match any device/.test(e.message),
              `TCP: an unknown secondary address is not selected (${e.message})`);
    }
    await master.closeAsync().catch(() => {});
}

main().then(() => process.exit(0), (e) => {
    console.log(`not ok - node-mbus TCP check crashed: ${e && e.stack}`);
    process.exit(1);
});
