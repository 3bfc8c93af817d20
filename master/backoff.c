/*
 * backoff - restart delay and crash-loop detection for supervised daemons
 * (see backoff.h for the rule and why it counts quick crashes).  master
 * calls backoff_started when it forks a daemon and backoff_crashed when
 * one dies without being asked to.
 */
#include <string.h>
#include "backoff.h"

void backoff_init(struct backoff *b)
{
    memset(b, 0, sizeof(*b));
    b->next_delay_ms = BACKOFF_INITIAL_MS;
}

void backoff_started(struct backoff *b, uint64_t now_ms)
{
    b->started_ms = now_ms;
}

int64_t backoff_crashed(struct backoff *b, uint64_t now_ms)
{
    uint64_t delay;

    if (b->gave_up)
        return -1;
    if (now_ms - b->started_ms >= BACKOFF_STABLE_MS) {
        /* It ran a good while: not a crash loop. */
        b->next_delay_ms = BACKOFF_INITIAL_MS;
        b->quick_crashes = 0;
    }
    if (++b->quick_crashes > BACKOFF_MAX_CRASHES) {
        b->gave_up = 1;
        return -1;
    }
    delay = b->next_delay_ms;
    b->next_delay_ms = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay * 2;
    return (int64_t)delay;
}
