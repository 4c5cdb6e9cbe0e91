/* SPDX-License-Identifier: BSD-3-Clause */
/* Decoder state files: see state_file.h. */
#include "state_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A state file larger than this is not one of ours (the largest decoder
 * configuration writes far less). */
#define NM_STATE_FILE_MAX (1ull << 32)
/* PATH.<worker> (config.h keeps 16 bytes of state_path for the suffixes) */
#define NM_STATE_PATH_MAX (sizeof(((struct nm_config *)0)->state_path) + 16)

int nm_state_file_check(const struct nm_config *cfg, char *err, size_t errlen)
{
	if (cfg->state_path[0] == 0)
		return 0;
	char dir[NM_STATE_PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", cfg->state_path);
	const char *d = dirname(dir);
	struct stat st;
	if (stat(d, &st) != 0 || !S_ISDIR(st.st_mode) || access(d, W_OK | X_OK) != 0) {
		snprintf(err, errlen, "state.path: %s: the directory %s %s", cfg->state_path, d,
			 stat(d, &st) != 0 ? "does not exist" : !S_ISDIR(st.st_mode) ? "is not a directory"
										: "is not writable");
		return -1;
	}
	return 0;
}

void nm_state_file_load(struct nm_worker *w, const struct nm_config *cfg)
{
	char path[NM_STATE_PATH_MAX];
	snprintf(path, sizeof(path), "%s.%" PRIu32, cfg->state_path, w->id);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "netmeta: worker %" PRIu32 ": no decoder state in %s (%s): starting clean\n",
			w->id, path, strerror(errno));
		return;
	}
	struct stat st;
	uint8_t *buf = NULL;
	size_t len = 0;
	const char *why = NULL;
	if (fstat(fd, &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > NM_STATE_FILE_MAX) {
		why = "not a regular file of a plausible size";
	} else {
		len = (size_t)st.st_size;
		buf = malloc(len ? len : 1);
		if (buf == NULL)
			why = "out of memory";
		for (size_t got = 0; buf && got < len;) {
			ssize_t r = read(fd, buf + got, len - got);
			if (r <= 0) {
				why = r < 0 ? strerror(errno) : "file shrank while read";
				break;
			}
			got += (size_t)r;
		}
	}
	close(fd);
	if (why == NULL) {
		struct nm_state_info info;
		uint64_t now = nm_now_ns();
		enum nm_state_err e = nm_decoder_state_load(w->dec, buf, len, now,
							    (uint64_t)cfg->state_max_age * 1000000000ull,
							    &info);
		if (e == NM_STATE_OK) {
			fprintf(stderr,
				"netmeta: worker %" PRIu32 ": decoder state loaded from %s: %" PRIu32
				" exporters, %" PRIu32 " templates, saved %.0f s ago (%" PRIu32
				" exporters, %" PRIu32 " templates beyond this config's caps left out)\n",
				w->id, path, info.exporters, info.templates,
				now > info.saved_ns ? (double)(now - info.saved_ns) / 1e9 : 0.0,
				info.exporters_skipped, info.templates_skipped);
		} else {
			why = nm_state_err_message(e);
		}
	}
	if (why)
		fprintf(stderr, "netmeta: worker %" PRIu32 ": decoder state %s refused: %s: starting clean\n",
			w->id, path, why);
	free(buf);
}

/* Writes len bytes to PATH.<id>.tmp, fsync, rename over PATH.<id>, fsync
 * of the directory. NULL, or the reason it failed. */
static const char *nm_state_file_write(const char *path, const uint8_t *buf, size_t len)
{
	char tmp[NM_STATE_PATH_MAX + 8];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	const char *why = NULL;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return strerror(errno);
	for (size_t put = 0; put < len && why == NULL;) {
		ssize_t r = write(fd, buf + put, len - put);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			why = strerror(r < 0 ? errno : EIO);
		else
			put += (size_t)r;
	}
	if (why == NULL && fsync(fd) != 0)
		why = strerror(errno);
	if (close(fd) != 0 && why == NULL)
		why = strerror(errno);
	if (why == NULL && rename(tmp, path) != 0)
		why = strerror(errno);
	if (why) {
		unlink(tmp);
		return why;
	}
	/* the rename itself reaches the disk with its directory */
	char dir[NM_STATE_PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return NULL;
}

int nm_state_file_save(const struct nm_worker *w, const struct nm_config *cfg)
{
	char path[NM_STATE_PATH_MAX];
	snprintf(path, sizeof(path), "%s.%" PRIu32, cfg->state_path, w->id);
	size_t len = nm_decoder_state_size(w->dec);
	uint8_t *buf = malloc(len);
	const char *why = "out of memory";
	if (buf && nm_decoder_state_save(w->dec, nm_now_ns(), buf, len) == len)
		why = nm_state_file_write(path, buf, len);
	free(buf);
	if (why) {
		fprintf(stderr, "netmeta: worker %" PRIu32 ": decoder state not saved to %s: %s\n",
			w->id, path, why);
		return -1;
	}
	fprintf(stderr, "netmeta: worker %" PRIu32 ": decoder state saved to %s (%zu bytes)\n", w->id,
		path, len);
	return 0;
}

void nm_state_file_flush(struct nm_worker *w, const struct nm_config *cfg)
{
	/* Acquire: pairs with the worker's release store of the length
	 * (nm_worker_state_snapshot): the bytes are there. */
	size_t len = atomic_load_explicit(&w->state_len, memory_order_acquire);
	if (len == 0)
		return;
	char path[NM_STATE_PATH_MAX];
	snprintf(path, sizeof(path), "%s.%" PRIu32, cfg->state_path, w->id);
	const char *why = nm_state_file_write(path, w->state_buf, len);
	if (why) {
		w->state_errors++;
		if (w->state_errors == 1)
			fprintf(stderr, "netmeta: worker %" PRIu32 ": decoder state not saved to %s: %s "
					"(said once; the shutdown save says again)\n", w->id, path, why);
	}
	/* Release: the worker may reuse the buffer once it sees 0. */
	atomic_store_explicit(&w->state_len, 0, memory_order_release);
}
