/* SPDX-License-Identifier: BSD-3-Clause */
#include "preflight.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics.h"
#include "sock.h"

/* cgroup v1 writes "no limit" as LONG_MAX rounded down to a page. */
#define NM_CG_V1_UNLIMITED (UINT64_C(1) << 62)

/* One unsigned number from the start of a small file; 0 when the file is
 * missing, says "max" or holds no number. */
static uint64_t nm_read_u64(const char *path)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return 0;
	char buf[64] = {0};
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 10);
	if (end == buf || errno != 0)
		return 0;
	return (uint64_t)v;
}

/* The address space mapped now (VmSize), in bytes; 0 when unknown. */
static uint64_t nm_vm_size(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	if (f == NULL)
		return 0;
	char line[256];
	uint64_t kb = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSize: %" SCNu64 " kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

/*
 * The smallest limit file `name` under root/path and each of path's
 * ancestors up to root (a child cgroup cannot use more than its parents
 * allow; inside a container without a cgroup namespace the path is the
 * host's and only the mount's root exists: missing levels are skipped).
 * Values >= `unlimited` count as none. 0 when there is no limit; the file
 * that gave it in *where.
 */
static uint64_t nm_cg_walk(const char *root, const char *path, const char *name, uint64_t unlimited,
			   char *where, size_t wherelen)
{
	char p[512];
	if (snprintf(p, sizeof(p), "%s%s", root, path) >= (int)sizeof(p))
		return 0;
	size_t rootlen = strlen(root);
	uint64_t best = 0;
	for (;;) {
		size_t len = strlen(p);
		while (len > rootlen && p[len - 1] == '/')
			p[--len] = 0;
		char file[600];
		snprintf(file, sizeof(file), "%s/%s", p, name);
		uint64_t v = nm_read_u64(file);
		if (v > 0 && v < unlimited && (best == 0 || v < best)) {
			best = v;
			snprintf(where, wherelen, "%s", file);
		}
		char *slash = strrchr(p, '/');
		if (len <= rootlen || slash == NULL || slash < p + rootlen)
			break;
		*slash = 0;
	}
	return best;
}

/*
 * The memory limit of the process's cgroup: v2 (line "0::PATH" of
 * /proc/self/cgroup, memory.max under the unified mount) and v1 (the
 * "memory" hierarchy's line, memory.limit_in_bytes), the smaller of the
 * two. 0 when none.
 */
static uint64_t nm_cg_limit(char *where, size_t wherelen)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (f == NULL)
		return 0;
	char line[1024];
	uint64_t best = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c2 == NULL || c2[1] != '/')
			continue;
		*c1 = *c2 = 0;
		const char *ctrl = c1 + 1, *path = c2 + 1;
		char w[600];
		uint64_t v = 0;
		if (strcmp(line, "0") == 0 && ctrl[0] == 0) { /* v2 */
			const char *root = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0
						   ? "/sys/fs/cgroup"
						   : "/sys/fs/cgroup/unified";
			v = nm_cg_walk(root, path, "memory.max", UINT64_MAX, w, sizeof(w));
		} else { /* v1: the hierarchy whose controllers include memory */
			bool mem = false;
			for (char *save = NULL, *t = strtok_r((char *)(uintptr_t)ctrl, ",", &save); t;
			     t = strtok_r(NULL, ",", &save))
				mem = mem || strcmp(t, "memory") == 0;
			if (mem)
				v = nm_cg_walk("/sys/fs/cgroup/memory", path, "memory.limit_in_bytes",
					       NM_CG_V1_UNLIMITED, w, sizeof(w));
		}
		if (v > 0 && (best == 0 || v < best)) {
			best = v;
			snprintf(where, wherelen, "%s", w);
		}
	}
	fclose(f);
	return best;
}

uint64_t nm_preflight_mem_limit(char *what, size_t whatlen)
{
	uint64_t best = 0;
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	if (pages > 0 && psz > 0) {
		best = (uint64_t)pages * (uint64_t)psz;
		snprintf(what, whatlen, "physical memory");
	}
	/* RLIMIT_AS counts address space, not memory: what is mapped already
	 * (libraries, the heap so far) comes off it. Thread stacks and malloc
	 * arenas made later come off it too and are not counted here. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		uint64_t lim = (uint64_t)rl.rlim_cur, used = nm_vm_size();
		uint64_t left = lim > used ? lim - used : 1;
		if (best == 0 || left < best) {
			best = left;
			snprintf(what, whatlen,
				 "address space that RLIMIT_AS leaves (limit %" PRIu64
				 " bytes, %" PRIu64 " mapped already)",
				 lim, used);
		}
	}
	char where[600];
	uint64_t cg = nm_cg_limit(where, sizeof(where));
	if (cg > 0 && (best == 0 || cg < best)) {
		best = cg;
		snprintf(what, whatlen, "the cgroup's memory limit (%s)", where);
	}
	return best;
}

/* A TCP socket bound to sa with SO_REUSEADDR, as the metrics endpoint
 * binds, and closed. 0 or errno. */
static int nm_probe_tcp(const struct sockaddr *sa, socklen_t sl)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	int e = bind(fd, sa, sl) == 0 ? 0 : errno;
	close(fd);
	return e;
}

int nm_preflight_ports(const struct nm_config *cfg, char *err, size_t errlen)
{
	/* The listen ports first, as start-up probes them before the
	 * metrics endpoint binds. DPDK: the listen ports are numbers in the
	 * data path, nothing is bound. */
	if (cfg->backend == NM_BACKEND_SOCKET && nm_sock_ports_bindable(cfg, err, errlen) != 0)
		return -1;
	if (cfg->metrics_listen[0]) {
		struct sockaddr_storage ss;
		unsigned sl;
		if (nm_metrics_parse_listen(cfg->metrics_listen, &ss, &sl) == 0) {
			int e = nm_probe_tcp((struct sockaddr *)&ss, sl);
			if (e != 0) { /* nm_metrics_start's words */
				snprintf(err, errlen, "metrics.listen: %s: %s", cfg->metrics_listen,
					 strerror(e));
				return -1;
			}
		}
	}
	return 0;
}
