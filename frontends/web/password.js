// password: the app's pop-up for the meter's password before settings are
// saved (manual A4.6: "First, a pop-up menu for the password appears. By
// default, the password is always 0000"). Four digits, as the button menu's
// password (6.6.1). Resolves to the digits typed, or null when cancelled.
"use strict";

function passwordAsk(what) {
    const dlg = document.getElementById("password-dialog");
    const input = dlg.querySelector("input");
    dlg.querySelector(".password-what").textContent = what;
    input.value = "";
    return new Promise((resolve) => {
        const done = () => {
            dlg.removeEventListener("close", done);
            resolve(dlg.returnValue === "ok" ? input.value : null);
        };
        dlg.addEventListener("close", done);
        dlg.showModal();
        input.focus();
    });
}
