/*
 * libFuzzer target: acctdb_parse_line (lib/acctdb.c), the CSV splitter
 * bounced uses on lines read back from acctd's LMDB.  The file is on disk
 * and may be damaged: any bytes must give 0 with at most AF_COUNT
 * NUL-free fields, or -1 with nothing left allocated.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "acctdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct acct_record r;
    int i;

    if (acctdb_parse_line((const char *)data, size, &r) < 0) {
        for (i = 0; i < AF_COUNT; i++)
            if (r.v[i] != NULL)
                __builtin_trap();
        return 0;
    }
    for (i = 0; i < AF_COUNT; i++)
        if (r.v[i] != NULL && (r.v[i][0] == '\0' || strlen(r.v[i]) > size))
            __builtin_trap();
    acct_record_free(&r);
    return 0;
}
