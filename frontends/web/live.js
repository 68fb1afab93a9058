// live: the measured values beside the controls, as the SDL window's panel
// shows them, updated by every "readings" event of the meter's stream (the
// same rows as A4.4). Unlike the app's lists (app.js), which change only on
// Refresh as on the phone, these follow the meter: the demo's view of what
// the controls do.
"use strict";

function liveShow(host, data) {
    if (!data || (!data.instantaneous && !data.energy)) return;
    const rows = (data.instantaneous || []).concat((data.energy || []).slice(0, 1));
    host.innerHTML =
        `<table class="live"><caption>live values</caption><tbody>${readingsRows(rows)}</tbody></table>`;
}
