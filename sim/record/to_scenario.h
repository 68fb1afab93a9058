/* to_scenario: --record-to-scenario FILE OUT.json, a recorded session turned
 * into a scenario that replays it as a master and checks the replies (issue
 * 15, point 4: "a session captured against the twin becomes a CI test").
 *
 *   recording: scenario text + endpoint E (bus B, line L) + "in" and "out" records
 *   OUT.json:  the same scenario, the endpoints of its buses left out (the
 *              scenario is the master now), and in its timeline, in time
 *              order among its own events, for each request on E:
 *                { "at": <the tick it arrived, exactly>, "bus": B,
 *                  "modbus": { "request": <as received>, "raw": true,
 *                              "expect": <the reply without its CRC> } }
 *                or "mbus": { "raw": <frame>, "expect": <reply> }
 *              "expect_none" where no reply came, "expect_garbled" where
 *              what came was not a sound frame; "duration": the session's.
 *
 * A request is the bytes of one read of the port, or of several reads that
 * follow each other within TO_SCENARIO_GAP_NS with no reply between (a
 * client that writes a frame in pieces).
 */
#ifndef METERSIM_TO_SCENARIO_H
#define METERSIM_TO_SCENARIO_H

#define TO_SCENARIO_GAP_NS 5000000ull /* 5 ms: more than t3.5 at 9600 (4 ms) */

/* Returns the exit status: 0 written; 2 the recording was refused (the
 * message is on standard error); 3 OUT could not be written. */
int to_scenario(const char *recording, const char *out);

#endif
