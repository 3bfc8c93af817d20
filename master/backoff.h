/*
 * backoff - master's restart policy for a daemon that exits unexpectedly:
 * exponential delay (100 ms doubling to 30 s) and the crash-loop stop.
 *
 * An instance that ran at least 60 s before it died is "stable": its
 * restart is quick again (100 ms) and the crash-loop count starts over.
 * An instance that died sooner is a "quick crash"; more than 10 quick
 * crashes in a row and master gives up: the daemon stays down.
 *
 * Why not "more than 10 crashes within any 60 s window": with the delays
 * above, 11 instant crashes of one daemon take 81 s (0.1+0.2+...+25.6+30),
 * so such a window never holds more than 10 and the limit could never
 * trigger.  Counting crashes that each happened within 60 s of their start
 * is what the rule means: the daemon cannot stay up for a minute.
 *
 * Pure arithmetic on millisecond timestamps so the unit test can drive it
 * without a clock.
 */
#ifndef COURSER_MASTER_BACKOFF_H
#define COURSER_MASTER_BACKOFF_H

#include <stdint.h>

#define BACKOFF_INITIAL_MS   100u
#define BACKOFF_MAX_MS       30000u
#define BACKOFF_STABLE_MS    60000u     /* a run this long resets everything */
#define BACKOFF_MAX_CRASHES  10u        /* more quick crashes than this: give up */

struct backoff {
    uint64_t next_delay_ms;             /* delay for the next crash */
    uint64_t started_ms;                /* start of the current instance */
    unsigned quick_crashes;             /* consecutive crashes before STABLE_MS */
    int gave_up;
};

void backoff_init(struct backoff *b);
/* The daemon was (re)started at now_ms. */
void backoff_started(struct backoff *b, uint64_t now_ms);
/* The daemon exited unexpectedly at now_ms.  Returns the delay in ms
 * before restarting it, or -1 when it crashed too often: give up. */
int64_t backoff_crashed(struct backoff *b, uint64_t now_ms);

#endif
