/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The daemon's log. Every layer writes lines on stderr (the decoders never
 * log; export/ and librdkafka's default logger print there too). With
 * log.format plain or json, nm_log_start() puts a pipe in place of stderr
 * and a relay thread turns each line into one timestamped, levelled line
 * on the real stderr:
 *
 *   plain  2026-12-02T10:00:00.123Z info netmeta: ready
 *   json   {"ts":"2026-12-02T10:00:00.123Z","level":"info","msg":"netmeta: ready"}
 *
 * The level is read from the line: "warning:" is a warning; refusals,
 * failures and first drops are errors or warnings; librdkafka's
 * "%N|time|FAC|name| msg" carries its syslog level N. Lines below
 * log.level are dropped (the level can change with a reload).
 *
 * With format bare (the default) lines keep their form. At log.level info
 * or debug stderr is left as it is (nothing to filter: netmeta writes no
 * debug lines; librdkafka writes them only with its "debug" property). A
 * level of warning or error, at start or from a reload, starts the same
 * relay, which then writes each line unchanged or drops it, as plain and
 * json do, and stays for the rest of the run. Stderr is piped only when
 * needed because a relay loses what sits in the pipe when the process dies
 * at once (an assert's or a sanitizer's report).
 */
#ifndef NM_LOG_H
#define NM_LOG_H

#include <stdbool.h>

enum nm_log_level { NM_LOG_ERROR, NM_LOG_WARNING, NM_LOG_INFO, NM_LOG_DEBUG };
enum nm_log_format { NM_LOG_BARE, NM_LOG_PLAIN, NM_LOG_JSON };

/* The level lines must reach to be written. In bare format after
 * nm_log_start(), a level below info starts the relay; call it from one
 * thread at a time (main, then the stats thread at a reload). */
void nm_log_set_level(enum nm_log_level l);

/* "bare", "plain", "json" -> enum nm_log_format, or -1. */
int nm_log_format_parse(const char *s);

/* Starts the relay for plain or json, and for bare when the level is below
 * info (else later, when a reload lowers it). 0, or -1 (stderr stays as it
 * was). */
int nm_log_start(enum nm_log_format f);

/* Flushes stderr, lets the relay write every line, puts stderr back. */
void nm_log_stop(void);

/* The level a line gets (exposed for tests). */
enum nm_log_level nm_log_classify(const char *line, const char **msg);

#endif
