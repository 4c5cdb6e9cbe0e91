/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowgen: builds sFlow v5 (flow samples with 128-byte headers, counter
 * samples), NetFlow v5, NetFlow v9 and IPFIX datagrams of the kind
 * routers send (a Cisco-like IPv4/IPv6 record layout, sampler options, a
 * template refresh every few datagrams), with varied field values so that
 * benchmarks and compressors see realistic data. Also writes them into a
 * classic pcap file wrapped in Ethernet/IPv4/UDP.
 *
 * Used by netmeta-gen (the demo/benchmark input), the decode benchmark and
 * tests. Deterministic for a given seed.
 */
#ifndef NM_FLOWGEN_H
#define NM_FLOWGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "flow.h"

struct nm_gen_cfg {
	enum nm_flow_type type;  /* SFLOW_5, NETFLOW_V5, NETFLOW_V9 or IPFIX */
	uint32_t recs_per_dgram; /* records per datagram (v5: at most 30) */
	uint32_t tmpl_every;     /* re-send templates every N datagrams (0: once) */
	uint32_t sampling_rate;  /* announced via header (v5) or options data */
	uint32_t domain;         /* observation domain / source ID */
	uint32_t cardinality;    /* distinct hosts per side */
	uint32_t v6_percent;     /* share of IPv6 records (v9/IPFIX) */
	uint64_t seed;
	uint32_t start_secs;     /* export time of the first datagram */
	uint32_t header_size;    /* sFlow sampled header bytes (multiple of 4) */
};

struct nm_gen {
	struct nm_gen_cfg cfg;
	uint64_t rng;
	uint32_t dgrams;
	uint32_t seq;     /* v5/IPFIX: records so far; v9: datagrams so far */
	uint32_t uptime_ms;
	uint32_t secs;
	uint64_t records; /* flow records generated (not options) */
	uint32_t sample_seq[64]; /* sFlow flow sample sequence per source */
};

void nm_gen_cfg_default(struct nm_gen_cfg *c, enum nm_flow_type type);
void nm_gen_init(struct nm_gen *g, const struct nm_gen_cfg *c);

/* Builds the next datagram into buf (cap >= 1500). Returns its length. */
size_t nm_gen_datagram(struct nm_gen *g, uint8_t *buf, size_t cap);

/*
 * A template flood (issue 17): template-only NetFlow v9 or IPFIX datagrams,
 * each defining tmpls_per_dgram templates (the IPv4 record layout above)
 * with IDs cycling through 256..65535, for an observation domain / source
 * ID the caller picks; never any data.
 */
struct nm_flood {
	uint32_t tmpls_per_dgram; /* templates per datagram (1..64) */
	uint32_t secs;            /* export time of the first datagram */
	uint16_t next_id;         /* next template ID (start at 256) */
	uint32_t dgrams;          /* datagrams built */
	uint64_t templates;       /* template records built */
};

/* Builds one flood datagram into buf; returns its length (0: cap too small). */
size_t nm_gen_flood_datagram(struct nm_flood *f, bool ipfix, uint32_t domain, uint8_t *buf,
			     size_t cap);

/* Ethernet + IPv4 + UDP headers (42 bytes) for a payload of len bytes from
 * src:sport to dst:dport (IPv4 checksum set, UDP checksum 0). */
#define NM_UDP_HDRS 42
void nm_udp_headers(uint8_t h[NM_UDP_HDRS], const uint8_t src[4], const uint8_t dst[4],
		    uint16_t sport, uint16_t dport, size_t len);

/* Classic pcap (LINKTYPE_ETHERNET, microseconds) writer. */
int nm_pcap_write_header(FILE *f);
/* Wraps payload in Ethernet/IPv4/UDP from src:sport to dst:dport. */
int nm_pcap_write_udp(FILE *f, uint64_t ts_ns, const uint8_t src[4], const uint8_t dst[4],
		      uint16_t sport, uint16_t dport, const uint8_t *payload, size_t len);

#endif
