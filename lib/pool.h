/*
 * pool - choosing a member of a <virtual-mta-pool>: smooth weighted round
 * robin (the nginx upstream algorithm).  Every pick adds each usable
 * member's weight to its credit, takes the member with the most credit
 * and charges it the total, so over any run of W picks (W = the sum of
 * the weights) each member is chosen exactly its weight's times, and
 * picks of one member are spread out rather than bunched.
 *
 * A member the caller reports unusable (paused, disabled) is skipped and
 * earns no credit; when none is usable every member counts, so mail is
 * still queued (it waits in the paused queue) rather than refused.
 * Used by qmgr, the one process that routes (so one sequence per pool).
 */
#ifndef COURSER_POOL_H
#define COURSER_POOL_H

#include <stddef.h>
#include <stdint.h>

struct pool_rr {
    size_t n;                   /* members the credits are for */
    int64_t *credit;
};

/* Whether member i may take new mail. */
typedef int (*pool_usable_fn)(void *arg, size_t i);

/* Index of the next member (0..n-1), or -1 if n is 0 or memory ran out
 * when the member count changed (a reload): credits restart from zero. */
long pool_rr_pick(struct pool_rr *st, const uint32_t *weights, size_t n,
                  pool_usable_fn usable, void *arg);
void pool_rr_free(struct pool_rr *st);

#endif
