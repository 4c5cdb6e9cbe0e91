/* SPDX-License-Identifier: BSD-3-Clause */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static _Atomic int nm_log_level = NM_LOG_INFO; /* relaxed: a level, no data behind it */
static _Atomic bool nm_log_json;

static const char *const nm_log_names[] = {"error", "warning", "info", "debug"};

void nm_log_set_level(enum nm_log_level l)
{
	atomic_store_explicit(&nm_log_level, (int)l, memory_order_relaxed);
}

enum nm_log_level nm_log_get_level(void)
{
	return (enum nm_log_level)atomic_load_explicit(&nm_log_level, memory_order_relaxed);
}

void nm_log_set_json(bool json)
{
	atomic_store_explicit(&nm_log_json, json, memory_order_relaxed);
}

int nm_log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, nm_log_names[i]) == 0)
			return i;
	return -1;
}

const char *nm_log_level_name(enum nm_log_level l)
{
	return (unsigned)l < 4 ? nm_log_names[l] : "?";
}

/* JSON string body: quotes, backslashes and control characters escaped. */
static void nm_json_escape(char *out, size_t cap, const char *in)
{
	size_t n = 0;
	for (; *in && n + 7 < cap; in++) {
		unsigned char c = (unsigned char)*in;
		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20) {
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
		} else {
			out[n++] = (char)c;
		}
	}
	out[n] = 0;
}

void nm_log(enum nm_log_level l, const char *fmt, ...)
{
	if ((int)l > atomic_load_explicit(&nm_log_level, memory_order_relaxed))
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	size_t ml = strlen(msg);
	while (ml && msg[ml - 1] == '\n')
		msg[--ml] = 0;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char t[96];
	snprintf(t, sizeof(t), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	if (atomic_load_explicit(&nm_log_json, memory_order_relaxed)) {
		char esc[4096];
		nm_json_escape(esc, sizeof(esc), msg);
		fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n", t,
			nm_log_level_name(l), esc);
	} else {
		fprintf(stderr, "%s %s %s\n", t, nm_log_level_name(l), msg);
	}
}
