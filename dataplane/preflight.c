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

/* A socket of the family of addr, with SO_REUSEADDR (TCP, as the metrics
 * endpoint) or SO_REUSEPORT (UDP with share_ports, as the socket backend),
 * bound to addr and closed. 0 or errno. */
static int nm_probe_bind(const struct sockaddr *sa, socklen_t sl, int type, bool reuseport)
{
	int fd = socket(sa->sa_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	int one = 1, zero = 0;
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (sa->sa_family == AF_INET6 && type == SOCK_DGRAM)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)); /* IPv4 too */
	int e = bind(fd, sa, sl) == 0 ? 0 : errno;
	close(fd);
	return e;
}

int nm_preflight_ports(const struct nm_config *cfg, char *err, size_t errlen)
{
	/* The listen ports first, as start-up probes them before the
	 * metrics endpoint binds. DPDK: the listen ports are numbers in the
	 * data path, nothing is bound. */
	struct nm_prefix bind_to;
	bool sock = cfg->backend == NM_BACKEND_SOCKET &&
		    nm_prefix_parse(cfg->bind, &bind_to, false) == 0; /* else the loader refused */
	bool v4 = sock && nm_addr_is_v4(&bind_to.addr);
	for (uint32_t k = 0; sock && k < cfg->nlisten; k++) {
		uint16_t port = cfg->listen[k].port;
		struct sockaddr_storage ss;
		memset(&ss, 0, sizeof(ss));
		socklen_t sl;
		if (v4) {
			struct sockaddr_in *a = (struct sockaddr_in *)(void *)&ss;
			a->sin_family = AF_INET;
			a->sin_port = htons(port);
			memcpy(&a->sin_addr, bind_to.addr.b + 12, 4);
			sl = sizeof(*a);
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)(void *)&ss;
			a->sin6_family = AF_INET6;
			a->sin6_port = htons(port);
			memcpy(&a->sin6_addr, bind_to.addr.b, 16);
			sl = sizeof(*a);
		}
		/* Start-up probes without SO_REUSEPORT (one instance per port)
		 * unless share_ports, then binds with it: the same two outcomes,
		 * in sock.c's words. */
		int e = nm_probe_bind((struct sockaddr *)&ss, sl, SOCK_DGRAM, cfg->share_ports);
		if (e == EADDRINUSE && !cfg->share_ports) {
			snprintf(err, errlen,
				 "listen: port %u on %s is in use by another process (another "
				 "netmeta?): refused; set share_ports: true to join it on purpose",
				 port, cfg->bind);
			return -1;
		}
		if (e != 0) {
			snprintf(err, errlen, "listen: port %u on %s: %s", port, cfg->bind, strerror(e));
			return -1;
		}
	}
	if (cfg->metrics_listen[0]) {
		struct sockaddr_storage ss;
		unsigned sl;
		if (nm_metrics_parse_listen(cfg->metrics_listen, &ss, &sl) == 0) {
			int e = nm_probe_bind((struct sockaddr *)&ss, sl, SOCK_STREAM, false);
			if (e != 0) { /* nm_metrics_start's words */
				snprintf(err, errlen, "metrics.listen: %s: %s", cfg->metrics_listen,
					 strerror(e));
				return -1;
			}
		}
	}
	return 0;
}
