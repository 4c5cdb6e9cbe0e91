/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The collector's one configuration file (YAML), parsed and validated at
 * start. Every error names the key (as a path: "listen.sflow[1]") and the
 * problem. Unknown keys are errors too, so a typo never goes unnoticed.
 */
#ifndef NM_CONFIG_H
#define NM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "flow.h"
#include "sampler.h" /* struct nm_cfg_sampler (issue 14) */
#include "sink_cfg.h" /* export/: struct nm_cfg_sink, NM_CFG_MAX_SINKS */

#define NM_CFG_MAX_PORTS 16
#define NM_CFG_MAX_ADDRS 8
#define NM_CFG_MAX_LISTEN 16
#define NM_CFG_MAX_ALLOW 64
#define NM_CFG_MAX_WORKERS 64

enum nm_backend { NM_BACKEND_SOCKET, NM_BACKEND_DPDK };

/* What a UDP port carries. NETFLOW and AUTO pick v5/v9/IPFIX/sFlow by the
 * payload's version; SFLOW and IPFIX name the decoder outright. */
enum nm_proto_kind { NM_PROTO_SFLOW, NM_PROTO_NETFLOW, NM_PROTO_IPFIX, NM_PROTO_AUTO };

struct nm_prefix {
	struct nm_addr addr; /* IPv4 stored IPv4-mapped */
	uint8_t len;         /* in IPv6 bits (IPv4 /24 = 96 + 24) */
};

struct nm_cfg_port {
	char device[256];    /* PCI address or vdev string */
	struct nm_addr addrs[NM_CFG_MAX_ADDRS];
	uint32_t naddrs;
	bool accept_any_destination;
	/* ---- packet sampler (issue 14): role mirror = traffic to sample ---- */
	bool mirror;            /* role: mirror (default collector) */
	uint32_t sampling_rate; /* 1-in-N on a mirror port (default 1000) */
	uint32_t if_index;      /* InIf of its records, its sFlow source ID (default 1 + index) */
};

struct nm_cfg_listen {
	uint16_t port;
	enum nm_proto_kind kind;
};

struct nm_cfg_rate {
	struct nm_addr exporter;
	uint32_t rate;
	bool override;
};

/* ---- Linux inputs (NFLOG, conntrack; dataplane/linux_in.h) ---- */
#define NM_CFG_MAX_NFLOG_GROUPS 16

struct nm_cfg_nflog_group {
	uint16_t group;         /* netfilter log group (nft "log group N") */
	uint64_t sampling_rate; /* 1/probability of the rule's sampling; 1 = every packet */
};

struct nm_cfg_nflog {
	bool on;                /* the nflog key is present */
	struct nm_cfg_nflog_group groups[NM_CFG_MAX_NFLOG_GROUPS];
	uint32_t ngroups;
	uint32_t copy_range;    /* bytes of each packet the kernel copies */
	uint32_t qthreshold;    /* packets the kernel queues before sending */
	uint32_t flush_ms;      /* ... or after this long (kernel granularity 10 ms) */
	uint32_t nlbufsiz;      /* kernel-side buffer per message batch, bytes */
	uint32_t rcvbuf;        /* netlink socket receive buffer, bytes */
};

struct nm_cfg_conntrack {
	bool on;                /* the conntrack key is present */
	bool events_new;        /* subscribe to NEW events too (counted) */
	bool reliable;          /* NETLINK_BROADCAST_ERROR: the kernel re-sends lost DESTROYs */
	bool set_sysctls;       /* turn on nf_conntrack_acct/_timestamp/_events if off */
	uint32_t dump_interval; /* s; 0 = off: records of live connections, counters zeroed */
	uint32_t resync_interval; /* s; at most one resync dump per interval after overruns; 0 = none */
	uint32_t rcvbuf;        /* event socket receive buffer, bytes */
};

struct nm_config {
	enum nm_backend backend;
	uint32_t workers;
	struct nm_cfg_port ports[NM_CFG_MAX_PORTS];
	uint32_t nports;
	struct nm_cfg_listen listen[NM_CFG_MAX_LISTEN];
	uint32_t nlisten;
	char bind[64];          /* socket backend: address to bind ("::" = all) */
	uint32_t rcvbuf;        /* socket backend: SO_RCVBUF bytes */
	struct nm_prefix allow[NM_CFG_MAX_ALLOW];
	uint32_t nallow;        /* 0 = everyone */
	struct nm_decode_cfg decode;
	struct nm_cfg_rate rates[NM_STATIC_RATES_MAX]; /* static sampling rates per exporter */
	uint32_t nrates;
	struct nm_cfg_sink sinks[NM_CFG_MAX_SINKS];
	uint32_t nsinks;
	uint32_t stats_interval; /* seconds, 0 = off */
	uint32_t ring_size;      /* batches per worker ring (power of two) */
	uint32_t batch_records;  /* records per batch */
	uint32_t batches;        /* batches per worker pool */
	uint32_t flush_ms;       /* a partly filled batch leaves a worker after this long */
	uint32_t mbufs;          /* dpdk: mbufs per port pool */
	uint32_t mbuf_size;      /* dpdk: data room per mbuf (bigger packets chain segments) */
	uint32_t rx_desc;        /* dpdk: RX descriptors per queue */
	struct nm_cfg_sampler sampler; /* the `sampler:` block (issue 14) */
	struct nm_cfg_nflog nflog;         /* Linux inputs: off unless configured */
	struct nm_cfg_conntrack conntrack;
	/* operations (metrics, logs, instances) */
	char metrics_listen[80];        /* "host:port" of the metrics endpoint, "" = off */
	uint32_t metrics_max_exporters; /* per-exporter series per worker */
	bool share_ports;               /* join another process's ports on purpose (SO_REUSEPORT) */
	uint32_t log_level;             /* enum nm_log_level */
	uint32_t log_format;            /* enum nm_log_format: bare, plain, json */
	char state_path[256];    /* decoder state across restarts: PATH.<worker>; "" = off */
	uint32_t state_max_age;  /* seconds; an older state file is refused (0 = any age) */
	uint32_t state_interval; /* seconds between saves while running; 0 = at shutdown only */
};

/* Default metrics address when `metrics:` is given without `listen`. */
#define NM_METRICS_DEFAULT_LISTEN "127.0.0.1:9464"

/* Defaults: socket backend, 1 worker, ports 6343 sFlow / 2055 NetFlow /
 * 4739 IPFIX, everyone allowed, JSON lines to stdout. */
void nm_config_default(struct nm_config *c);

/*
 * Reads and validates a YAML config file over the defaults. Returns 0, or
 * -1 with a message naming the key and the problem in err.
 */
int nm_config_load(struct nm_config *c, const char *path, char *err, size_t errlen);
/* The same from a string (tests). */
int nm_config_parse(struct nm_config *c, const char *yaml, size_t len, char *err, size_t errlen);

/* Is addr inside the allowlist? (an empty list allows everyone) */
bool nm_config_allowed(const struct nm_config *c, const struct nm_addr *addr);

/* Parses "a.b.c.d", "x::y", optionally "/len". Returns 0 or -1. */
int nm_prefix_parse(const char *s, struct nm_prefix *p, bool allow_len);

/* Prints what the collector will do, one line per item. */
void nm_config_print(const struct nm_config *c, void *file);

const char *nm_proto_kind_name(enum nm_proto_kind k);

/* Packet sampler (issue 14): a mirror port needs the dpdk backend and an
 * agent address. 0, or -1 with a message (called by nm_config_parse). */
int nm_config_sampler_check(const struct nm_config *c, char *err, size_t errlen);

/* The outputs of next are run's but for the keys a reload applies to
 * running outputs (a file sink's rotate_bytes and rotate_seconds). */
bool nm_config_sinks_reloadable(const struct nm_config *run, const struct nm_config *next);

/*
 * A reload: which keys differ between the running config and a newly
 * loaded one that a reload cannot apply (they need a restart). Writes
 * their names, comma-separated, into out ("" when none). Returns how many.
 */
int nm_config_restart_keys(const struct nm_config *run, const struct nm_config *next, char *out,
			   size_t cap);

#endif
