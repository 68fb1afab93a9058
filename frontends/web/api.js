// api: the page's one way to the twin's JSON API (docs/http.md) and its
// server-sent events. The token (--http-token) comes from the page's own
// address (?token=T) and goes with every call as "Authorization: Bearer T",
// and with the event stream as ?token=T (EventSource cannot set headers).
// Errors become ApiError with the server's message, so the page can show
// exactly why a call was refused (403 wrong password, 409 Bluetooth off).
"use strict";

class ApiError extends Error {
    constructor(status, message, body) {
        super(message);
        this.status = status;
        this.body = body;
    }
}

const Api = {
    token: new URLSearchParams(location.search).get("token") || "",

    // GET/POST/PUT PATH with an optional JSON body; resolves to the parsed
    // answer (or null for an empty one), rejects with ApiError.
    async call(method, path, body) {
        const headers = {};
        if (this.token) headers.Authorization = "Bearer " + this.token;
        if (body !== undefined) headers["Content-Type"] = "application/json";
        let res;
        try {
            res = await fetch(path, {
                method,
                headers,
                body: body === undefined ? undefined : JSON.stringify(body),
                cache: "no-store",
            });
        } catch (e) {
            throw new ApiError(0, "the twin does not answer (" + e.message + ")", null);
        }
        const text = await res.text();
        let data = null;
        try {
            data = text ? JSON.parse(text) : null;
        } catch (e) {
            data = { error: text };
        }
        if (!res.ok) {
            const msg = (data && (data.error || data.message)) || res.statusText || "error";
            throw new ApiError(res.status, `${msg} (HTTP ${res.status})`, data);
        }
        return data;
    },
    get(path) {
        return this.call("GET", path);
    },
    post(path, body) {
        return this.call("POST", path, body === undefined ? {} : body);
    },
    put(path, body) {
        return this.call("PUT", path, body);
    },
    meter(id, tail) {
        return `/api/meters/${encodeURIComponent(id)}${tail || ""}`;
    },

    // The event stream of one meter: handlers by event name ("lcd",
    // "readings", "indicators"), each given the parsed data. Returns the
    // EventSource (close() it to stop).
    events(id, handlers, onState) {
        const q = new URLSearchParams({ meter: id });
        if (this.token) q.set("token", this.token);
        const es = new EventSource("/api/events?" + q.toString());
        for (const name of Object.keys(handlers))
            es.addEventListener(name, (ev) => {
                let data;
                try {
                    data = JSON.parse(ev.data);
                } catch (e) {
                    return;
                }
                handlers[name](data);
            });
        if (onState) {
            es.onopen = () => onState(true);
            es.onerror = () => onState(false);
        }
        return es;
    },
};
