/* SPDX-License-Identifier: BSD-3-Clause */
#include "log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flow_json.h"

static _Atomic int nm_log_level = NM_LOG_INFO; /* relaxed: a level, nothing behind it */
static enum nm_log_format nm_log_fmt;
static int nm_log_out = -1;  /* the real stderr */
static int nm_log_pipe = -1; /* read end */
static pthread_t nm_log_tid;
/* bare: nm_log_start() ran, so a level below info starts the relay. Read
 * and written only by the thread that sets the level (main at start, then
 * the stats thread, which main starts after and joins before exit). */
static bool nm_log_bare_armed;

static int nm_log_relay_start(bool line_buffered);

static const char *const nm_log_names[] = {"error", "warning", "info", "debug"};

void nm_log_set_level(enum nm_log_level l)
{
	atomic_store_explicit(&nm_log_level, (int)l, memory_order_relaxed);
	/* bare, and a reload asks for less than info: the relay from now on
	 * (stderr is in use by other threads: left unbuffered, see below) */
	if (nm_log_bare_armed && nm_log_out < 0 && l < NM_LOG_INFO &&
	    nm_log_relay_start(false) != 0)
		fprintf(stderr, "netmeta: warning: log.level: no pipe for the log relay: "
				"lines stay unfiltered\n");
}

int nm_log_format_parse(const char *s)
{
	static const char *const f[] = {"bare", "plain", "json"};
	for (int i = 0; i < 3; i++)
		if (strcmp(s, f[i]) == 0)
			return i;
	return -1;
}

enum nm_log_level nm_log_classify(const char *line, const char **msg)
{
	*msg = line;
	/* librdkafka's default logger: %LEVEL|seconds.ms|FACILITY|client| message */
	if (line[0] == '%' && line[1] >= '0' && line[1] <= '7' && line[2] == '|') {
		int sys = line[1] - '0';
		const char *p = line;
		for (int bars = 0; bars < 4 && p; bars++)
			p = strchr(p + 1, '|');
		if (p) {
			*msg = p + 1;
			while (**msg == ' ')
				(*msg)++;
		}
		return sys <= 3 ? NM_LOG_ERROR : sys == 4 ? NM_LOG_WARNING : sys <= 6 ? NM_LOG_INFO
										   : NM_LOG_DEBUG;
	}
	if (strstr(line, "warning:") || strstr(line, "first record dropped") ||
	    strstr(line, "needs a restart") || strstr(line, "the running config stays"))
		return NM_LOG_WARNING;
	if (strstr(line, "refused") || strstr(line, "cannot ") || strstr(line, "failed") ||
	    strstr(line, "out of memory") || strstr(line, "fatal") || strstr(line, "error"))
		return strncmp(line, "kafka", 5) == 0 || strstr(line, "_failed") ? NM_LOG_INFO
										   : NM_LOG_ERROR;
	return NM_LOG_INFO;
}

/* One line as the format wants it, into out; its length. */
static int nm_log_format_line(char *out, size_t cap, enum nm_log_level l, const char *line,
			      const char *msg)
{
	if (nm_log_fmt == NM_LOG_BARE) /* the line as written */
		return snprintf(out, cap, "%s\n", line);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char t[96];
	snprintf(t, sizeof(t), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(ts.tv_nsec / 1000000));
	if (nm_log_fmt == NM_LOG_JSON) {
		static char esc[16384];
		nm_json_escape(esc, sizeof(esc), msg, strlen(msg));
		return snprintf(out, cap, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n", t,
				nm_log_names[l], esc);
	}
	return snprintf(out, cap, "%s %s %s\n", t, nm_log_names[l], msg);
}

static void nm_log_emit(const char *line)
{
	const char *msg;
	enum nm_log_level l = nm_log_classify(line, &msg);
	if ((int)l > atomic_load_explicit(&nm_log_level, memory_order_relaxed))
		return;
	static char out[16384 + 256];
	int n = nm_log_format_line(out, sizeof(out), l, line, msg);
	if (n > (int)sizeof(out) - 1)
		n = (int)sizeof(out) - 1;
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(nm_log_out, out + off, (size_t)(n - off));
		if (w <= 0)
			return;
		off += w;
	}
}

/* The relay: reads the pipe until every writer is gone (EOF). */
static void *nm_log_run(void *arg)
{
	(void)arg;
	static char buf[8192 * 2];
	size_t have = 0;
	for (;;) {
		ssize_t r = read(nm_log_pipe, buf + have, sizeof(buf) - 1 - have);
		if (r <= 0)
			break;
		have += (size_t)r;
		buf[have] = 0;
		char *s = buf, *nl;
		while ((nl = memchr(s, '\n', have - (size_t)(s - buf))) != NULL) {
			*nl = 0;
			nm_log_emit(s);
			s = nl + 1;
		}
		have -= (size_t)(s - buf);
		memmove(buf, s, have);
		if (have == sizeof(buf) - 1) { /* a line longer than the buffer: cut */
			buf[have] = 0;
			nm_log_emit(buf);
			have = 0;
		}
	}
	if (have) {
		buf[have] = 0;
		nm_log_emit(buf);
	}
	return NULL;
}

int nm_log_start(enum nm_log_format f)
{
	nm_log_fmt = f;
	if (f == NM_LOG_BARE) {
		nm_log_bare_armed = true;
		if (atomic_load_explicit(&nm_log_level, memory_order_relaxed) >= NM_LOG_INFO)
			return 0; /* nothing to filter: stderr stays the terminal's */
	}
	return nm_log_relay_start(true);
}

/* The pipe in place of fd 2 and the relay thread. line_buffered: stderr
 * not used by another thread yet, so it can be made line-buffered (whole
 * lines into the pipe); later it stays unbuffered, where glibc still writes
 * each fprintf() with one write(). 0, or -1 (stderr stays as it was). */
static int nm_log_relay_start(bool line_buffered)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	fflush(stderr);
	nm_log_out = fcntl(2, F_DUPFD_CLOEXEC, 3);
	if (nm_log_out < 0 || dup2(p[1], 2) < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	close(p[1]);
	nm_log_pipe = p[0];
	if (line_buffered)
		setvbuf(stderr, NULL, _IOLBF, 0); /* whole lines into the pipe */
	if (pthread_create(&nm_log_tid, NULL, nm_log_run, NULL) != 0) {
		dup2(nm_log_out, 2);
		close(nm_log_out);
		close(nm_log_pipe);
		nm_log_out = nm_log_pipe = -1;
		return -1;
	}
	pthread_setname_np(nm_log_tid, "nm-log");
	return 0;
}

void nm_log_stop(void)
{
	if (nm_log_out < 0)
		return;
	fflush(stderr);
	/* Our stderr back: the pipe's last write end closes and the relay
	 * reads to EOF (threads still writing after this go to the terminal). */
	dup2(nm_log_out, 2);
	pthread_join(nm_log_tid, NULL);
	close(nm_log_pipe);
	close(nm_log_out);
	nm_log_out = nm_log_pipe = -1;
}
