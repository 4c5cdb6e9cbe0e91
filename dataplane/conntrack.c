/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * conntrack input: the kernel's connection tracking events, read through
 * libnetfilter_conntrack. A DESTROY event (a connection ended: closed, timed
 * out, deleted) carries the connection's counters (nf_conntrack_acct) and
 * start/stop times (nf_conntrack_timestamp) and becomes one record per
 * direction: the original direction with SrcAddr/DstAddr from the original
 * tuple, the reply direction from the reply tuple; PostNat* hold the other
 * tuple reversed, so NAT is visible as the difference. NEW events are
 * counted only (a record needs the end).
 *
 * Loss. With `reliable` (default) the socket sets NETLINK_BROADCAST_ERROR:
 * when a DESTROY event cannot be delivered, the kernel keeps the entry and
 * sends the event again later (the mechanism conntrackd's reliable mode
 * uses), so a full socket buffer delays records instead of losing them.
 * Each overrun (ENOBUFS) is counted, and so is every event the kernel could
 * not queue (CT_EVENTS_DROPPED, the socket's own drop count read with
 * SO_MEMINFO: exact, one per event). Best-effort (`reliable: false`), those
 * events are the loss, and nothing can bring them back: a DESTROY that was
 * dropped belongs to a connection already gone from the table, so no dump
 * can see it. Reliable, the kernel re-sends the DESTROYs and a dropped NEW
 * rides on the connection's next event: the drops are delays. A resync
 * dump follows overruns, at most one per `resync_interval` seconds and only
 * once the event socket is drained (a dump during a burst would leave the
 * socket unread for longer and invite the next overrun): it reads the table
 * as it is (nothing zeroed) and counts the live connections
 * (CT_RESYNC_LIVE), whose DESTROY events are still to come. Zeroing it
 * was tried and dropped: the kernel zeroes an entry's counters as it
 * writes them, and an entry that does not fit the dump's current message
 * is written again into the next one, zeroed: 293 of 10,000 packets went
 * that way in a burst test. `dump_interval` (off by default) runs the
 * zeroing dump periodically for long-lived connections (FlowEndReason 2),
 * accepting that loss; zeroing is also seen by anyone else reading the
 * counters (conntrack -L, nft "ct bytes" rules).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libnetfilter_conntrack/libnetfilter_conntrack.h>

#include "linux_in.h"

#ifndef NETLINK_BROADCAST_ERROR
#define NETLINK_BROADCAST_ERROR 4
#endif
#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif

struct nm_ct {
	const struct nm_cfg_conntrack *cfg;
	struct nfct_handle *ev;   /* event socket */
	struct nfct_handle *dump; /* queries */
	struct nm_worker *w;
	struct nm_linux_ctr *ctr;
	uint64_t now_ns;
	uint32_t end_reason; /* of the records being made: 3 events, 2 dumps */
	bool resync;         /* a resync dump: count the live connections only */
	bool resync_pending; /* an overrun since the last resync dump */
	bool meminfo;        /* SO_MEMINFO works: drops are counted */
	uint32_t drops;      /* the event socket's drop count already added */
	uint64_t next_resync_ns; /* no resync dump before this */
};

/* Adds the event socket's drops since the last call to CT_EVENTS_DROPPED.
 * sk_drops is a 32-bit count of the socket's life: the difference wraps
 * correctly. */
static void nm_ct_drops(struct nm_ct *t)
{
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mem);
	if (!t->meminfo ||
	    getsockopt(nfct_fd(t->ev), SOL_SOCKET, SO_MEMINFO, mem, &len) != 0 ||
	    len < (SK_MEMINFO_DROPS + 1) * sizeof(uint32_t))
		return;
	nm_lc_add(t->ctr, NM_LC_CT_EVENTS_DROPPED, (uint32_t)(mem[SK_MEMINFO_DROPS] - t->drops));
	t->drops = mem[SK_MEMINFO_DROPS];
}

void nm_ct_fill(struct nm_flow *f, const struct nm_ct_entry *e, int dir, uint32_t end_reason,
		uint64_t now_ns)
{
	const struct nm_ct_tuple *t = dir ? &e->reply : &e->orig;
	const struct nm_ct_tuple *o = dir ? &e->orig : &e->reply;
	f->type = NM_FLOW_TYPE_CONNTRACK;
	f->time_received_ns = now_ns;
	f->time_received = now_ns / 1000000000u;
	/* Without nf_conntrack_timestamp the times are those of the event. */
	uint64_t end = e->stop_ns ? e->stop_ns : now_ns;
	uint64_t start = e->start_ns ? e->start_ns : end;
	f->time_flow_start_ns = start;
	f->time_flow_end_ns = end;
	f->time_flow_start = start / 1000000000u;
	f->time_flow_end = end / 1000000000u;
	f->sampling_rate = 1; /* every connection, every packet counted */
	f->etype = e->l3 == 6 ? 0x86dd : 0x0800;
	f->proto = e->proto;
	f->src_addr = t->src;
	f->dst_addr = t->dst;
	f->src_port = t->sport;
	f->dst_port = t->dport;
	/* The packets of this direction after NAT look like the other
	 * direction's tuple reversed. */
	f->post_nat_src_addr = o->dst;
	f->post_nat_dst_addr = o->src;
	f->post_nat_src_port = o->dport;
	f->post_nat_dst_port = o->sport;
	if (e->has_icmp && dir == 0) {
		f->icmp_type = e->icmp_type;
		f->icmp_code = e->icmp_code;
	}
	f->bytes = e->bytes[dir ? 1 : 0];
	f->packets = e->packets[dir ? 1 : 0];
	f->bi_flow_direction = dir ? 2 : 1; /* IPFIX biflowDirection: initiator, reverse */
	f->flow_end_reason = end_reason;
	f->conntrack_zone = e->zone;
	f->mark = e->mark;
	f->conntrack_id = e->id;
	f->conntrack_status = e->status;
}

static void nm_ct_addr(const struct nf_conntrack *ct, int l3, enum nf_conntrack_attr a4,
		       enum nf_conntrack_attr a6, struct nm_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (l3 == 4 && nfct_attr_is_set(ct, a4) > 0) {
		uint32_t v = nfct_get_attr_u32(ct, a4); /* network order */
		nm_addr_set_v4(out, (const uint8_t *)&v);
	} else if (l3 == 6 && nfct_attr_is_set(ct, a6) > 0) {
		memcpy(out->b, nfct_get_attr(ct, a6), 16);
	}
}

static uint16_t nm_ct_port(const struct nf_conntrack *ct, enum nf_conntrack_attr a)
{
	return nfct_attr_is_set(ct, a) > 0 ? ntohs(nfct_get_attr_u16(ct, a)) : 0;
}

static uint64_t nm_ct_u64(const struct nf_conntrack *ct, enum nf_conntrack_attr a)
{
	return nfct_attr_is_set(ct, a) > 0 ? nfct_get_attr_u64(ct, a) : 0;
}

static uint32_t nm_ct_u32(const struct nf_conntrack *ct, enum nf_conntrack_attr a)
{
	return nfct_attr_is_set(ct, a) > 0 ? nfct_get_attr_u32(ct, a) : 0;
}

static void nm_ct_read(const struct nf_conntrack *ct, struct nm_ct_entry *e)
{
	memset(e, 0, sizeof(*e));
	uint8_t fam = nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO);
	e->l3 = fam == AF_INET6 ? 6 : 4;
	e->proto = nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO);
	nm_ct_addr(ct, e->l3, ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV6_SRC, &e->orig.src);
	nm_ct_addr(ct, e->l3, ATTR_ORIG_IPV4_DST, ATTR_ORIG_IPV6_DST, &e->orig.dst);
	nm_ct_addr(ct, e->l3, ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV6_SRC, &e->reply.src);
	nm_ct_addr(ct, e->l3, ATTR_REPL_IPV4_DST, ATTR_REPL_IPV6_DST, &e->reply.dst);
	e->orig.sport = nm_ct_port(ct, ATTR_ORIG_PORT_SRC);
	e->orig.dport = nm_ct_port(ct, ATTR_ORIG_PORT_DST);
	e->reply.sport = nm_ct_port(ct, ATTR_REPL_PORT_SRC);
	e->reply.dport = nm_ct_port(ct, ATTR_REPL_PORT_DST);
	if (nfct_attr_is_set(ct, ATTR_ICMP_TYPE) > 0) {
		e->has_icmp = true;
		e->icmp_type = nfct_get_attr_u8(ct, ATTR_ICMP_TYPE);
		e->icmp_code = nfct_get_attr_u8(ct, ATTR_ICMP_CODE);
	}
	e->has_counters = nfct_attr_is_set(ct, ATTR_ORIG_COUNTER_PACKETS) > 0;
	e->bytes[0] = nm_ct_u64(ct, ATTR_ORIG_COUNTER_BYTES);
	e->bytes[1] = nm_ct_u64(ct, ATTR_REPL_COUNTER_BYTES);
	e->packets[0] = nm_ct_u64(ct, ATTR_ORIG_COUNTER_PACKETS);
	e->packets[1] = nm_ct_u64(ct, ATTR_REPL_COUNTER_PACKETS);
	e->start_ns = nm_ct_u64(ct, ATTR_TIMESTAMP_START);
	e->stop_ns = nm_ct_u64(ct, ATTR_TIMESTAMP_STOP);
	e->zone = nfct_attr_is_set(ct, ATTR_ZONE) > 0 ? nfct_get_attr_u16(ct, ATTR_ZONE) : 0;
	e->mark = nm_ct_u32(ct, ATTR_MARK);
	e->id = nm_ct_u32(ct, ATTR_ID);
	e->status = nm_ct_u32(ct, ATTR_STATUS);
}

/* One connection (ended, or live in a dump): its records. */
static void nm_ct_emit(struct nm_ct *t, const struct nf_conntrack *ct)
{
	struct nm_ct_entry e;
	nm_ct_read(ct, &e);
	if (!e.has_counters)
		nm_lc_add(t->ctr, NM_LC_CT_NO_COUNTERS, 1);
	for (int dir = 0; dir < 2; dir++) {
		/* A reply direction that carried nothing (UNREPLIED) is no flow. */
		if (dir == 1 && e.has_counters && e.packets[1] == 0) {
			nm_lc_add(t->ctr, NM_LC_CT_REPLY_EMPTY, 1);
			continue;
		}
		/* a dumped connection with nothing new since the last dump */
		if (t->end_reason == 2 && e.has_counters && e.packets[dir] == 0)
			continue;
		struct nm_flow *f = nm_worker_record(t->w, t->now_ns);
		nm_ct_fill(f, &e, dir, t->end_reason, t->now_ns);
		nm_worker_record_done(t->w);
	}
}

static int nm_ct_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	struct nm_ct *t = data;
	nm_wc_add(t->w, NM_WC_RX_PACKETS, 1);
	if (t->resync) {
		nm_lc_add(t->ctr, NM_LC_CT_RESYNC_LIVE, 1);
	} else if (t->end_reason == 2) {
		nm_lc_add(t->ctr, NM_LC_CT_DUMPED, 1);
		nm_ct_emit(t, ct);
	} else if (type == NFCT_T_NEW) {
		nm_lc_add(t->ctr, NM_LC_CT_NEW, 1);
	} else if (type == NFCT_T_DESTROY) {
		nm_lc_add(t->ctr, NM_LC_CT_DESTROY, 1);
		nm_ct_emit(t, ct);
	}
	return NFCT_CB_CONTINUE;
}

/* Reads a sysctl of this network namespace: its value, or -1. */
static int nm_ct_sysctl_get(const char *name)
{
	char path[128], buf[32];
	snprintf(path, sizeof(path), "/proc/sys/net/netfilter/%s", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return atoi(buf);
}

static int nm_ct_sysctl_set(const char *name, int v)
{
	char path[128], buf[16];
	snprintf(path, sizeof(path), "/proc/sys/net/netfilter/%s", name);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int n = snprintf(buf, sizeof(buf), "%d\n", v);
	int rc = write(fd, buf, (size_t)n) == n ? 0 : -1;
	close(fd);
	return rc;
}

/* Accounting, timestamps and events: on, or said why the records will
 * lack counters or times. */
static void nm_ct_sysctls(const struct nm_cfg_conntrack *c)
{
	static const struct {
		const char *name;
		const char *without;
	} k[] = {
		{"nf_conntrack_acct", "records will have no byte or packet counts"},
		{"nf_conntrack_timestamp", "records will have the event's time, not the connection's"},
		{"nf_conntrack_events", "the kernel sends no events: no records"},
	};
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		/* nf_conntrack_events 2 (newer kernels' default): on for listeners */
		if (nm_ct_sysctl_get(k[i].name) != 0)
			continue;
		if (c->set_sysctls && nm_ct_sysctl_set(k[i].name, 1) == 0)
			fprintf(stderr,
				"netmeta: conntrack: turned on net.netfilter.%s (connections "
				"that started before have no %s)\n",
				k[i].name, i == 0 ? "counters" : i == 1 ? "start time" : "events");
		else
			fprintf(stderr, "netmeta: warning: conntrack: net.netfilter.%s is 0: %s\n",
				k[i].name, k[i].without);
	}
}

static void nm_ct_open_err(const char *what, int e, char *err, size_t errlen)
{
	if (e == EPERM || e == EACCES)
		snprintf(err, errlen,
			 "conntrack: %s: permission denied: conntrack events need CAP_NET_ADMIN "
			 "in this network namespace",
			 what);
	else if (e == EPROTONOSUPPORT || e == ENOENT || e == EOPNOTSUPP)
		snprintf(err, errlen,
			 "conntrack: %s: %s: the kernel has no nf_conntrack_netlink (modprobe "
			 "nf_conntrack_netlink)",
			 what, strerror(e));
	else
		snprintf(err, errlen, "conntrack: %s: %s", what, strerror(e));
}

/*
 * nf_conntrack not loaded yet (the preflight let it pass because the kernel
 * can load modules): subscribing to the event groups only starts an
 * asynchronous load, so a query goes first: nfnetlink loads
 * nf_conntrack_netlink (and nf_conntrack with it) before answering. A GET of
 * a tuple that cannot exist answers ENOENT once loaded. Then the sysctls
 * tell whether it worked. 0, or -1 with the reason in err.
 */
static int nm_ct_load(struct nm_ct *t, char *err, size_t errlen)
{
	if (access("/proc/sys/net/netfilter/nf_conntrack_acct", F_OK) == 0)
		return 0;
	struct nf_conntrack *ct = nfct_new();
	int e = 0;
	if (ct != NULL) {
		nfct_set_attr_u8(ct, ATTR_L3PROTO, AF_INET);
		nfct_set_attr_u32(ct, ATTR_IPV4_SRC, htonl(INADDR_LOOPBACK));
		nfct_set_attr_u32(ct, ATTR_IPV4_DST, htonl(INADDR_LOOPBACK));
		nfct_set_attr_u8(ct, ATTR_L4PROTO, IPPROTO_UDP);
		nfct_set_attr_u16(ct, ATTR_PORT_SRC, 0);
		nfct_set_attr_u16(ct, ATTR_PORT_DST, 0);
		if (nfct_query(t->dump, NFCT_Q_GET, ct) != 0)
			e = errno;
		nfct_destroy(ct);
	}
	if (access("/proc/sys/net/netfilter/nf_conntrack_acct", F_OK) != 0) {
		snprintf(err, errlen,
			 "conntrack: no connection tracking in this network namespace after trying "
			 "to load it (/proc/sys/net/netfilter/nf_conntrack_acct missing; the "
			 "kernel's answer to a conntrack query: %s): modprobe nf_conntrack_netlink "
			 "(CONFIG_NF_CONNTRACK, CONFIG_NF_CT_NETLINK)",
			 e == EINVAL ? "no such subsystem" : e ? strerror(e) : "none");
		return -1;
	}
	if (access("/proc/sys/net/netfilter/nf_conntrack_events", F_OK) != 0) {
		snprintf(err, errlen,
			 "conntrack: the kernel sends no conntrack events "
			 "(/proc/sys/net/netfilter/nf_conntrack_events missing): "
			 "CONFIG_NF_CONNTRACK_EVENTS is needed");
		return -1;
	}
	fprintf(stderr, "netmeta: conntrack: loaded nf_conntrack_netlink\n");
	return 0;
}

struct nm_ct *nm_ct_open(const struct nm_cfg_conntrack *c, struct nm_worker *w,
			 struct nm_linux_ctr *ctr, char *err, size_t errlen)
{
	struct nm_ct *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		snprintf(err, errlen, "conntrack: out of memory");
		return NULL;
	}
	t->cfg = c;
	t->w = w;
	t->ctr = ctr;
	t->end_reason = 3;
	unsigned groups = NF_NETLINK_CONNTRACK_DESTROY | (c->events_new ? NF_NETLINK_CONNTRACK_NEW : 0);
	errno = 0;
	t->ev = nfct_open(CONNTRACK, groups);
	if (t->ev == NULL) {
		nm_ct_open_err("event socket", errno ? errno : EINVAL, err, errlen);
		nm_ct_close(t);
		return NULL;
	}
	errno = 0;
	t->dump = nfct_open(CONNTRACK, 0);
	if (t->dump == NULL) {
		nm_ct_open_err("query socket", errno ? errno : EINVAL, err, errlen);
		nm_ct_close(t);
		return NULL;
	}
	int fd = nfct_fd(t->ev);
	int want = (int)c->rcvbuf, got = 0, one = 1;
	socklen_t gl = sizeof(got);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
	getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl);
	if (got / 2 < want)
		fprintf(stderr,
			"netmeta: warning: conntrack: socket buffer is %d bytes, %d asked for\n",
			got / 2, want);
	if (c->reliable &&
	    setsockopt(fd, SOL_NETLINK, NETLINK_BROADCAST_ERROR, &one, sizeof(one)) != 0)
		fprintf(stderr,
			"netmeta: warning: conntrack: NETLINK_BROADCAST_ERROR refused (%s): lost "
			"DESTROY events are not sent again\n",
			strerror(errno));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if (nm_ct_load(t, err, errlen) != 0) {
		nm_ct_close(t);
		return NULL;
	}
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t ml = sizeof(mem);
	t->meminfo = getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &ml) == 0 &&
		     ml >= (SK_MEMINFO_DROPS + 1) * sizeof(uint32_t);
	if (t->meminfo)
		t->drops = mem[SK_MEMINFO_DROPS];
	else
		fprintf(stderr,
			"netmeta: warning: conntrack: SO_MEMINFO refused (%s): events dropped at "
			"overruns are not counted\n",
			strerror(errno));
	nfct_callback_register(t->ev, NFCT_T_ALL, nm_ct_cb, t);
	nfct_callback_register(t->dump, NFCT_T_ALL, nm_ct_cb, t);
	nm_ct_sysctls(c);
	return t;
}

/* Periodic: every live connection with its counters since the last dump,
 * which the dump zeroes (IPCTNL_MSG_CT_GET_CTRZERO). Resync: the table as
 * it is now, counted, nothing zeroed. */
static void nm_ct_dump(struct nm_ct *t, bool resync)
{
	uint32_t family = AF_UNSPEC;
	t->now_ns = nm_now_ns();
	t->end_reason = 2;
	t->resync = resync;
	if (nfct_query(t->dump, resync ? NFCT_Q_DUMP : NFCT_Q_DUMP_RESET, &family) != 0)
		nm_lc_add(t->ctr, NM_LC_CT_DUMP_FAILED, 1);
	t->end_reason = 3;
	t->resync = false;
}

void nm_ct_run(struct nm_ct *t, atomic_bool *stop)
{
	int fd = nfct_fd(t->ev);
	struct pollfd pfd = {fd, POLLIN, 0};
	uint64_t next_dump = t->cfg->dump_interval
				     ? nm_now_ns() + (uint64_t)t->cfg->dump_interval * 1000000000u
				     : UINT64_MAX;
	uint64_t next_drops = 0;
	bool draining = false;
	for (;;) {
		if (!draining && atomic_load_explicit(stop, memory_order_acquire))
			draining = true; /* one last read of what the kernel sent */
		bool drained = true; /* the socket had nothing more to read */
		if (draining || poll(&pfd, 1, 50) > 0) {
			drained = false;
			/* At shutdown, everything queued (the buffer bounds it);
			 * otherwise 64 messages between ticks. */
			int rounds = draining ? 1 << 22 : 64;
			for (int round = 0; round < rounds; round++) {
				t->now_ns = nm_now_ns();
				/* Non-blocking: returns -1 with EAGAIN once empty. */
				if (nfct_catch(t->ev) >= 0)
					continue;
				if (errno == ENOBUFS) {
					nm_lc_add(t->ctr, NM_LC_CT_OVERRUNS, 1);
					nm_ct_drops(t);
					t->resync_pending = t->cfg->resync_interval != 0;
					continue;
				}
				drained = errno == EAGAIN || errno == EWOULDBLOCK;
				break;
			}
		}
		uint64_t now = nm_now_ns();
		/* One resync dump for however many overruns, once the burst is
		 * read, at most one per resync_interval. */
		if (t->resync_pending && drained && !draining && now >= t->next_resync_ns) {
			t->resync_pending = false;
			nm_lc_add(t->ctr, NM_LC_CT_RESYNC_DUMPS, 1);
			nm_ct_dump(t, true);
			nm_ct_drops(t);
			now = nm_now_ns();
			t->next_resync_ns = now + (uint64_t)t->cfg->resync_interval * 1000000000u;
		}
		if (now >= next_drops) { /* drops go on while the socket stays congested */
			nm_ct_drops(t);
			next_drops = now + 1000000000u;
		}
		if (now >= next_dump) {
			nm_ct_dump(t, false);
			next_dump = now + (uint64_t)t->cfg->dump_interval * 1000000000u;
		}
		nm_worker_tick(t->w, now);
		if (draining)
			break;
	}
	nm_ct_drops(t);
	nm_worker_finish(t->w);
}

void nm_ct_close(struct nm_ct *t)
{
	if (t == NULL)
		return;
	if (t->ev)
		nfct_close(t->ev);
	if (t->dump)
		nfct_close(t->dump);
	free(t);
}
