/*
 * acct_client - qmgr's connection to acctd (see acct_client.c).
 */
#ifndef COURSER_QMGR_ACCT_CLIENT_H
#define COURSER_QMGR_ACCT_CLIENT_H

#include <uv.h>
#include "acct.h"

int acct_client_start(uv_loop_t *loop, const char *socket_path);
/* Queue one record (kept until acctd acknowledges it). */
void acct_client_send(const struct acct_record *r);
size_t acct_client_unacked(void);
void acct_client_stop(void);

#endif
