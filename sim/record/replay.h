/* replay: --replay FILE, a recording (record.h) run again, headless, at
 * full speed, through the same line machines, and its replies compared with
 * those the masters got live (issue 15, point 4).
 *
 *   recording --in records--> socketpair --> link_receive()   (the same code
 *             at their t_ns, the loop's      stamped loop_woke() as live
 *             clock jumping there (loop.h: manual)
 *   link_transmit() --> socketpair --> compared, byte by byte, with the
 *                                      recording's "out" records
 *
 * No pty, no port, no wall clock: the loop's virtual clock jumps from one
 * deadline to the next, and each recorded input is put in its socket just
 * before the round that stamps it with its recorded time, so the meters see
 * the same bytes at the same virtual instants as live. A reply that differs
 * is told with the number of the "out" record it differs in.
 *
 * Known inaccuracies: the run's own wake-ups (deadlines) fall exactly on
 * time where live they fell a little late; the results do not depend on it
 * (pace never changes the results), which the tests of live sessions check.
 * Two things do depend on it: a Modbus TCP request queued behind another
 * starts when the host next looks (the recording's "start" records say
 * when, and the gateways wait for them: gateway.h, gated), and a window
 * action reaches a meter that bus traffic had moved past its recorded time
 * late (told once).
 */
#ifndef METERSIM_REPLAY_H
#define METERSIM_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "endpoints.h"
#include "loop.h"
#include "recfile.h"
#include "runner.h"

typedef struct replay replay_t;

/* Makes a socket pair for each recorded endpoint. NULL with a message. */
replay_t *replay_new(const recfile_t *rf, char *err, size_t errlen);

/* The recording it plays. */
const recfile_t *replay_file(const replay_t *p);

/* The runner's end of endpoint k's socket (it owns it from then on). */
int replay_fd(const replay_t *p, int k);

/* Drives `loop` from the recording: the clock of its own, the inputs put in
 * the sockets at their times, the endpoints' ports (peer baud rates). */
void replay_attach(replay_t *p, loop_t *loop, endpoints_t *ep);

/* After each round: the replies read and compared; the person's actions of
 * that instant applied. Sets *stop at the first difference. */
void replay_round(replay_t *p, runner_t *r, volatile int *stop);

/* The end: what the recording has and the replay did not send is a
 * difference too. Prints the outcome on standard error. Returns 0 when the
 * replies were identical, 1 when not. Frees p. */
int replay_finish(replay_t *p);

#endif
