/*
 * queueid - unique, time-sortable queue ids.  Uniqueness across processes
 * comes from the pid digits; within a process from the counter, and if the
 * counter wraps inside one microsecond we wait for the clock to move on.
 */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include "queueid.h"

static uint64_t qid_last_us;
static unsigned qid_counter;

static uint64_t now_us(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

void queue_id_new(char out[QUEUE_ID_SIZE])
{
    uint64_t us = now_us();

    if (us <= qid_last_us) {
        if (qid_counter < 0xfff) {
            us = qid_last_us;
            qid_counter++;
        } else {
            while ((us = now_us()) <= qid_last_us)
                ;
            qid_counter = 0;
        }
    } else {
        qid_counter = 0;
    }
    qid_last_us = us;
    snprintf(out, QUEUE_ID_SIZE, "%013llX%06X%03X",
             (unsigned long long)(us & 0xFFFFFFFFFFFFFull),
             (unsigned)getpid() & 0xffffffu, qid_counter & 0xfffu);
}

int queue_id_valid(const char *s)
{
    size_t i;

    for (i = 0; i < QUEUE_ID_LEN; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return s[QUEUE_ID_LEN] == '\0';
}

uint64_t queue_id_time_us(const char *id)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < 13; i++) {
        char c = id[i];
        v = v * 16 + (uint64_t)(c <= '9' ? c - '0' : c - 'A' + 10);
    }
    return v;
}
