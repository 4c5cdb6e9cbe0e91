/* SPDX-License-Identifier: BSD-3-Clause */
#include "linux_in.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const nm_lc_names[] = {
#define NM_X_(name, msg) #name,
	NM_LINUX_COUNTERS(NM_X_)
#undef NM_X_
};

const char *nm_lc_name(enum nm_lc k)
{
	return (unsigned)k < NM_LC__COUNT ? nm_lc_names[k] : "?";
}

uint32_t nm_linux_count(const struct nm_config *cfg)
{
	return (uint32_t)cfg->nflog.on + (uint32_t)cfg->conntrack.on;
}

/* CAP_NET_ADMIN (12) in the effective set, from /proc/self/status. */
static bool nm_linux_net_admin(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (f == NULL)
		return true; /* cannot tell: let the bind say */
	char line[256];
	unsigned long long eff = ~0ull;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "CapEff:", 7) == 0)
			eff = strtoull(line + 7, NULL, 16);
	fclose(f);
	return (eff >> 12) & 1;
}

/* The first line of a small /proc file, or -1. */
static int nm_linux_read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	bool ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (!ok)
		return -1;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/*
 * Can the kernel load a module on demand? A kernel with module support
 * shows /proc/sys/kernel/modprobe (the helper it runs; empty: none), and
 * modules_disabled 1 forbids loading until the next boot. Binding a log
 * group or opening the conntrack sockets then loads nfnetlink_log or
 * nf_conntrack_netlink (and nf_conntrack) by their aliases.
 */
static bool nm_linux_can_load(void)
{
	char buf[256];
	if (nm_linux_read_line("/proc/sys/kernel/modprobe", buf, sizeof(buf)) != 0 || buf[0] == 0)
		return false;
	if (nm_linux_read_line("/proc/sys/kernel/modules_disabled", buf, sizeof(buf)) == 0 &&
	    atoi(buf) != 0)
		return false;
	return true;
}

int nm_linux_check(const struct nm_config *cfg, char *err, size_t errlen)
{
	if (nm_linux_count(cfg) == 0)
		return 0;
	const char *who = cfg->nflog.on ? "nflog" : "conntrack";
	if (!nm_linux_net_admin()) {
		snprintf(err, errlen,
			 "%s: needs CAP_NET_ADMIN (run as root, or grant the capability: "
			 "setcap cap_net_admin+ep netmeta)",
			 who);
		return -1;
	}
	/*
	 * nfnetlink_log lists its bound groups here once loaded (or built in).
	 * Not loaded yet is no reason to refuse when the kernel can load it:
	 * the bind at start does, and says so clearly if it cannot.
	 */
	bool can_load = nm_linux_can_load();
	if (cfg->nflog.on && access("/proc/net/netfilter/nfnetlink_log", F_OK) != 0) {
		if (!can_load) {
			snprintf(err, errlen,
				 "nflog: the kernel has no nfnetlink_log (/proc/net/netfilter/"
				 "nfnetlink_log missing) and cannot load modules: modprobe "
				 "nfnetlink_log where allowed, or a kernel with "
				 "CONFIG_NETFILTER_NETLINK_LOG");
			return -1;
		}
		fprintf(stderr, "netmeta: nflog: nfnetlink_log is not loaded yet: binding the "
				"groups at start loads it\n");
	}
	if (cfg->conntrack.on) {
		if (access("/proc/sys/net/netfilter/nf_conntrack_acct", F_OK) != 0) {
			if (can_load) {
				fprintf(stderr,
					"netmeta: conntrack: nf_conntrack is not loaded yet: "
					"opening the conntrack sockets at start loads it\n");
				return 0;
			}
			snprintf(err, errlen,
				 "conntrack: no connection tracking in this network namespace "
				 "(/proc/sys/net/netfilter/nf_conntrack_acct missing) and the "
				 "kernel cannot load modules: modprobe nf_conntrack_netlink where "
				 "allowed, or a kernel with CONFIG_NF_CONNTRACK");
			return -1;
		}
		if (access("/proc/sys/net/netfilter/nf_conntrack_events", F_OK) != 0) {
			snprintf(err, errlen,
				 "conntrack: the kernel sends no conntrack events "
				 "(/proc/sys/net/netfilter/nf_conntrack_events missing): "
				 "CONFIG_NF_CONNTRACK_EVENTS and nf_conntrack_netlink are needed");
			return -1;
		}
	}
	return 0;
}

struct nm_linux {
	struct nm_nflog *nflog;
	struct nm_ct *ct;
	atomic_bool *stop;
	pthread_t nflog_tid, ct_tid;
	bool nflog_started, ct_started;
	struct nm_linux_ctr *ctr; /* nm_linux_ctr_live */
};

/* The inputs' counters: one set per process (main starts the inputs once),
 * static so the metrics endpoint reads them whenever it scrapes, before the
 * inputs start and after they are freed alike. */
static struct nm_linux_ctr nm_linux_ctr_live;

uint64_t nm_linux_counter(enum nm_lc k)
{
	return (unsigned)k < NM_LC__COUNT
		       ? atomic_load_explicit(&nm_linux_ctr_live.v[k], memory_order_relaxed)
		       : 0;
}

static void *nm_linux_nflog_thread(void *arg)
{
	struct nm_linux *lx = arg;
	nm_nflog_run(lx->nflog, lx->stop);
	return NULL;
}

static void *nm_linux_ct_thread(void *arg)
{
	struct nm_linux *lx = arg;
	nm_ct_run(lx->ct, lx->stop);
	return NULL;
}

struct nm_linux *nm_linux_start(const struct nm_config *cfg, struct nm_worker *w,
				atomic_bool *stop, char *err, size_t errlen)
{
	if (nm_linux_check(cfg, err, errlen) != 0)
		return NULL;
	struct nm_linux *lx = calloc(1, sizeof(*lx));
	if (lx == NULL) {
		snprintf(err, errlen, "linux inputs: out of memory");
		return NULL;
	}
	lx->stop = stop;
	lx->ctr = &nm_linux_ctr_live;
	uint32_t k = 0;
	if (cfg->nflog.on) {
		lx->nflog = nm_nflog_open(&cfg->nflog, &w[k++], lx->ctr, err, errlen);
		if (lx->nflog == NULL)
			goto fail;
	}
	if (cfg->conntrack.on) {
		lx->ct = nm_ct_open(&cfg->conntrack, &w[k++], lx->ctr, err, errlen);
		if (lx->ct == NULL)
			goto fail;
	}
	if (lx->nflog) {
		if (pthread_create(&lx->nflog_tid, NULL, nm_linux_nflog_thread, lx) != 0) {
			snprintf(err, errlen, "nflog: cannot start its thread");
			goto fail;
		}
		pthread_setname_np(lx->nflog_tid, "nm-nflog");
		lx->nflog_started = true;
	}
	if (lx->ct) {
		if (pthread_create(&lx->ct_tid, NULL, nm_linux_ct_thread, lx) != 0) {
			snprintf(err, errlen, "conntrack: cannot start its thread");
			goto fail;
		}
		pthread_setname_np(lx->ct_tid, "nm-conntrack");
		lx->ct_started = true;
	}
	if (lx->nflog) {
		fprintf(stderr, "netmeta: nflog: bound group%s", cfg->nflog.ngroups > 1 ? "s" : "");
		for (uint32_t i = 0; i < cfg->nflog.ngroups; i++)
			fprintf(stderr, " %u", cfg->nflog.groups[i].group);
		fprintf(stderr, "\n");
	}
	if (lx->ct)
		fprintf(stderr, "netmeta: conntrack: listening for events\n");
	return lx;
fail:
	if (lx->nflog_started) {
		/* the other input failed: stop this one before closing it */
		atomic_store(stop, true);
		pthread_join(lx->nflog_tid, NULL);
	}
	nm_linux_free(lx);
	return NULL;
}

void nm_linux_join(struct nm_linux *lx)
{
	if (lx == NULL)
		return;
	if (lx->nflog_started)
		pthread_join(lx->nflog_tid, NULL);
	if (lx->ct_started)
		pthread_join(lx->ct_tid, NULL);
	lx->nflog_started = lx->ct_started = false;
}

void nm_linux_print(const struct nm_linux *lx, FILE *o)
{
	if (lx == NULL)
		return;
	for (int k = 0; k < NM_LC__COUNT; k++) {
		bool nflog = strncmp(nm_lc_names[k], "NFLOG_", 6) == 0;
		if ((nflog && lx->nflog) || (!nflog && lx->ct))
			fprintf(o, "%s %" PRIu64 "\n", nm_lc_names[k],
				atomic_load_explicit(&lx->ctr->v[k], memory_order_relaxed));
	}
}

void nm_linux_free(struct nm_linux *lx)
{
	if (lx == NULL)
		return;
	nm_linux_join(lx);
	if (lx->nflog)
		nm_nflog_close(lx->nflog);
	if (lx->ct)
		nm_ct_close(lx->ct);
	free(lx);
}
