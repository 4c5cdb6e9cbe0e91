/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Linux inputs: NFLOG (netfilter log groups, dataplane/nflog.c) and
 * conntrack events (dataplane/conntrack.c). Each is a backend beside the
 * socket and DPDK ones: its own thread and its own struct nm_worker (batch
 * pool, SPSC rings to the sink, the worker counters), so its records reach
 * the same sinks and are counted under the same names. What only these
 * inputs count (overruns, sequence gaps, events) is NM_LINUX_COUNTERS.
 *
 * Records are made without a decoder (nm_worker_record()): NFLOG packets go
 * through the sampled-header parser (decoders/hdr.c, raw IP start), conntrack
 * entries are turned into one record per direction.
 */
#ifndef NM_LINUX_IN_H
#define NM_LINUX_IN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "flow.h"
#include "worker.h"

/* X(name, help): printed by these names at shutdown, after the worker
 * counters (RECORDS_MADE, RECORDS_SENT, ... include the inputs' records). */
#define NM_LINUX_COUNTERS(X)                                                                 \
	X(NFLOG_PACKETS, "NFLOG: logged packets received")                                   \
	X(NFLOG_NOT_IP, "NFLOG: logged packets that are not IPv4/IPv6 (no record)")           \
	X(NFLOG_HDR_CUT, "NFLOG: records whose header copy_range cut inside a layer")        \
	X(NFLOG_OVERRUNS, "NFLOG: socket overruns (ENOBUFS): the kernel dropped messages")   \
	X(NFLOG_SEQ_LOST, "NFLOG: packets missing by the groups' sequence numbers")           \
	X(NFLOG_PREFIX_CUT, "NFLOG: records whose log prefix was cut to 64 bytes")             \
	X(CT_NEW, "conntrack: NEW events")                                                   \
	X(CT_DESTROY, "conntrack: DESTROY events (finished connections)")                    \
	X(CT_DUMPED, "conntrack: live connections reported by a dump (counters zeroed)")     \
	X(CT_REPLY_EMPTY, "conntrack: reply directions without packets (no record)")         \
	X(CT_NO_COUNTERS, "conntrack: connections without accounting (nf_conntrack_acct off)") \
	X(CT_OVERRUNS, "conntrack: event socket overruns (ENOBUFS)")                         \
	X(CT_EVENTS_DROPPED, "conntrack: events the kernel could not queue on the full socket " \
			     "(lost when best-effort; DESTROYs re-sent when reliable)")      \
	X(CT_RESYNC_DUMPS, "conntrack: dumps run after overruns (one per resync_interval)")   \
	X(CT_RESYNC_LIVE, "conntrack: live connections seen by the resync dumps")              \
	X(CT_DUMP_FAILED, "conntrack: dumps that failed (table changed too fast, ENOBUFS)")

enum nm_lc {
#define NM_X_(name, msg) NM_LC_##name,
	NM_LINUX_COUNTERS(NM_X_)
#undef NM_X_
	NM_LC__COUNT
};

/* The counters, each written by one input thread (relaxed), read by any. */
struct nm_linux_ctr {
	_Atomic uint64_t v[NM_LC__COUNT];
};

static inline void nm_lc_add(struct nm_linux_ctr *c, enum nm_lc k, uint64_t v)
{
	atomic_store_explicit(&c->v[k], atomic_load_explicit(&c->v[k], memory_order_relaxed) + v,
			      memory_order_relaxed);
}

const char *nm_lc_name(enum nm_lc k);

/* The running inputs' counter k (relaxed load; 0 before they start or for
 * an input that is off). Any thread: the metrics endpoint reads it. */
uint64_t nm_linux_counter(enum nm_lc k);

/* How many Linux inputs the config turns on (each needs one worker). */
uint32_t nm_linux_count(const struct nm_config *cfg);

/*
 * Preflight (netmeta --check and start-up): the kernel parts each input
 * needs are there (nfnetlink_log, nf_conntrack in this network namespace)
 * and the process holds CAP_NET_ADMIN. Opens nothing. 0, or -1 with
 * "nflog: reason" / "conntrack: reason" in err.
 */
int nm_linux_check(const struct nm_config *cfg, char *err, size_t errlen);

struct nm_linux;

/*
 * Opens the inputs (binds the log groups, subscribes to conntrack events)
 * and starts one thread per input, feeding workers w[0..count-1]
 * (initialised). The threads run until *stop, then finish their workers.
 * Returns the inputs, or NULL with the reason in err (nothing left open or
 * running; the workers were not touched).
 */
struct nm_linux *nm_linux_start(const struct nm_config *cfg, struct nm_worker *w,
				atomic_bool *stop, char *err, size_t errlen);

/* Waits for the input threads (after *stop) and closes the inputs. */
void nm_linux_join(struct nm_linux *lx);

/* The counters as "name value" lines (after nm_linux_join). */
void nm_linux_print(const struct nm_linux *lx, FILE *o);

void nm_linux_free(struct nm_linux *lx);

/* ---- the two inputs (nflog.c, conntrack.c), for linux_in.c and tests ---- */

/* What NFLOG says about one logged packet. */
struct nm_nflog_pkt {
	const uint8_t *payload; /* the packet from its L3 header, copy_range bytes at most */
	size_t len;
	uint16_t hw_protocol;   /* EtherType of the payload (0 when the kernel sent none) */
	uint16_t hw_type;       /* ARPHRD_* of the device */
	const uint8_t *hw_hdr;  /* link-layer header (input path), or NULL */
	size_t hw_hdr_len;
	uint16_t group;
	uint64_t sampling_rate;
	uint32_t indev, outdev;
	uint32_t mark;
	uint32_t uid;
	bool has_uid;
	uint32_t seq;
	uint64_t ts_ns;         /* packet time, 0 when the kernel sent none */
	uint64_t now_ns;        /* receive time */
	const char *prefix;     /* the rule's log prefix (not NUL-terminated), or NULL */
	size_t prefix_len;
};

/*
 * Fills f (zeroed) from one logged packet: the header through nm_hdr_parse
 * (raw IPv4/IPv6 start), Bytes from the IP header's length (the payload may
 * be cut), Packets 1, the log prefix as NflogPrefix (invalid UTF-8 and
 * control characters as '?'). Returns false (f untouched beyond zero) when
 * the packet is not IPv4/IPv6; *cut is set when copy_range cut a layer,
 * *prefix_cut when the prefix was longer than NM_NFLOG_PREFIX_MAX bytes.
 */
bool nm_nflog_fill(struct nm_flow *f, const struct nm_nflog_pkt *pk, bool *cut, bool *prefix_cut);

struct nm_nflog;
struct nm_nflog *nm_nflog_open(const struct nm_cfg_nflog *c, struct nm_worker *w,
			       struct nm_linux_ctr *ctr, char *err, size_t errlen);
/* Thread body: reads until *stop, then finishes the worker. */
void nm_nflog_run(struct nm_nflog *n, atomic_bool *stop);
void nm_nflog_close(struct nm_nflog *n);

/* One direction of a connection tuple, host-independent. */
struct nm_ct_tuple {
	struct nm_addr src, dst;
	uint16_t sport, dport;
};

/* What a conntrack entry says, as conntrack.c reads it. */
struct nm_ct_entry {
	uint8_t l3;           /* 4 or 6 */
	uint8_t proto;
	uint8_t icmp_type, icmp_code;
	bool has_icmp;
	struct nm_ct_tuple orig, reply;
	bool has_counters;
	uint64_t bytes[2], packets[2]; /* [0] original, [1] reply */
	uint64_t start_ns, stop_ns;    /* 0 when nf_conntrack_timestamp was off */
	uint32_t zone, mark, id, status;
};

/*
 * Fills f (zeroed) with direction dir (0 original, 1 reply) of e.
 * end_reason: 3 (destroyed) or 2 (a dump of a live connection, ended at
 * now_ns as far as this record goes).
 */
void nm_ct_fill(struct nm_flow *f, const struct nm_ct_entry *e, int dir, uint32_t end_reason,
		uint64_t now_ns);

struct nm_ct;
struct nm_ct *nm_ct_open(const struct nm_cfg_conntrack *c, struct nm_worker *w,
			 struct nm_linux_ctr *ctr, char *err, size_t errlen);
void nm_ct_run(struct nm_ct *t, atomic_bool *stop);
void nm_ct_close(struct nm_ct *t);

#endif
