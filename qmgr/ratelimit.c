/*
 * ratelimit - GCRA rate limiting on a caller-supplied clock (see
 * shaping.h for the arithmetic).  Pure: no time source of its own, so
 * the unit tests drive it with a fake clock.  Time is kept in
 * microseconds so that 83/10m (one every 7.228915 s) does not drift.
 */
#include "shaping.h"

/* interval_us - T for one unit, rounded up: rounding down would let a
 * long run of units exceed the configured rate. */
static int64_t interval_us(const struct cfg_rate *r)
{
    uint64_t num = (uint64_t)r->period * 1000000ULL;

    return (int64_t)((num + r->count - 1) / r->count);
}

uint32_t rate_avail(const struct rate_limit *rl, const struct cfg_rate *r, uint32_t burst,
                    int64_t now_ms, uint32_t want, int64_t *wake_ms)
{
    int64_t t, tau, now = now_ms * 1000, base, n;

    if (r->count == 0 || r->period == 0)
        return want;
    t = interval_us(r);
    tau = (int64_t)(burst ? burst - 1 : 0) * t;
    base = rl->tat_us > now ? rl->tat_us : now;
    if (base - tau > now) {
        if (wake_ms)
            *wake_ms = (base - tau + 999) / 1000;
        return 0;
    }
    n = (now + tau - base) / t + 1;
    return n < (int64_t)want ? (uint32_t)n : want;
}

void rate_take(struct rate_limit *rl, const struct cfg_rate *r, int64_t now_ms, uint32_t n)
{
    int64_t now = now_ms * 1000;

    if (r->count == 0 || r->period == 0)
        return;
    if (rl->tat_us < now)
        rl->tat_us = now;
    rl->tat_us += (int64_t)n * interval_us(r);
}

int rate_volume_ok(const struct rate_limit *rl, const struct cfg_rate *r, int64_t now_ms,
                   int64_t *wake_ms)
{
    if (r->count == 0 || r->period == 0 || rl->tat_us <= now_ms * 1000)
        return 1;
    if (wake_ms)
        *wake_ms = (rl->tat_us + 999) / 1000;
    return 0;
}

void rate_volume_charge(struct rate_limit *rl, const struct cfg_rate *r, int64_t now_ms,
                        uint64_t cost)
{
    int64_t now = now_ms * 1000;
    long double us;

    if (r->count == 0 || r->period == 0)
        return;
    if (rl->tat_us < now)
        rl->tat_us = now;
    /* bytes * period / count can pass 2^63 in integers for big messages */
    us = (long double)cost * (long double)r->period * 1e6L / (long double)r->count;
    rl->tat_us += us > 9e15L ? (int64_t)9e15 : (int64_t)us + 1;
}
