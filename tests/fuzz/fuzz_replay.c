/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Replays a corpus through a fuzz target without libFuzzer, so CI can run
 * the committed corpus under ASan/UBSan with gcc.
 *
 *   fuzz-replay-<target> [DIR|FILE]...
 *
 * Every regular file of each DIR (in name order, not recursive) and each
 * FILE goes once through LLVMFuzzerTestOneInput(). A crash or a failed
 * invariant aborts the process; each input's name is printed before it runs
 * so the failing file is known. Returns 0 when every input ran, 1 when
 * a path could not be read, 2 on a usage error.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nm_fuzz.h"

static int nm_replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "fuzz-replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 4096, len = 0;
	uint8_t *buf = malloc(cap);
	size_t got;
	while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
		len += got;
		if (len == cap) {
			uint8_t *nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	int rerr = ferror(f);
	fclose(f);
	if (buf == NULL || rerr) {
		fprintf(stderr, "fuzz-replay: %s: read failed\n", path);
		free(buf);
		return -1;
	}
	/* Hand the target exactly len bytes, so ASan catches over-reads. */
	uint8_t *in = malloc(len ? len : 1);
	if (in == NULL) {
		free(buf);
		return -1;
	}
	memcpy(in, buf, len);
	free(buf);
	/* Named before it runs: a crash report then follows its file name. */
	printf("fuzz-replay: %s (%zu bytes)\n", path, len);
	fflush(stdout);
	LLVMFuzzerTestOneInput(in, len);
	free(in);
	return 0;
}

static int nm_replay_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of dir; adds the inputs run to *ran. Returns 0,
 * or -1 when dir or one of its files could not be read. */
static int nm_replay_dir(const char *dir, long *ran)
{
	DIR *dp = opendir(dir);
	if (dp == NULL) {
		fprintf(stderr, "fuzz-replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			char **nn = realloc(names, ncap * sizeof(*names));
			if (nn == NULL) {
				rc = -1;
				break;
			}
			names = nn;
			cap = ncap;
		}
		size_t pl = strlen(dir) + 1 + strlen(de->d_name) + 1;
		names[n] = malloc(pl);
		if (names[n] == NULL) {
			rc = -1;
			break;
		}
		snprintf(names[n], pl, "%s/%s", dir, de->d_name);
		n++;
	}
	closedir(dp);
	if (n)
		qsort(names, n, sizeof(*names), nm_replay_cmp);
	for (size_t i = 0; i < n; i++) {
		struct stat sb;
		if (stat(names[i], &sb) == 0 && S_ISREG(sb.st_mode)) {
			if (nm_replay_file(names[i]) == 0)
				(*ran)++;
			else
				rc = -1;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
		return 2;
	}
	int rc = 0;
	long total = 0;
	for (int i = 1; i < argc; i++) {
		struct stat sb;
		if (stat(argv[i], &sb) != 0) {
			fprintf(stderr, "fuzz-replay: %s: %s\n", argv[i], strerror(errno));
			rc = 1;
			continue;
		}
		if (S_ISDIR(sb.st_mode)) {
			long ran = 0;
			if (nm_replay_dir(argv[i], &ran) != 0)
				rc = 1;
			if (ran == 0)
				fprintf(stderr, "fuzz-replay: %s: no inputs\n", argv[i]);
			total += ran;
		} else if (nm_replay_file(argv[i]) == 0) {
			total++;
		} else {
			rc = 1;
		}
	}
	printf("fuzz-replay: %ld inputs replayed\n", total);
	return rc;
}
