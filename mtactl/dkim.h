/*
 * dkim - `mtactl dkim keygen|check ...` (dkim.c): key administration done
 * by mtactl itself, not through master.
 */
#ifndef COURSER_MTACTL_DKIM_H
#define COURSER_MTACTL_DKIM_H

/* argv[0] is "dkim".  Returns the exit status. */
int dkim_command(const char *conf, int argc, char **argv);

#endif
