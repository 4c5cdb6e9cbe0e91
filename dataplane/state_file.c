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

void nm_state_file_load(struct nm_worker *w, const struct nm_config *cfg)
{
	char path[sizeof(cfg->state_path) + 16];
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

int nm_state_file_save(const struct nm_worker *w, const struct nm_config *cfg)
{
	char path[sizeof(cfg->state_path) + 16], tmp[sizeof(path) + 8];
	snprintf(path, sizeof(path), "%s.%" PRIu32, cfg->state_path, w->id);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	size_t len = nm_decoder_state_size(w->dec);
	uint8_t *buf = malloc(len);
	const char *why = NULL;
	int fd = -1;
	if (buf == NULL || nm_decoder_state_save(w->dec, nm_now_ns(), buf, len) != len) {
		why = "out of memory";
		goto done;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		why = strerror(errno);
		goto done;
	}
	for (size_t put = 0; put < len;) {
		ssize_t r = write(fd, buf + put, len - put);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			why = strerror(r < 0 ? errno : EIO);
			goto done;
		}
		put += (size_t)r;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		why = strerror(errno);
		goto done;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		why = strerror(errno);
		goto done;
	}
	/* the rename itself reaches the disk with its directory */
	char dir[sizeof(path)];
	snprintf(dir, sizeof(dir), "%s", path);
	int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
done:
	if (fd >= 0)
		close(fd);
	if (why) {
		unlink(tmp);
		fprintf(stderr, "netmeta: worker %" PRIu32 ": decoder state not saved to %s: %s\n",
			w->id, path, why);
	} else {
		fprintf(stderr, "netmeta: worker %" PRIu32 ": decoder state saved to %s (%zu bytes)\n",
			w->id, path, len);
	}
	free(buf);
	return why ? -1 : 0;
}
