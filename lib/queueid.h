/*
 * queueid - queue ids: unique across processes and restarts, sortable by
 * time of creation.
 *
 * Format: 22 upper-case hex digits = 13 digits of microseconds since the
 * epoch, then 6 digits of the pid (pid_max is at most 2^22), then 3 digits
 * of a per-process counter.
 * Byte-wise comparison orders ids by creation time (to the microsecond).
 */
#ifndef COURSER_QUEUEID_H
#define COURSER_QUEUEID_H

#include <stddef.h>
#include <stdint.h>

#define QUEUE_ID_LEN 22
#define QUEUE_ID_SIZE (QUEUE_ID_LEN + 1)

void queue_id_new(char out[QUEUE_ID_SIZE]);
int queue_id_valid(const char *s);
/* Microseconds since the epoch encoded in a valid id. */
uint64_t queue_id_time_us(const char *id);

#endif
