// meters: the list of the twin's meters (GET /api/meters), as the app's
// "Scan Bluetooth" lists the meters in reach by serial number (A4.2), with
// what a test harness wants beside it: Modbus ID, M-Bus address, whether
// Bluetooth is on in the meter's menu (6.5) and whether the page is connected.
// Choosing one opens its panel (main.js).
"use strict";

function metersRender(host, meters, selected, onSelect) {
    const yes = (b) => (b ? "on" : "off");
    host.innerHTML = `
      <table class="meter-list">
        <thead><tr><th>name</th><th>type</th><th>serial</th><th>Modbus ID</th><th>M-Bus</th><th>Bluetooth</th><th>link</th></tr></thead>
        <tbody>${meters
            .map(
                (m) => `
          <tr data-id="${appEscape(m.id)}" class="${String(m.id) === String(selected) ? "selected" : ""}" tabindex="0">
            <td>${appEscape(m.name || m.id)}</td><td>${appEscape(m.variant || "")}</td>
            <td>${appEscape(m.serial || "")}</td><td>${m.modbus_id ?? ""}</td><td>${m.mbus_address ?? ""}</td>
            <td class="bt ${m.bluetooth ? "on" : ""}">${yes(m.bluetooth)}</td>
            <td class="link ${m.connected ? "on" : ""}">${m.connected ? "connected" : "–"}</td>
          </tr>`
            )
            .join("")}</tbody>
      </table>`;
    for (const tr of host.querySelectorAll("tbody tr")) {
        const pick = () => onSelect(tr.dataset.id);
        tr.addEventListener("click", pick);
        tr.addEventListener("keydown", (ev) => {
            if (ev.key === "Enter") pick();
        });
    }
}

async function metersLoad() {
    const data = await Api.get("/api/meters");
    return (data && data.meters) || [];
}
