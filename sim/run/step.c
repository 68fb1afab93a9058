/* step: moving the fleet (run_internal.h): the common stops every meter
 * crosses together, one meter's samples, a bus brought up to its traffic,
 * and, in a paced run, the catch-up with the wall clock at every wake of the
 * loop and the deadline it sleeps to. The scenario's timeline (run_apply)
 * and its requests are runner.c's. */
#include "run_internal.h"

/* 50 ms: how far a paced run lets the meters fall behind before it moves
 * them on (what input may wait for them to catch up). */
#define PACED_TICKS 400u
/* A paced run with nothing due sleeps (docs/decisions.md, an idle host): it
 * wakes for what is due (an event, a line's work, a byte to stream, a
 * reading for the log, a client's timeout) and otherwise only to move the
 * fleet on, about one meter-second of samples at a time, so that the
 * catch-up any input waits for stays small: every second for one meter,
 * every 1/n s for n, never more often than PACED_TICKS. */
#define IDLE_METER_TICKS VTIME_SAMPLE_RATE

/* ---- moving the simulation ------------------------------------------------ */

/* sync_bus(): which of a bus's meters move */
typedef enum {
    SYNC_ALL, /* input goes to them */
    SYNC_DUE, /* replies are collected: the meters with line work due */
} sync_t;
static void sync_bus(run_t *r, run_bus_t *b, uint64_t now_ns, sync_t which, const bool *lag);

/* Replies the meters have made by now go onto their lines (lazy stepping:
 * the meters with line work due get here first). */
static void collect(run_t *r)
{
    uint64_t now = now_ns(r);
    for (int b = 0; b < r->sc->n_buses; b++)
        for (int l = 0; l < METER_LINES; l++)
            if (bus_deadline(&r->buses[b].line[l]) <= now) {
                if (r->lazy) {
                    sync_bus(r, &r->buses[b], now, SYNC_DUE, NULL);
                    break;
                }
                bus_collect(&r->buses[b].line[l]);
            }
}

/* The ports hear the replies; a line nobody waits on is quiet again once its
 * last reply has ended. */
uint64_t run_serve(run_t *r, uint64_t now)
{
    /* A paced run: the replies due by `now` are on their lines before the
     * endpoints judge their answer times at `now`. The catch-up at the wake
     * collected them only up to the wake; a round that outlasted a gateway's
     * timeout (the first calls of 10 000 meters, when the first requests
     * came at once) timed out requests whose replies were due within it.
     * A bus brought up to `now` is no further than the next input's stamp. */
    for (int b = 0; r->paced && b < r->sc->n_buses; b++)
        for (int l = 0; l < METER_LINES; l++)
            if (bus_deadline(&r->buses[b].line[l]) <= now) {
                sync_bus(r, &r->buses[b], now, SYNC_DUE, NULL);
                break;
            }
    uint64_t next = endpoints_service(&r->ep, now);
    if (r->o->service)
        r->o->service->step(r->o->service->ctx, r);
    for (int b = 0; b < r->sc->n_buses; b++)
        for (int l = 0; l < METER_LINES; l++) {
            bus_t *line = &r->buses[b].line[l];
            if (line->hold || !line->n_replies)
                continue;
            if (r->o->fast || now >= line->busy_until_ns)
                bus_clear(line);
            else if (line->busy_until_ns < next)
                next = line->busy_until_ns;
        }
    return next;
}

/* The longest step of a quiet run (next_stop), seconds. */
#define QUIET_MAX_S 3600u

/* The next tick every meter must reach together: an event, a second
 * (profiles move once a second), an answer time, the end, or at most a
 * chunk on. Between two such stops a meter may run ahead of the others. */
static uint64_t next_stop(const run_t *r)
{
    const scenario_t *sc = r->sc;
    /* Headless at full speed in --fidelity auto, with nobody looking between
     * the seconds (no port, no trace, no state file, no --every), the stops
     * are the seconds and the events alone: each stop ends a call of every
     * meter, and the end of a call (the display brought up to date from a
     * full set of readings) was a fifth of a steady week's time
     * (docs/performance.md). */
    bool quiet = r->o->fidelity == RUNNER_FIDELITY_AUTO && !r->paced && !r->trace && !r->state.n &&
                 !r->ep.n_serial && !r->ep.n_tcp && r->o->every % VTIME_SAMPLE_RATE == 0;
    uint64_t stop_at = r->tick + (quiet ? VTIME_SAMPLE_RATE : CHUNK_TICKS);
    uint64_t second = (r->tick / VTIME_SAMPLE_RATE + 1) * VTIME_SAMPLE_RATE;
    if (quiet) {
        /* Nor are the seconds at which no profile moves: over a flat
         * stretch (a night's constant load) every meter runs to the second
         * at which its waveform may change, an hour at most; run_set_waves()
         * there sees what it would have seen at every second before. */
        uint64_t change = UINT64_MAX;
        for (int k = 0; k < sc->n_meters; k++) {
            uint64_t t = scenario_wave_next_change(&r->grid, &r->loads[k], r->tick);
            if (t < change)
                change = t;
        }
        uint64_t at =
            change >= UINT64_MAX - VTIME_SAMPLE_RATE
                ? UINT64_MAX
                : (change + VTIME_SAMPLE_RATE - 1) / VTIME_SAMPLE_RATE * VTIME_SAMPLE_RATE;
        uint64_t cap = second + (QUIET_MAX_S - 1) * (uint64_t)VTIME_SAMPLE_RATE;
        stop_at = at < second ? second : at > cap ? cap : at;
    }
    if (second < stop_at && !quiet)
        stop_at = second;
    /* The log's readings (--every) fall on stops at any pace: a divisor of a
     * second is not on the seconds, and a stop grid shifted by an event (or,
     * paced, by a wake) missed most of its multiples. */
    if (r->o->every) {
        uint64_t e = (r->tick / r->o->every + 1) * r->o->every;
        if (e < stop_at)
            stop_at = e;
    }
    if (r->next_event < sc->n_events && sc->events[r->next_event].at_tick < stop_at)
        stop_at = sc->events[r->next_event].at_tick;
    for (int b = 0; b < sc->n_buses; b++)
        for (int l = 0; l < METER_LINES; l++)
            if (r->buses[b].xfer[l].ev && ceil_tick(r->buses[b].xfer[l].timeout_ns) < stop_at)
                stop_at = ceil_tick(r->buses[b].xfer[l].timeout_ns);
    if (!r->forever && r->end > r->tick && r->end < stop_at)
        stop_at = r->end;
    /* While the LCD is traced, the common stops fall on its grid too: a run
     * of samples must end on every point of it (trace_run_cap), and a stop
     * off the grid would cut each chunk after it in two (a sixth more calls
     * of every meter at sample level, bench_trace). */
    if (stop_at > r->tick)
        stop_at = r->tick + trace_run_cap(r->trace, r->tick, (size_t)(stop_at - r->tick));
    return stop_at > r->tick ? stop_at : r->tick + 1;
}

/* Meter k's samples up to `target` (a tick), from wherever it is. */
static void advance(run_t *r, int k, uint64_t target)
{
    meter_t *m = &r->meters[k];
    uint64_t t = meter_now_ns(m) / VTIME_NS_PER_TICK;
    bool steady = r->o->fidelity == RUNNER_FIDELITY_AUTO;
    while (t < target) {
        /* The phasors need no buffer: a steady meter takes the run to the
         * next stop in one call (next_stop bounds it). */
        bool phasors = steady && r->described_ok[k];
        size_t n = target - t < CHUNK_TICKS || phasors ? (size_t)(target - t) : CHUNK_TICKS;
        n = trace_run_cap(r->trace, t, n); /* the LCD's grid (trace.h) */
        trace_meter(r->trace, k, m, &r->waves[k].desc);
        if (phasors) {
            /* --fidelity auto: the phasors, steady cycles in closed form. */
            meter_exec_steady(m, &r->phasors[k], n);
            wave_skip(&r->waves[k], n);
        } else {
            if (steady)
                meter_exec_steady(m, NULL, 0); /* the open cycle back to the samples */
            wave_fill(&r->waves[k], r->buf, n);
            meter_exec(m, r->buf, n);
        }
        t += n;
    }
    trace_meter(r->trace, k, m, &r->waves[k].desc);
}

void run_advance_meter(run_t *r, int k, uint64_t target)
{
    uint64_t at = r->pend_at[k];
    if (at <= target) { /* the waveform set while it lagged, at its tick */
        advance(r, k, at);
        r->pend_at[k] = VTIME_NEVER;
        run_wave_at(r, k, &r->pend[k], at);
    }
    advance(r, k, target);
}

void run_gather(run_t *r)
{
    for (int k = 0; k < r->sc->n_meters; k++)
        run_advance_meter(r, k, r->tick);
}

/* A bus's meters up to `now_ns` (no further than the next common stop), its
 * replies collected: what a master on it must see before it sends or hears.
 * Only the buses with traffic move at this fine grain; the rest of the fleet
 * moves at the common stops (a thousand meters are not run tick by tick
 * because one of them is asked something). */
static void sync_bus(run_t *r, run_bus_t *b, uint64_t now_ns, sync_t which, const bool *lag)
{
    uint64_t target = ceil_tick(now_ns), cap = next_stop(r);
    /* Nor past an event not yet applied: between a step's end and the
     * events at its tick (run_advance_to's replies and ports), next_stop()
     * says a tick on, and a meter whose frame's t3.5 fell in that tick
     * ended it before the request sent at the event came to join it (the
     * request was answered paced, lost at full speed). */
    const scenario_t *sc = r->sc;
    if (r->next_event < sc->n_events && sc->events[r->next_event].at_tick < cap)
        cap = sc->events[r->next_event].at_tick;
    if (target > cap)
        target = cap;
    for (int i = 0; i < b->n; i++) {
        /* Lazy stepping: to collect replies, only the meters with line
         * work due by then move (each of 200 meters on a bus sees every
         * frame, but one answers), and input goes to all but those it
         * cannot concern (bus.h `lag`). Otherwise the whole bus moves (a
         * trace sees each meter at each of its calls). */
        const meter_t *m = b->members[i];
        bool move = which == SYNC_ALL ? !(lag && lag[i]) : !r->lazy;
        for (int l = 0; !move && l < METER_LINES; l++)
            move = meter_line_wants(m, (meter_line_t)l) <= target * VTIME_NS_PER_TICK;
        if (move)
            run_advance_meter(r, b->index[i], target);
    }
    for (int l = 0; l < METER_LINES; l++)
        if (bus_deadline(&b->line[l]) <= target * VTIME_NS_PER_TICK)
            bus_collect(&b->line[l]);
    run_mirror(r); /* before a reply leaves */
}

/* Meter k and its bus up to the loop's wake (a paced run) or where the run
 * is: what a master on its bus would see now (the HTTP service reads and
 * changes a meter at the same instant a Modbus request would). */
void run_sync_meter(run_t *r, int k)
{
    if (r->paced)
        sync_bus(r, &r->buses[r->sc->meters[k].bus], loop_woke(&r->loop), SYNC_ALL, NULL);
}

/* bus.h's hook: a master is about to send on the line. */
void run_bus_sync_hook(void *ctx, bus_t *line, uint64_t now_ns, const bool *lag)
{
    run_t *r = ctx;
    for (int b = 0; b < r->sc->n_buses; b++)
        if (&r->buses[b].line[METER_LINE_MODBUS] == line ||
            &r->buses[b].line[METER_LINE_MBUS] == line) {
            sync_bus(r, &r->buses[b], now_ns, SYNC_ALL, lag);
            return;
        }
}

/* Runs every meter up to `target` (a tick), stopping at every common stop
 * on the way for the timeline, the profiles, the answer times and the log. */
void run_advance_to(run_t *r, uint64_t target)
{
    const scenario_t *sc = r->sc;
    for (;;) {
        while (r->next_event < sc->n_events && sc->events[r->next_event].at_tick <= r->tick)
            run_apply(r, &sc->events[r->next_event++]);
        run_mirror(r);
        if (r->tick >= target || *r->stop)
            return;
        uint64_t stop_at = next_stop(r);
        if (target < stop_at)
            stop_at = target;
        if (!r->lazy)
            for (int k = 0; k < sc->n_meters; k++)
                run_advance_meter(r, k, stop_at);
        r->tick = stop_at;
        collect(r);
        trace_waiting(r->trace, endpoints_oldest_waiting(&r->ep));
        trace_time(r->trace, now_ns(r));
        run_check_xfers(r, false);
        run_mirror(r); /* before anything the meters did can be seen */
        if (r->tick % VTIME_SAMPLE_RATE == 0)
            run_set_waves(r);
        if (r->o->every && r->tick % r->o->every == 0) {
            if (r->lazy)
                run_gather(r);
            for (int k = 0; k < sc->n_meters; k++)
                report_readings(r, k);
            if (r->paced)
                fflush(r->o->log);
        }
        /* Last: paced, the ports' replies bring a bus up to the wall clock,
         * past this tick, whose second (its waveforms) and readings are
         * then behind its meters (a reading taken 12 ms late, a new load
         * met 12 ms late). */
        run_serve(r, r->paced ? loop_now(&r->loop) : now_ns(r));
    }
}

/* Lazy stepping: the meters move on in turn, each about once a LAZY_TICKS
 * (a second), to the run's tick: a meter-second is one call (a few mains
 * cycles a call cost 2.5 us of booking each, most of a 10 000-meter fleet's
 * time when all of it moved every 50 ms, docs/performance.md), and no meter
 * lags far when its bus gets a request or an event gathers them all. */
#define LAZY_TICKS VTIME_SAMPLE_RATE

static void take_turns(run_t *r)
{
    uint64_t n = (uint64_t)r->sc->n_meters;
    if (n == 0 || r->tick <= r->lazy_from)
        return;
    r->lazy_credit += (r->tick - r->lazy_from) * n;
    r->lazy_from = r->tick;
    uint64_t turns = r->lazy_credit / LAZY_TICKS;
    r->lazy_credit -= turns * LAZY_TICKS;
    for (uint64_t i = 0; i < turns && i < n; i++) {
        run_advance_meter(r, r->lazy_next, r->tick);
        r->lazy_next = (r->lazy_next + 1) % (int)n;
    }
}

/* How far the fleet may fall behind while nothing is due (IDLE_METER_TICKS). */
static uint64_t idle_ticks(const run_t *r)
{
    uint64_t t = IDLE_METER_TICKS / (uint64_t)(r->sc->n_meters > 0 ? r->sc->n_meters : 1);
    return t < PACED_TICKS ? PACED_TICKS : t;
}

/* The loop woke: the meters catch up with the wall clock before any input is
 * stamped with its time (they may lead it by less than a tick). The whole
 * fleet crosses the common stops passed; a bus with line work due is brought
 * up to now; a bus that gets bytes is brought up to them (bus_sync_hook). */
void run_catch_up(loop_t *l, void *ctx)
{
    run_t *r = ctx;
    uint64_t now = loop_woke(l); /* what input that woke the loop is stamped with */
    /* How late the host woke for what it planned: a host that keeps real
     * time wakes on time; one that cannot falls further behind at every
     * wake (--stats, bench_fleet). */
    uint64_t planned = r->sim_ep.deadline_ns;
    if (planned != VTIME_NEVER && now > planned && r->tick > VTIME_SAMPLE_RATE &&
        now - planned > r->max_lag_ns)
        r->max_lag_ns = now - planned;
    uint64_t target = ceil_tick(now);
    if (target > r->end && !r->forever) {
        /* Past the end only while a request sent at the end waits for its
         * answer time, a tick at a time, as headless at full speed (the
         * same end, the same traces; a paced run used to spin here). */
        while (r->tick >= r->end && r->tick < target && run_xfers_waiting(r) && !*r->stop)
            run_advance_to(r, r->tick + 1);
        target = r->end > r->tick ? r->end : r->tick;
    }
    /* The fleet as a whole moves every PACED_TICKS, at the idle step's
     * point run_sim_deadline() slept to, or when a common stop has come; in
     * between only the buses with work do. (Without the idle step's point,
     * a fleet left off that grid by a wake for input slept to a point it
     * then did not move at: the loop spun there until PACED_TICKS had
     * passed, tens of thousands of empty rounds a second.) */
    uint64_t idle = idle_ticks(r), stop = next_stop(r);
    if (target >= r->tick + PACED_TICKS || target >= (r->tick / idle + 1) * idle ||
        stop <= target) {
        /* A step that has just crossed a common stop ends on it, when that
         * leaves the fleet less than PACED_TICKS (and no idle point)
         * behind: each meter then makes one call, not one to the stop and
         * one on to now. At a whole second that halves the burst (every
         * meter's second closed, then every waveform set anew), the longest
         * round of a 10 000-meter fleet (docs/performance.md). The buses
         * with input are brought up to it (sync_bus); the timeline's events
         * at the stop are applied before any of it, as a step past the stop
         * would have. */
        bool land =
            stop <= target && target - stop < PACED_TICKS && (stop / idle + 1) * idle > target;
        run_advance_to(r, land ? stop : target);
        if (land)
            run_advance_to(r, r->tick); /* the events at the stop */
    }
    for (int b = 0; b < r->sc->n_buses; b++)
        for (int l = 0; l < METER_LINES; l++)
            if (bus_deadline(&r->buses[b].line[l]) <= now) {
                sync_bus(r, &r->buses[b], now, SYNC_DUE, NULL);
                break;
            }
    if (r->lazy)
        take_turns(r);
}

/* The next instant the simulation has something to do, for the loop to
 * sleep on: the next event, a line's reply, a byte to stream, an answer
 * time, the log's next reading, or the fleet's idle step. */
uint64_t run_sim_deadline(run_t *r, uint64_t io_next)
{
    uint64_t idle = idle_ticks(r); /* on its grid: with the log's readings, one wake */
    uint64_t d = (r->tick / idle + 1) * idle * VTIME_NS_PER_TICK;
    if (io_next < d)
        d = io_next;
    if (r->o->every) {
        uint64_t t = (r->tick / r->o->every + 1) * r->o->every * VTIME_NS_PER_TICK;
        if (t < d)
            d = t;
    }
    if (r->next_event < r->sc->n_events) {
        uint64_t t = r->sc->events[r->next_event].at_tick * VTIME_NS_PER_TICK;
        if (t < d)
            d = t;
    }
    for (int b = 0; b < r->sc->n_buses; b++)
        for (int l = 0; l < METER_LINES; l++) {
            uint64_t t = bus_deadline(&r->buses[b].line[l]);
            if (r->buses[b].xfer[l].ev && r->buses[b].xfer[l].timeout_ns < t)
                t = r->buses[b].xfer[l].timeout_ns;
            if (t < d)
                d = t;
        }
    if (!r->forever && r->end * VTIME_NS_PER_TICK < d)
        d = r->end * VTIME_NS_PER_TICK;
    return d;
}
