/*
 * bounce_patterns - the bounce category pattern database.
 *
 * Rules are PowerMTA <bounce-category-patterns> lines, `/regex/ category`,
 * compiled with PCRE2 (JIT when available), matched case-insensitively
 * against the subject "X.Y.Z DIAGNOSTIC-TEXT" (enhanced status, one blank,
 * the reply or diagnostic text), so both wording rules and status rules
 * such as /^5\.1\.1/ work.  The first matching rule wins; files loaded
 * earlier take precedence, so the operator's file is loaded before the
 * built-in defaults (conf/bounce-patterns.conf, compiled in).
 *
 * Besides rules a file may hold:
 *   hard-bounce-categories CAT...   the categories that are hard bounces
 *                                   (default bad-mailbox bad-domain
 *                                   inactive-mailbox); the first file that
 *                                   sets it wins
 *   no-builtin-patterns             (operator file) do not load defaults
 *   <bounce-category-patterns> and its closing tag are ignored, so a block
 *   copied from a PowerMTA config can be used as is.
 * Errors name file:line (bad regex with PCRE2's message and offset,
 * missing category, bad category name).
 */
#ifndef COURSER_BOUNCE_PATTERNS_H
#define COURSER_BOUNCE_PATTERNS_H

#include <stddef.h>

struct bounce_patterns;

struct bounce_patterns *bounce_patterns_new(void);
void bounce_patterns_free(struct bounce_patterns *db);
/* Append the rules of a file / of text; 0, or -1 with err = "origin:line: why". */
int bounce_patterns_load_file(struct bounce_patterns *db, const char *path, char *err,
                              size_t errlen);
int bounce_patterns_load_text(struct bounce_patterns *db, const char *text, size_t len,
                              const char *origin, char *err, size_t errlen);
/* Append the compiled-in defaults (unless a loaded file said no-builtin-patterns). */
int bounce_patterns_load_builtin(struct bounce_patterns *db, char *err, size_t errlen);
/* Category of the first rule matching subject, or NULL. */
const char *bounce_patterns_match(struct bounce_patterns *db, const char *subject, size_t len);
/* Is category hard under this database's hard-bounce-categories? */
int bounce_patterns_is_hard(const struct bounce_patterns *db, const char *category);
size_t bounce_patterns_count(const struct bounce_patterns *db);

/* The default file's text (lib/bounce_patterns_builtin.c, generated from
 * conf/bounce-patterns.conf by bounced/gen-builtin-patterns.py). */
extern const char bounce_patterns_builtin[];

#endif
