/*
 * libFuzzer target: spool_read on arbitrary file contents.  qmgr reads
 * spool files at start-up; a corrupt or truncated file must be refused
 * cleanly, never crash it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include "spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    struct spool_envelope e;
    uint64_t off, len;
    char err[256];
    FILE *f;

    if (path[0] == '\0')
        snprintf(path, sizeof(path), "/tmp/courser-spool-fuzz-%d", (int)getpid());
    f = fopen(path, "wb");
    if (f == NULL)
        return 0;
    if (size > 0 && fwrite(data, 1, size, f) != size) {
        fclose(f);
        return 0;
    }
    fclose(f);
    if (spool_read(path, &e, &off, &len, err, sizeof(err)) == 0)
        spool_envelope_free(&e);
    return 0;
}
