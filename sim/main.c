/* metersim: the host process. Runs a scenario through a meter and shows
 * what the meter measures (docs/cli.md).
 *
 * Exit status: 0 the run ended as asked; 1 an assertion failed; 2 the command
 * line, the scenario or the state file is invalid, the state file is in
 * use, or the shared files are not found (nothing ran); 3 an I/O error while running
 * (docs/state.md).
 */
#include <math.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "check.h"
#include "http.h"
#include "meter.h"
#include "recfile.h"
#include "record.h"
#include "replay.h"
#include "runner.h"
#include "to_scenario.h"
#include "duration.h"
#include "scenario.h"
#include "share.h"
#include "ui.h"
#include "version.h"

#define EXIT_INVALID 2

static const char usage[] =
    "Usage: metersim [OPTIONS] [SCENARIO.json | NAME]\n"
    "A digital twin of the WAGO 879-3000 (4PU) / 879-3020 (4PS) energy meter.\n"
    "\n"
    "  --scenario FILE     run the scenario in FILE (JSON, docs/scenario.md; a\n"
    "                      last argument that is not an option says the same);\n"
    "                      a NAME without '/' that is no file here is taken from\n"
    "                      the scenario library (--list-scenarios); without it,\n"
    "                      a built-in office load on a 3P4W supply\n"
    "  --list-scenarios    the scenario library's names, one a line\n"
    "  --schema            the path of the scenario format's JSON Schema\n"
    "  --allow-outside-paths  a scenario's CSV files may lie outside its folder\n"
    "                      (by default they must lie under it, symlinks and ..\n"
    "                      resolved; docs/scenario.md, Files)\n"
    "  --until DURATION    stop after this much simulated time (\"250ms\", \"90s\",\n"
    "                      \"15m\", \"24h\", \"7d\", \"1h30m\"; a bare number is seconds);\n"
    "                      without it, the scenario's \"duration\", else its last\n"
    "                      event; a scenario with neither runs until stopped\n"
    "  --headless          no window; run as fast as the CPU allows unless --speed\n"
    "  --text              no window: print the LCD's text on standard error when\n"
    "                      it changes (the fallback where there is no display)\n"
    "  --speed N|max       pace: N times real time, or max (default: 1, or max\n"
    "                      with --headless); the pace never changes the results\n"
    "  --every DURATION    readings in the log this often (default 1s)\n"
    "  --fidelity sample|auto  sample: every tick of 125 us is synthesised and\n"
    "                      measured; auto: a mains cycle whose grid does not\n"
    "                      change is measured in closed form from its phasors,\n"
    "                      the cycles around a change sample by sample (about\n"
    "                      10 to 15 times faster; noise by its expected value;\n"
    "                      docs/metrology.md). Default: auto with --headless,\n"
    "                      sample with the window or --text\n"
    "  --quiet             no periodic readings; events and assertions only\n"
    "  --junit FILE        write the assertions' results as JUnit XML to FILE\n"
    "  --state FILE        keep the meter's memory (energy, settings, counters) in\n"
    "                      FILE: loaded at start, then mapped, so every change is\n"
    "                      in the file at once and a killed twin loses nothing;\n"
    "                      locked for the run (a second metersim on it is refused,\n"
    "                      status 2). A file that is not a metersim state file, of\n"
    "                      an unknown version, of another meter, variant or\n"
    "                      connection, is refused and left alone. A save that\n"
    "                      fails is retried for 5 s, then the run stops (status 3)\n"
    "  --save-interval D   how often --state is made durable (msync), in simulated\n"
    "                      time: what a machine crash can lose (default 60s;\n"
    "                      docs/state.md)\n"
    "  --progress          a progress line on standard error (when it is a terminal)\n"
    "  --stats             at the end, one JSON line on standard error about the\n"
    "                      run itself: simulated and wall time, CPU, how far the\n"
    "                      meters fell behind the wall clock, gateway and TCP counts\n"
    "  --modbus [BUS=]SPEC serve Modbus on SPEC (repeatable; BUS: a bus of the\n"
    "                      scenario by name, default the first):\n"
    "                        pty, pty:PATH, DEVICE  Modbus RTU (A3) on a serial line\n"
    "                        tcp:[HOST:]PORT        Modbus TCP through a gateway in\n"
    "                                               front of the bus (unit id = ID)\n"
    "                        rtu-over-tcp:[HOST:]PORT  RTU frames on a TCP stream\n"
    "                      HOST defaults to 127.0.0.1 (docs/network.md)\n"
    "                      PORT (serial): \"pty\" (a new pseudo-\n"
    "                      terminal; its path is printed), \"pty:PATH\" (also a\n"
    "                      symlink at PATH), or a device such as /dev/ttyUSB0\n"
    "                      (the meter's baud rate and parity, 8 data bits, 1 stop)\n"
    "  --mbus [BUS=]SPEC   serve M-Bus (A2) on SPEC (repeatable): pty, pty:PATH,\n"
    "                      DEVICE (a client needs a level converter on copper), or\n"
    "                      tcp:[HOST:]PORT (M-Bus frames on a TCP stream)\n"
    "                      With an endpoint the twin runs in real time.\n"
    "  --tcp-idle D        close a TCP client that sent no request for D\n"
    "                      (default 60s)\n"
    "  --gateway-timeout D Modbus TCP: a meter that does not start its reply\n"
    "                      within D gets exception 0x0B (default 200ms)\n"
    "  --copper            on a pty, a client at another baud rate than the meter's\n"
    "                      is not understood, as on copper (and it is logged)\n"
    "  --fast              wire-time emulation off: a request is answered the moment\n"
    "                      it is complete (for benchmarks; docs/cli.md)\n"
    "  --record FILE       write every input the twin receives (a master's bytes\n"
    "                      on each serial port and TCP connection, the window's\n"
    "                      actions) with its virtual time, the replies, the\n"
    "                      scenario and the flags to FILE (JSON lines,\n"
    "                      docs/record.md); not with --state (status 2);\n"
    "                      FILE not writable: status 3\n"
    "  --replay FILE       run a recording again, headless, at full speed, without\n"
    "                      ports, and compare the replies with the recorded ones:\n"
    "                      status 1 and the record number where they differ; a\n"
    "                      recording truncated, of another version or out of\n"
    "                      order is refused with status 2\n"
    "  --record-to-scenario FILE OUT.json\n"
    "                      turn a recording into a scenario whose Modbus/M-Bus\n"
    "                      steps send the recorded requests at their times and\n"
    "                      expect the recorded replies (a CI test); status 2 for\n"
    "                      a refused recording, 3 if OUT.json cannot be written\n"
    "  --trace-vcd FILE    a bit-level VCD of every serial line (one wire a\n"
    "                      direction), the S0 outputs, the LED, the tariff input\n"
    "                      and each phase's supply, in virtual time (sigrok,\n"
    "                      PulseView, GTKWave; docs/trace.md)\n"
    "  --trace-pcap FILE   every Modbus RTU, Modbus/TCP and M-Bus frame in a pcap\n"
    "                      (nanosecond, link type 252) that tshark dissects\n"
    "  --trace-jsonl FILE  one JSON object a line per frame, pulse edge, input\n"
    "                      change, LCD change and published window (t_ns)\n"
    "  --trace-from D      the traces start at this simulated time (default 0)\n"
    "  --trace-until D     ... and end at this one (default: the end of the run)\n"
    "                      A trace file that cannot be written: status 3, nothing ran\n"
    "  --check SCENARIO... load and validate each scenario as a run would (its\n"
    "                      CSV profiles too) and run nothing: \"FILE: ok\" on\n"
    "                      standard output, or every error found, one a line,\n"
    "                      FILE:LINE:COL: PATH: what (status 2)\n"
    "  --http [HOST:]PORT  a web service: the configurator app's functions and the\n"
    "                      front panel in a browser at http://HOST:PORT/, and a\n"
    "                      JSON control API under /api/ (docs/http.md). HOST\n"
    "                      defaults to 127.0.0.1; any other address needs\n"
    "                      --http-token (status 2 without). PORT 0: any free\n"
    "                      port (printed). With it the twin runs in real time\n"
    "                      unless --speed is given\n"
    "  --http-token TOKEN  every request must present TOKEN (\"Authorization:\n"
    "                      Bearer TOKEN\", ?token=TOKEN, or the cookie the page\n"
    "                      gets from ?token=); required off loopback\n"
    "  --help              this text\n"
    "  --version           the program's version (VERSION, and the git commit it\n"
    "                      was built from, where there was one)\n"
    "\n"
    "Output: a log of JSON lines on standard output: the readings every\n"
    "simulated second, every event and every assertion (docs/cli.md).\n"
    "\n"
    "Exit status: 0 done; 1 an assertion failed (--replay: a reply differs); 2\n"
    "invalid command line, scenario, state file or recording, or a state file\n"
    "in use, or the shared files (library, schema) not found (nothing ran); 3\n"
    "an I/O error while running (a state file not saved, a recording or a\n"
    "trace file not written).\n";

static volatile int stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* --fidelity as given; unset: auto headless, sample with a window. */
enum { FIDELITY_UNSET = 0, FIDELITY_SAMPLE, FIDELITY_AUTO };

typedef struct {
    const char *scenario;
    int fidelity;
    uint64_t until; /* ticks; 0: the scenario's own end */
    uint64_t every; /* ticks between readings in the log */
    int headless;
    int text;
    int progress;
    int stats;
    const char *junit;
    const char *state;               /* --state FILE, or NULL */
    runner_endpoint_t endpoints[64]; /* --modbus / --mbus */
    int n_endpoints;
    uint64_t tcp_idle, gateway_timeout; /* ticks; 0: defaults */
    int copper, fast;
    int allow_outside_paths;
    uint64_t save_interval; /* ticks */
    int speed_given;
    double speed;       /* 0: as fast as possible */
    const char *record; /* --record FILE */
    const char *replay; /* --replay FILE */
    trace_opts_t trace;
    uint64_t trace_from, trace_until; /* ticks */
    const char *http;                 /* --http [HOST:]PORT */
    const char *http_token;           /* --http-token */
} options_t;

/* --modbus [BUS=]SPEC / --mbus [BUS=]SPEC */
static int parse_endpoint(options_t *o, const char *flag, const char *val)
{
    bool modbus = strcmp(flag, "--modbus") == 0;
    if (o->n_endpoints == (int)(sizeof o->endpoints / sizeof o->endpoints[0])) {
        fprintf(stderr,
                "metersim: %s %s: at most 64 endpoints on the command line (a scenario's "
                "\"buses\" can name more)\n",
                flag, val);
        return EXIT_INVALID;
    }
    runner_endpoint_t *e = &o->endpoints[o->n_endpoints];
    memset(e, 0, sizeof *e);
    e->modbus = modbus;
    e->text = val;
    const char *spec = val;
    const char *eq = strchr(val, '=');
    /* A bus name is before '=' and contains no ':' or '/' (pty:/a=b is a path). */
    if (eq && eq != val && !memchr(val, ':', (size_t)(eq - val)) &&
        !memchr(val, '/', (size_t)(eq - val))) {
        size_t n = (size_t)(eq - val);
        if (n >= sizeof e->bus) {
            fprintf(stderr, "metersim: %s %s: a bus name has at most 31 characters\n", flag, val);
            return EXIT_INVALID;
        }
        memcpy(e->bus, val, n);
        e->bus[n] = '\0';
        spec = eq + 1;
    }
    char err[512];
    if (!endpoint_spec_parse(spec, modbus, &e->spec, err, sizeof err)) {
        fprintf(stderr, "metersim: %s %s: %s\n", flag, val, err);
        return EXIT_INVALID;
    }
    o->n_endpoints++;
    return 0;
}

/* --list-scenarios, --schema: what the shared folder holds (share.h). */
static int share_print(const char *flag)
{
    share_t sh;
    char err[4 * SHARE_PATH_MAX];
    if (!share_find(&sh, err, sizeof err) ||
        (strcmp(flag, "--schema") != 0 && !share_list(&sh, err, sizeof err))) {
        fprintf(stderr, "metersim: %s: %s\n", flag, err);
        return EXIT_INVALID;
    }
    if (strcmp(flag, "--schema") == 0)
        puts(sh.schema);
    return 0;
}

/* A scenario named without a folder, no file here: the library's. */
static int library_scenario(options_t *o, char *path, size_t cap)
{
    share_t sh;
    char err[4 * SHARE_PATH_MAX];
    if (!share_find(&sh, err, sizeof err) ||
        !share_scenario(&sh, o->scenario, path, cap, err, sizeof err)) {
        fprintf(stderr, "metersim: --scenario %s: %s\n", o->scenario, err);
        return EXIT_INVALID;
    }
    o->scenario = path;
    return 0;
}

static int parse_args(int argc, char **argv, options_t *o)
{
    int speed_given = 0;
    memset(o, 0, sizeof *o);
    o->speed = 1.0;
    o->every = VTIME_SAMPLE_RATE;
    o->save_interval = 60ull * VTIME_SAMPLE_RATE; /* docs/state.md */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        } else if (strcmp(a, "--version") == 0) {
            printf("metersim %s\n", version_string());
            exit(0);
        } else if (strcmp(a, "--list-scenarios") == 0 || strcmp(a, "--schema") == 0) {
            exit(share_print(a));
        } else if (strcmp(a, "--record-to-scenario") == 0) {
            if (i + 2 >= argc || argc != 4) {
                fprintf(stderr, "metersim: --record-to-scenario FILE OUT.json takes two files "
                                "and no other option (see --help)\n");
                exit(EXIT_INVALID);
            }
            exit(to_scenario(argv[i + 1], argv[i + 2]));
        } else if (strcmp(a, "--headless") == 0) {
            o->headless = 1;
        } else if (strcmp(a, "--copper") == 0) {
            o->copper = 1;
        } else if (strcmp(a, "--fast") == 0) {
            o->fast = 1;
        } else if (strcmp(a, "--allow-outside-paths") == 0) {
            o->allow_outside_paths = 1;
        } else if (strcmp(a, "--text") == 0) {
            o->text = 1;
        } else if (strcmp(a, "--progress") == 0) {
            o->progress = 1;
        } else if (strcmp(a, "--stats") == 0) {
            o->stats = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            o->every = 0;
        } else if (strcmp(a, "--scenario") == 0 || strcmp(a, "--until") == 0 ||
                   strcmp(a, "--speed") == 0 || strcmp(a, "--junit") == 0 ||
                   strcmp(a, "--every") == 0 || strcmp(a, "--state") == 0 ||
                   strcmp(a, "--save-interval") == 0 || strcmp(a, "--modbus") == 0 ||
                   strcmp(a, "--mbus") == 0 || strcmp(a, "--tcp-idle") == 0 ||
                   strcmp(a, "--gateway-timeout") == 0 || strcmp(a, "--record") == 0 ||
                   strcmp(a, "--replay") == 0 || strncmp(a, "--trace-", 8) == 0 ||
                   strcmp(a, "--fidelity") == 0 || strcmp(a, "--http") == 0 ||
                   strcmp(a, "--http-token") == 0) {
            if (!val) {
                fprintf(stderr, "metersim: %s needs a value (see --help)\n", a);
                return EXIT_INVALID;
            }
            i++;
            if (strcmp(a, "--trace-vcd") == 0) {
                o->trace.vcd = val;
            } else if (strcmp(a, "--trace-pcap") == 0) {
                o->trace.pcap = val;
            } else if (strcmp(a, "--trace-jsonl") == 0) {
                o->trace.jsonl = val;
            } else if (strcmp(a, "--trace-from") == 0 || strcmp(a, "--trace-until") == 0) {
                uint64_t *d = a[8] == 'f' ? &o->trace_from : &o->trace_until;
                if (!duration_parse(val, d) || (a[8] == 'u' && *d == 0)) {
                    fprintf(stderr, "metersim: %s %s: expected a duration such as \"90s\"\n", a,
                            val);
                    return EXIT_INVALID;
                }
            } else if (strncmp(a, "--trace-", 8) == 0) {
                fprintf(stderr, "metersim: unknown option %s (see --help)\n", a);
                return EXIT_INVALID;
            } else if (strcmp(a, "--scenario") == 0) {
                o->scenario = val;
            } else if (strcmp(a, "--fidelity") == 0) {
                if (strcmp(val, "sample") == 0) {
                    o->fidelity = FIDELITY_SAMPLE;
                } else if (strcmp(val, "auto") == 0) {
                    o->fidelity = FIDELITY_AUTO;
                } else {
                    fprintf(stderr, "metersim: --fidelity %s: expected sample or auto\n", val);
                    return EXIT_INVALID;
                }
            } else if (strcmp(a, "--http") == 0) {
                o->http = val;
            } else if (strcmp(a, "--http-token") == 0) {
                o->http_token = val;
            } else if (strcmp(a, "--record") == 0) {
                o->record = val;
            } else if (strcmp(a, "--replay") == 0) {
                o->replay = val;
            } else if (strcmp(a, "--junit") == 0) {
                o->junit = val;
            } else if (strcmp(a, "--state") == 0) {
                o->state = val;
            } else if (strcmp(a, "--modbus") == 0 || strcmp(a, "--mbus") == 0) {
                if (parse_endpoint(o, a, val))
                    return EXIT_INVALID;
            } else if (strcmp(a, "--tcp-idle") == 0 || strcmp(a, "--gateway-timeout") == 0) {
                uint64_t *d = a[2] == 't' ? &o->tcp_idle : &o->gateway_timeout;
                if (!duration_parse(val, d) || *d == 0) {
                    fprintf(stderr,
                            "metersim: %s %s: expected a duration such as \"%s\" (more "
                            "than 0)\n",
                            a, val, a[2] == 't' ? "60s" : "200ms");
                    return EXIT_INVALID;
                }
            } else if (strcmp(a, "--save-interval") == 0) {
                if (!duration_parse(val, &o->save_interval) || o->save_interval == 0) {
                    fprintf(stderr,
                            "metersim: --save-interval %s: expected a duration such as "
                            "\"60s\" (more than 0)\n",
                            val);
                    return EXIT_INVALID;
                }
            } else if (strcmp(a, "--every") == 0) {
                if (!duration_parse(val, &o->every) || o->every == 0 ||
                    (VTIME_SAMPLE_RATE % o->every != 0 && o->every % VTIME_SAMPLE_RATE != 0)) {
                    fprintf(stderr,
                            "metersim: --every %s: expected a duration that divides a second or is "
                            "a whole number of seconds (\"100ms\", \"1s\", \"15m\")\n",
                            val);
                    return EXIT_INVALID;
                }
            } else if (strcmp(a, "--until") == 0) {
                if (!duration_parse(val, &o->until) || o->until == 0) {
                    fprintf(stderr,
                            "metersim: --until %s: expected a duration such as \"90s\", \"15m\", "
                            "\"24h\", \"7d\" (more than 0, at most 100 years)\n",
                            val);
                    return EXIT_INVALID;
                }
            } else {
                char *end;
                double s = strtod(val, &end);
                speed_given = 1;
                if (strcmp(val, "max") == 0) {
                    o->speed = 0.0;
                } else if (*end || !(s > 0.0) || !isfinite(s)) {
                    fprintf(stderr, "metersim: --speed %s: expected a positive number or max\n",
                            val);
                    return EXIT_INVALID;
                } else {
                    o->speed = s;
                }
            }
        } else if (a[0] != '-' && !o->scenario && i == argc - 1) {
            o->scenario = a; /* metersim --headless OUT.json (issue 15) */
        } else {
            fprintf(stderr, "metersim: unknown option %s (see --help)\n", a);
            return EXIT_INVALID;
        }
    }
    if (o->trace_until && o->trace_from >= o->trace_until) {
        fprintf(stderr, "metersim: --trace-from must be before --trace-until\n");
        return EXIT_INVALID;
    }
    o->trace.from_ns = o->trace_from * VTIME_NS_PER_TICK;
    o->trace.until_ns = o->trace_until * VTIME_NS_PER_TICK;
    if (o->http_token && !o->http) {
        fprintf(stderr, "metersim: --http-token needs --http\n");
        return EXIT_INVALID;
    }
    /* A person or a harness at the browser lives in real time; a benchmark
     * or a CI run may still ask for --speed (docs/decisions.md). */
    if (o->headless && !speed_given && !o->http)
        o->speed = 0.0;
    o->speed_given = speed_given;
    return 0;
}

/* --replay: the recording's scenario, flags and end; the file itself when
 * it still holds the recorded text, else that text in a temporary file. */
static int replay_setup(options_t *o, recfile_t *rf, char *tmp, size_t tmpcap)
{
    char err[1024];
    if (o->scenario || o->n_endpoints || o->state || o->record || o->until || o->speed_given ||
        o->fast || o->copper || o->allow_outside_paths || o->fidelity) {
        fprintf(stderr,
                "metersim: --replay %s: the scenario, the endpoints and the flags are the "
                "recording's: no --scenario, --modbus, --mbus, --state, --record, "
                "--until, --speed, --fast, --copper, --allow-outside-paths or --fidelity "
                "with it\n",
                o->replay);
        return EXIT_INVALID;
    }
    if (!recfile_load(o->replay, rf, err, sizeof err)) {
        fprintf(stderr, "metersim: --replay: %s\n", err);
        return EXIT_INVALID;
    }
    o->headless = 1;
    o->speed = 1.0; /* the paced path, on the recording's clock (replay.h) */
    o->fast = rf->flags.fast;
    o->copper = rf->flags.copper;
    o->allow_outside_paths = rf->flags.allow_outside_paths;
    o->fidelity = rf->flags.closed_form ? FIDELITY_AUTO : FIDELITY_SAMPLE;
    o->tcp_idle = rf->flags.tcp_idle_ns / VTIME_NS_PER_TICK;
    o->gateway_timeout = rf->flags.gateway_timeout_ns / VTIME_NS_PER_TICK;
    /* The live run's meters stopped at its end record's instant or at its
     * --until, whichever came first (the end record of a run that reached
     * its --until is written a little after it): the replay's too, or it
     * would publish a window the live run never did. */
    uint64_t t_end = rf->e[rf->n - 1].t_ns;
    if (rf->flags.until_ns && rf->flags.until_ns < t_end)
        t_end = rf->flags.until_ns;
    o->until = (t_end + VTIME_NS_PER_TICK - 1) / VTIME_NS_PER_TICK;
    if (o->until == 0)
        o->until = 1;
    if (!rf->scenario_path)
        return 0;
    size_t len = 0;
    char *now = record_slurp(rf->scenario_path, &len);
    char crc_now[9] = "", crc_then[9];
    if (now)
        record_crc_text(now, len, crc_now);
    free(now);
    record_crc_text(rf->scenario_text, strlen(rf->scenario_text), crc_then);
    if (strcmp(crc_now, crc_then) == 0) {
        o->scenario = rf->scenario_path;
        return 0;
    }
    /* The file is gone or changed: the text the recording keeps is used. */
    snprintf(tmp, tmpcap, "/tmp/metersim-replay-XXXXXX.json");
    int fd = mkstemps(tmp, 5);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f || fputs(rf->scenario_text, f) == EOF || fclose(f) != 0) {
        fprintf(stderr, "metersim: --replay: cannot write the recorded scenario to %s\n", tmp);
        return 3;
    }
    fprintf(stderr,
            "metersim: --replay: %s has changed since the recording: its recorded text is "
            "used\n",
            rf->scenario_path);
    o->scenario = tmp;
    return 0;
}

/* --record: what a recording cannot hold yet is refused before the run. */
static bool record_allowed(const options_t *o)
{
    if (o->state)
        fprintf(stderr,
                "metersim: --record %s: not with --state: the meters' memory at the start "
                "would not be in the recording, so it could not be replayed\n",
                o->record);
    return !o->state;
}

/* A fleet's listeners and their clients take a descriptor each, past the
 * usual soft limit of 1024: it goes up to the hard limit, as servers do
 * (Redis, nginx). After --http opened: libmicrohttpd's select() takes
 * descriptors below FD_SETSIZE only, and refuses a client above it itself. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    if (check_wanted(argc, argv))
        return check_main(argc, argv);
    options_t o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    recfile_t rf;
    replay_t *replay = NULL;
    char tmp[64] = "";
    if (o.replay && (rc = replay_setup(&o, &rf, tmp, sizeof tmp)) != 0)
        return rc;
    char library_path[SHARE_PATH_MAX];
    if (!o.replay && share_is_library_name(o.scenario) &&
        (rc = library_scenario(&o, library_path, sizeof library_path)) != 0)
        return rc;

    scenario_t sc;
    char err[1024];
    scenario_opts_t so = {.allow_outside_paths = o.allow_outside_paths};
    bool ok = o.scenario ? scenario_load_opts(o.scenario, &so, &sc, err, sizeof err)
                         : scenario_default(&sc, err, sizeof err);
    if (tmp[0])
        remove(tmp);
    if (!ok) {
        fprintf(stderr, "metersim: %s\n", err);
        return EXIT_INVALID;
    }
    if (o.record && !record_allowed(&o)) {
        scenario_free(&sc);
        return EXIT_INVALID;
    }
    /* One master per line: the scenario's requests or a client's. */
    for (size_t i = 0; i < sc.n_events; i++) {
        const scenario_event_t *ev = &sc.events[i];
        if (ev->kind != SCENARIO_EV_MODBUS && ev->kind != SCENARIO_EV_MBUS)
            continue;
        bool modbus = ev->kind == SCENARIO_EV_MODBUS;
        const scenario_bus_t *b = &sc.buses[ev->u.xfer.bus];
        bool served = modbus ? b->n_modbus > 0 : b->n_mbus > 0;
        for (int k = 0; k < o.n_endpoints && !served; k++)
            served = o.endpoints[k].modbus == modbus &&
                     (o.endpoints[k].bus[0] ? strcmp(o.endpoints[k].bus, b->name) == 0
                                            : ev->u.xfer.bus == 0);
        if (served) {
            fprintf(stderr,
                    "metersim: %s: %s: the scenario is a master on the %s line of bus "
                    "\"%s\", and so is a client of an endpoint there: use one or the "
                    "other\n",
                    sc.file, ev->path, modbus ? "Modbus" : "M-Bus", b->name);
            scenario_free(&sc);
            return EXIT_INVALID;
        }
    }
    bool endpoints = o.n_endpoints > 0;
    for (int b = 0; b < sc.n_buses; b++)
        endpoints = endpoints || sc.buses[b].n_modbus || sc.buses[b].n_mbus;
    if (endpoints && o.speed != 1.0 && !o.replay) {
        /* A client lives in real time (A3, EN 13757-2 timeouts, TCP clients). */
        if (o.speed_given)
            fprintf(stderr,
                    "metersim: an endpoint is attached: running in real time, not "
                    "--speed %g\n",
                    o.speed);
        o.speed = 1.0;
    }
    /* Headless runs measure steady cycles in closed form unless told;
     * a person watching sees the sample level (docs/decisions.md). */
    runner_fidelity_t fidelity = o.fidelity == FIDELITY_SAMPLE ? RUNNER_FIDELITY_SAMPLE
                                 : o.fidelity == FIDELITY_AUTO ? RUNNER_FIDELITY_AUTO
                                 : o.headless                  ? RUNNER_FIDELITY_AUTO
                                                               : RUNNER_FIDELITY_SAMPLE;
    record_t *rec = NULL;
    if (o.record) {
        record_flags_t fl = {.fast = o.fast,
                             .copper = o.copper,
                             .allow_outside_paths = o.allow_outside_paths,
                             .closed_form = fidelity == RUNNER_FIDELITY_AUTO,
                             .until_ns = o.until * VTIME_NS_PER_TICK,
                             .tcp_idle_ns = o.tcp_idle * VTIME_NS_PER_TICK,
                             .gateway_timeout_ns = o.gateway_timeout * VTIME_NS_PER_TICK};
        rec = record_open(o.record, o.scenario, &fl, err, sizeof err);
        if (!rec) {
            fprintf(stderr, "metersim: %s\n", err);
            scenario_free(&sc);
            return 3; /* before the run starts */
        }
    }
    if (o.replay && !(replay = replay_new(&rf, err, sizeof err))) {
        fprintf(stderr, "metersim: %s\n", err);
        scenario_free(&sc);
        return 3;
    }
    http_t *http = NULL;
    if (o.http) {
        if (o.replay) {
            fprintf(stderr, "metersim: --http: not with --replay (the recording's inputs are "
                            "the only ones)\n");
            record_close(rec, 0);
            scenario_free(&sc);
            return EXIT_INVALID;
        }
        http_opts_t ho = {.spec = o.http, .token = o.http_token};
        if (!(http = http_open(&ho, err, sizeof err))) {
            fprintf(stderr, "metersim: %s\n", err);
            record_close(rec, 0);
            scenario_free(&sc);
            return EXIT_INVALID;
        }
        fprintf(stderr, "metersim: http: serving on port %u\n", (unsigned)http_port(http));
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    ui_t ui;
    bool have_ui = !o.headless;
    if (have_ui) {
        char why[256], status[300];
        snprintf(status, sizeof status, "%s", sc.name[0] ? sc.name : sc.file);
        if (o.text || !ui_open_window(&ui, status, why, sizeof why)) {
            if (!o.text)
                fprintf(stderr, "metersim: %s; showing the LCD as text instead\n", why);
            ui_open_text(&ui);
        }
    }
    runner_opts_t ro = {.until = o.until,
                        .speed = o.speed,
                        .every = o.every,
                        .log = stdout,
                        .progress = o.progress,
                        .stats = o.stats,
                        .fidelity = fidelity,
                        .junit = o.junit,
                        .state = o.state,
                        .ui = have_ui ? &ui.hook : NULL,
                        .save_interval = o.save_interval,
                        .endpoints = o.endpoints,
                        .n_endpoints = o.n_endpoints,
                        .copper = o.copper,
                        .fast = o.fast,
                        .tcp_idle_ns = o.tcp_idle * VTIME_NS_PER_TICK,
                        .gateway_timeout_ns = o.gateway_timeout * VTIME_NS_PER_TICK,
                        .rec = rec,
                        .replay = replay,
                        .trace = o.trace,
                        .service = http ? http_service(http) : NULL};
    rc = runner_run(&sc, &ro, &stop_requested);
    http_close(http);
    if (replay && rc <= 1) {
        int d = replay_finish(replay);
        rc = rc ? rc : d;
    }
    if (o.replay)
        recfile_free(&rf);
    if (have_ui)
        ui_close(&ui);
    scenario_free(&sc);
    return rc;
}
