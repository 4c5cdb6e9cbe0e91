/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The daemon's log: one line per message on stderr, timestamped and
 * levelled, plain ("2026-12-03T10:00:00.123Z info netmeta: ...") or JSON
 * ({"ts":"...","level":"info","msg":"..."}). The level can change while
 * running (a reload); any thread may log (one fprintf per line, which
 * stdio locks).
 */
#ifndef NM_LOG_H
#define NM_LOG_H

#include <stdbool.h>

enum nm_log_level { NM_LOG_ERROR, NM_LOG_WARNING, NM_LOG_INFO, NM_LOG_DEBUG };

void nm_log_set_level(enum nm_log_level l);
enum nm_log_level nm_log_get_level(void);
void nm_log_set_json(bool json);

/* "error", "warning", "info", "debug"; -1 for anything else. */
int nm_log_level_parse(const char *s);
const char *nm_log_level_name(enum nm_log_level l);

/* One line at level l (dropped below the set level); no trailing newline
 * needed. */
void nm_log(enum nm_log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
