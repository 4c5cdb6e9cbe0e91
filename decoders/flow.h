/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * struct nm_flow: the one fixed-size flow record every decoder produces.
 *
 * It carries every field of proto/flow.proto (FlowMessage) as a plain value:
 * no pointers into packets or templates, so batches of records can move
 * between threads by pointer and be recycled. Addresses are 16 bytes,
 * IPv4 stored IPv4-mapped (::ffff:a.b.c.d), exactly as on the wire.
 */
#ifndef NM_FLOW_H
#define NM_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum nm_flow_type {
	NM_FLOW_TYPE_UNKNOWN = 0,
	NM_FLOW_TYPE_SFLOW_5 = 1,
	NM_FLOW_TYPE_NETFLOW_V5 = 2,
	NM_FLOW_TYPE_NETFLOW_V9 = 3,
	NM_FLOW_TYPE_IPFIX = 4,
	NM_FLOW_TYPE_SAMPLER = 5, /* the appliance's own packet sampler (mirror ports) */
	NM_FLOW_TYPE_NFLOG = 6,     /* Linux netfilter log group (dataplane/nflog.c) */
	NM_FLOW_TYPE_CONNTRACK = 7, /* Linux conntrack event (dataplane/conntrack.c) */
};

/* Names as in the proto enum (FlowMessage.FlowType). */
const char *nm_flow_type_name(enum nm_flow_type t);

/*
 * Copies text of a foreign source (an NFLOG prefix) into a STR field: up to
 * the first NUL or len bytes of src, every byte that is not part of a valid
 * UTF-8 character, and every control character, replaced by '?', whole
 * characters only, at most cap bytes. Sets *cut when characters were left
 * out for want of room. Returns the bytes written (no NUL is added).
 */
size_t nm_flow_text_copy(char *dst, size_t cap, const uint8_t *src, size_t len, bool *cut);

/* Entries kept of an sFlow AS path / community list (longer ones are cut). */
#define NM_AS_PATH_MAX 10
#define NM_COMMUNITIES_MAX 10
/* Bytes kept of an NFLOG prefix (iptables' NFLOG target allows 63 and a NUL;
 * longer nftables prefixes are cut at a character boundary and counted). */
#define NM_NFLOG_PREFIX_MAX 64

struct nm_addr {
	uint8_t b[16];
};

struct nm_flow {
	/* 64-bit fields */
	uint64_t time_received;     /*  2 */
	uint64_t sampling_rate;     /*  3: 0 = unknown */
	uint64_t time_flow_end;     /*  5 */
	uint64_t bytes;             /*  9 */
	uint64_t packets;           /* 10 */
	uint64_t src_mac;           /* 27 */
	uint64_t dst_mac;           /* 28 */
	uint64_t time_flow_start;   /* 38 */
	uint64_t sampler_id;        /* 1002 */
	uint64_t time_received_ns;  /* 1003 */
	uint64_t time_flow_start_ns; /* 1004 */
	uint64_t time_flow_end_ns;  /* 1005 */
	uint64_t sample_pool;       /* 1016: packets the sampler saw up to this sample */
	uint64_t sample_drops;      /* 1017: samples it lost up to this sample */

	/* addresses */
	struct nm_addr src_addr;       /*  6 */
	struct nm_addr dst_addr;       /*  7 */
	struct nm_addr sampler_address; /* 11 */
	struct nm_addr next_hop;       /* 12 */
	struct nm_addr src_addr_encap; /* 44 */
	struct nm_addr dst_addr_encap; /* 45 */
	struct nm_addr bgp_next_hop;   /* 1006 */
	struct nm_addr post_nat_src_addr; /* 1012 */
	struct nm_addr post_nat_dst_addr; /* 1013 */

	/* 32-bit fields */
	uint32_t type;              /*  1: enum nm_flow_type */
	uint32_t sequence_num;      /*  4 */
	uint32_t next_hop_as;       /* 13 */
	uint32_t src_as;            /* 14 */
	uint32_t dst_as;            /* 15 */
	uint32_t src_net;           /* 16 */
	uint32_t dst_net;           /* 17 */
	uint32_t in_if;             /* 18 */
	uint32_t out_if;            /* 19 */
	uint32_t proto;             /* 20 */
	uint32_t src_port;          /* 21 */
	uint32_t dst_port;          /* 22 */
	uint32_t ip_tos;            /* 23 */
	uint32_t forwarding_status; /* 24 */
	uint32_t ip_ttl;            /* 25 */
	uint32_t tcp_flags;         /* 26 */
	uint32_t vlan_id;           /* 29 */
	uint32_t etype;             /* 30 */
	uint32_t icmp_type;         /* 31 */
	uint32_t icmp_code;         /* 32 */
	uint32_t src_vlan;          /* 33 */
	uint32_t dst_vlan;          /* 34 */
	uint32_t fragment_id;       /* 35 */
	uint32_t fragment_offset;   /* 36 */
	uint32_t ipv6_flow_label;   /* 37 */
	uint32_t ingress_vrf_id;    /* 39 */
	uint32_t egress_vrf_id;     /* 40 */
	uint32_t bi_flow_direction; /* 41 */
	uint32_t flow_direction;    /* 42 */
	uint32_t proto_encap;       /* 46 */
	uint32_t etype_encap;       /* 47 */
	uint32_t ip_tos_encap;      /* 48 */
	uint32_t ip_ttl_encap;      /* 49 */
	uint32_t ipv6_flow_label_encap; /* 50 */
	uint32_t fragment_id_encap; /* 51 */
	uint32_t fragment_offset_encap; /* 52 */
	uint32_t mpls_count;        /* 54 */
	uint32_t mpls1_ttl;         /* 55 */
	uint32_t mpls1_label;       /* 56 */
	uint32_t mpls2_ttl;         /* 57 */
	uint32_t mpls2_label;       /* 58 */
	uint32_t mpls3_ttl;         /* 59 */
	uint32_t mpls3_label;       /* 60 */
	uint32_t mpls_last_ttl;     /* 61 */
	uint32_t mpls_last_label;   /* 62 */
	uint32_t ppp_address_control; /* 64 */
	uint32_t observation_domain_id; /* 1000 */
	uint32_t exporter_port;     /* 1001 */
	uint32_t flow_end_reason;   /* 1007 */
	uint32_t drop_reason;       /* 1008 */
	/*
	 * The sFlow gateway lists and the NFLOG prefix share their bytes: no
	 * record has both (NFLOG records come from dataplane/nflog.c, which
	 * sets no list; decoders never set the prefix), and sharing keeps the
	 * record at its size, which every decoder copies per record
	 * (DESIGN-NOTES.md, Wire contract). Invariant: nflog_prefix_len != 0
	 * only when as_path_len == communities_len == 0; the encoders and
	 * nm_flow_from_pb() keep to it and never read past either array.
	 */
	union {
		struct {
			uint32_t as_path[NM_AS_PATH_MAX];         /* 1009, as_path_len used */
			uint32_t communities[NM_COMMUNITIES_MAX]; /* 1010, communities_len used */
		};
		char nflog_prefix[NM_NFLOG_PREFIX_MAX];  /* 1026, nflog_prefix_len used; UTF-8, no NUL */
	};
	uint32_t bgp_local_pref;    /* 1011 */
	uint32_t post_nat_src_port; /* 1014 */
	uint32_t post_nat_dst_port; /* 1015 */
	uint32_t mark;              /* 1020: packet mark (NFLOG) / connection mark (conntrack) */
	uint32_t socket_uid;        /* 1021: NFLOG: UID of the local socket's owner */
	uint32_t conntrack_zone;    /* 1023 */
	uint32_t conntrack_id;      /* 1024 */
	uint32_t conntrack_status;  /* 1025: IPS_* bits */
	uint8_t has_socket_uid;     /* 1022 */
	uint8_t as_path_len;
	uint8_t communities_len;

	/* booleans */
	uint8_t has_encap;          /* 43 */
	uint8_t has_mpls;           /* 53 */
	uint8_t has_ppp;            /* 63 */
	uint8_t nflog_prefix_len;   /* 1026: bytes of nflog_prefix (0 = none, absent on the wire) */
	uint8_t pad_[1];
};

_Static_assert(NM_NFLOG_PREFIX_MAX <= sizeof(uint32_t) * (NM_AS_PATH_MAX + NM_COMMUNITIES_MAX),
	       "nm_flow: the NFLOG prefix must fit in the bytes it shares");

/*
 * Every wire field of FlowMessage, in field-number order:
 * X(number, WireName, KIND, nm_flow member, protobuf-c member)
 * KIND: ENUM, U32, U64, ADDR (16 bytes), MAC (uint64, low 48 bits), BOOL,
 * U32LIST (array member with a member <name>_len, repeated uint32 on the wire),
 * STR (char array member with a member <name>_len: a proto3 string, absent
 * when empty; valid UTF-8 without NUL by the producer's duty).
 * Kept in step with proto/flow.proto by tests/wire/test_proto.c.
 */
#define NM_FLOW_FIELDS(X) \
	X(1, Type, ENUM, type, type) \
	X(2, TimeReceived, U64, time_received, timereceived) \
	X(3, SamplingRate, U64, sampling_rate, samplingrate) \
	X(4, SequenceNum, U32, sequence_num, sequencenum) \
	X(5, TimeFlowEnd, U64, time_flow_end, timeflowend) \
	X(6, SrcAddr, ADDR, src_addr, srcaddr) \
	X(7, DstAddr, ADDR, dst_addr, dstaddr) \
	X(9, Bytes, U64, bytes, bytes) \
	X(10, Packets, U64, packets, packets) \
	X(11, SamplerAddress, ADDR, sampler_address, sampleraddress) \
	X(12, NextHop, ADDR, next_hop, nexthop) \
	X(13, NextHopAS, U32, next_hop_as, nexthopas) \
	X(14, SrcAS, U32, src_as, srcas) \
	X(15, DstAS, U32, dst_as, dstas) \
	X(16, SrcNet, U32, src_net, srcnet) \
	X(17, DstNet, U32, dst_net, dstnet) \
	X(18, InIf, U32, in_if, inif) \
	X(19, OutIf, U32, out_if, outif) \
	X(20, Proto, U32, proto, proto) \
	X(21, SrcPort, U32, src_port, srcport) \
	X(22, DstPort, U32, dst_port, dstport) \
	X(23, IPTos, U32, ip_tos, iptos) \
	X(24, ForwardingStatus, U32, forwarding_status, forwardingstatus) \
	X(25, IPTTL, U32, ip_ttl, ipttl) \
	X(26, TCPFlags, U32, tcp_flags, tcpflags) \
	X(27, SrcMac, MAC, src_mac, srcmac) \
	X(28, DstMac, MAC, dst_mac, dstmac) \
	X(29, VlanId, U32, vlan_id, vlanid) \
	X(30, Etype, U32, etype, etype) \
	X(31, IcmpType, U32, icmp_type, icmptype) \
	X(32, IcmpCode, U32, icmp_code, icmpcode) \
	X(33, SrcVlan, U32, src_vlan, srcvlan) \
	X(34, DstVlan, U32, dst_vlan, dstvlan) \
	X(35, FragmentId, U32, fragment_id, fragmentid) \
	X(36, FragmentOffset, U32, fragment_offset, fragmentoffset) \
	X(37, IPv6FlowLabel, U32, ipv6_flow_label, ipv6flowlabel) \
	X(38, TimeFlowStart, U64, time_flow_start, timeflowstart) \
	X(39, IngressVrfID, U32, ingress_vrf_id, ingressvrfid) \
	X(40, EgressVrfID, U32, egress_vrf_id, egressvrfid) \
	X(41, BiFlowDirection, U32, bi_flow_direction, biflowdirection) \
	X(42, FlowDirection, U32, flow_direction, flowdirection) \
	X(43, HasEncap, BOOL, has_encap, hasencap) \
	X(44, SrcAddrEncap, ADDR, src_addr_encap, srcaddrencap) \
	X(45, DstAddrEncap, ADDR, dst_addr_encap, dstaddrencap) \
	X(46, ProtoEncap, U32, proto_encap, protoencap) \
	X(47, EtypeEncap, U32, etype_encap, etypeencap) \
	X(48, IPTosEncap, U32, ip_tos_encap, iptosencap) \
	X(49, IPTTLEncap, U32, ip_ttl_encap, ipttlencap) \
	X(50, IPv6FlowLabelEncap, U32, ipv6_flow_label_encap, ipv6flowlabelencap) \
	X(51, FragmentIdEncap, U32, fragment_id_encap, fragmentidencap) \
	X(52, FragmentOffsetEncap, U32, fragment_offset_encap, fragmentoffsetencap) \
	X(53, HasMPLS, BOOL, has_mpls, hasmpls) \
	X(54, MPLSCount, U32, mpls_count, mplscount) \
	X(55, MPLS1TTL, U32, mpls1_ttl, mpls1ttl) \
	X(56, MPLS1Label, U32, mpls1_label, mpls1label) \
	X(57, MPLS2TTL, U32, mpls2_ttl, mpls2ttl) \
	X(58, MPLS2Label, U32, mpls2_label, mpls2label) \
	X(59, MPLS3TTL, U32, mpls3_ttl, mpls3ttl) \
	X(60, MPLS3Label, U32, mpls3_label, mpls3label) \
	X(61, MPLSLastTTL, U32, mpls_last_ttl, mplslastttl) \
	X(62, MPLSLastLabel, U32, mpls_last_label, mplslastlabel) \
	X(63, HasPPP, BOOL, has_ppp, hasppp) \
	X(64, PPPAddressControl, U32, ppp_address_control, pppaddresscontrol) \
	X(1000, ObservationDomainId, U32, observation_domain_id, observationdomainid) \
	X(1001, ExporterPort, U32, exporter_port, exporterport) \
	X(1002, SamplerId, U64, sampler_id, samplerid) \
	X(1003, TimeReceivedNs, U64, time_received_ns, timereceivedns) \
	X(1004, TimeFlowStartNs, U64, time_flow_start_ns, timeflowstartns) \
	X(1005, TimeFlowEndNs, U64, time_flow_end_ns, timeflowendns) \
	X(1006, BgpNextHop, ADDR, bgp_next_hop, bgpnexthop) \
	X(1007, FlowEndReason, U32, flow_end_reason, flowendreason) \
	X(1008, DropReason, U32, drop_reason, dropreason) \
	X(1009, AsPath, U32LIST, as_path, aspath) \
	X(1010, Communities, U32LIST, communities, communities) \
	X(1011, BgpLocalPref, U32, bgp_local_pref, bgplocalpref) \
	X(1012, PostNatSrcAddr, ADDR, post_nat_src_addr, postnatsrcaddr) \
	X(1013, PostNatDstAddr, ADDR, post_nat_dst_addr, postnatdstaddr) \
	X(1014, PostNatSrcPort, U32, post_nat_src_port, postnatsrcport) \
	X(1015, PostNatDstPort, U32, post_nat_dst_port, postnatdstport) \
	X(1016, SamplePool, U64, sample_pool, samplepool) \
	X(1017, SampleDrops, U64, sample_drops, sampledrops) \
	X(1020, Mark, U32, mark, mark) \
	X(1021, SocketUid, U32, socket_uid, socketuid) \
	X(1022, HasSocketUid, BOOL, has_socket_uid, hassocketuid) \
	X(1023, ConntrackZone, U32, conntrack_zone, conntrackzone) \
	X(1024, ConntrackId, U32, conntrack_id, conntrackid) \
	X(1025, ConntrackStatus, U32, conntrack_status, conntrackstatus) \
	X(1026, NflogPrefix, STR, nflog_prefix, nflogprefix)

/*
 * Copies a whole record inline, in 64-byte pieces: a struct assignment this
 * large compiles to a call of libc's memcpy, which took 12 % of NetFlow v9
 * decode time (decoders copy the datagram's base into every record).
 */
static inline void nm_flow_copy(struct nm_flow *restrict dst, const struct nm_flow *restrict src)
{
	uint8_t *d = (uint8_t *)dst;
	const uint8_t *s = (const uint8_t *)src;
	size_t i = 0;
	_Static_assert(sizeof(struct nm_flow) < 16 * 64, "nm_flow_copy: record too big");
	for (; i + 64 <= sizeof(struct nm_flow); i += 64)
		memcpy(d + i, s + i, 64);
	memcpy(d + i, s + i, sizeof(struct nm_flow) - i);
}

/* Bytes of a STR field to encode: its length, bounded by the array. */
#define NM_FLOW_STR_LEN(f, m) \
	((size_t)((f)->m##_len < sizeof((f)->m) ? (f)->m##_len : sizeof((f)->m)))

/* Writes an IPv4 address given in network byte order as ::ffff:a.b.c.d. */
static inline void nm_addr_set_v4(struct nm_addr *a, const uint8_t v4[4])
{
	memset(a->b, 0, 10);
	a->b[10] = 0xff;
	a->b[11] = 0xff;
	memcpy(a->b + 12, v4, 4);
}

/*
 * Records MPLS label stack entry i (0 = top): the first three fill
 * MPLS1..3, every one becomes the last so far. The caller sets the count.
 */
static inline void nm_flow_mpls_entry(struct nm_flow *f, unsigned i, uint32_t label, uint32_t ttl)
{
	if (i == 0) {
		f->mpls1_label = label;
		f->mpls1_ttl = ttl;
	} else if (i == 1) {
		f->mpls2_label = label;
		f->mpls2_ttl = ttl;
	} else if (i == 2) {
		f->mpls3_label = label;
		f->mpls3_ttl = ttl;
	}
	f->mpls_last_label = label;
	f->mpls_last_ttl = ttl;
}

static inline bool nm_addr_is_v4(const struct nm_addr *a)
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	return memcmp(a->b, prefix, 12) == 0;
}

static inline bool nm_addr_is_zero(const struct nm_addr *a)
{
	static const uint8_t zero[16];
	return memcmp(a->b, zero, 16) == 0;
}

/*
 * Formats an address as text: dotted quad for IPv4-mapped, RFC 5952 for
 * IPv6. buf must hold at least 46 bytes. Returns buf.
 */
char *nm_addr_format(const struct nm_addr *a, char *buf, size_t len);

/*
 * A batch of records owned by the caller. Decoders append; when the batch is
 * full they call flush (if set) and continue from an empty batch, otherwise
 * they count NM_ERR_BATCH_FULL and drop the record.
 */
struct nm_flow_batch {
	struct nm_flow *recs;
	uint32_t n;
	uint32_t cap;
	void (*flush)(struct nm_flow_batch *b, void *ctx);
	void *flush_ctx;
};

/*
 * struct nm_ctr: one sFlow counter sample's interface counters (generic and
 * Ethernet records merged), the InterfaceCounters message of proto/flow.proto.
 */
struct nm_ctr {
	uint64_t time_received;
	uint64_t time_received_ns;
	struct nm_addr agent;
	uint64_t if_speed;
	uint64_t in_octets;
	uint64_t out_octets;
	uint64_t source_id; /* source type << 32 | index */
	uint32_t sub_agent_id;
	uint32_t sequence_num;
	uint32_t sample_sequence_num;
	uint32_t if_index;
	uint32_t if_type;
	uint32_t if_direction;
	uint32_t if_status;
	uint32_t in_ucast_pkts;
	uint32_t in_multicast_pkts;
	uint32_t in_broadcast_pkts;
	uint32_t in_discards;
	uint32_t in_errors;
	uint32_t in_unknown_protos;
	uint32_t out_ucast_pkts;
	uint32_t out_multicast_pkts;
	uint32_t out_broadcast_pkts;
	uint32_t out_discards;
	uint32_t out_errors;
	uint32_t promiscuous_mode;
	uint32_t dot3[13]; /* dot3Stats*, in the order of the sFlow Ethernet record */
	uint8_t has_ethernet;
	uint8_t has_generic;
	uint8_t pad_[6];
};

/* Every field of InterfaceCounters: X(number, WireName, KIND, member, protobuf-c member). */
#define NM_CTR_FIELDS(X) \
	X(1, TimeReceived, U64, time_received, timereceived) \
	X(2, TimeReceivedNs, U64, time_received_ns, timereceivedns) \
	X(3, AgentAddress, ADDR, agent, agentaddress) \
	X(4, SubAgentId, U32, sub_agent_id, subagentid) \
	X(5, SequenceNum, U32, sequence_num, sequencenum) \
	X(6, SampleSequenceNum, U32, sample_sequence_num, samplesequencenum) \
	X(7, SourceId, U64, source_id, sourceid) \
	X(8, IfIndex, U32, if_index, ifindex) \
	X(9, IfType, U32, if_type, iftype) \
	X(10, IfSpeed, U64, if_speed, ifspeed) \
	X(11, IfDirection, U32, if_direction, ifdirection) \
	X(12, IfStatus, U32, if_status, ifstatus) \
	X(13, InOctets, U64, in_octets, inoctets) \
	X(14, InUcastPkts, U32, in_ucast_pkts, inucastpkts) \
	X(15, InMulticastPkts, U32, in_multicast_pkts, inmulticastpkts) \
	X(16, InBroadcastPkts, U32, in_broadcast_pkts, inbroadcastpkts) \
	X(17, InDiscards, U32, in_discards, indiscards) \
	X(18, InErrors, U32, in_errors, inerrors) \
	X(19, InUnknownProtos, U32, in_unknown_protos, inunknownprotos) \
	X(20, OutOctets, U64, out_octets, outoctets) \
	X(21, OutUcastPkts, U32, out_ucast_pkts, outucastpkts) \
	X(22, OutMulticastPkts, U32, out_multicast_pkts, outmulticastpkts) \
	X(23, OutBroadcastPkts, U32, out_broadcast_pkts, outbroadcastpkts) \
	X(24, OutDiscards, U32, out_discards, outdiscards) \
	X(25, OutErrors, U32, out_errors, outerrors) \
	X(26, PromiscuousMode, U32, promiscuous_mode, promiscuousmode) \
	X(27, HasEthernet, BOOL, has_ethernet, hasethernet) \
	X(28, Dot3AlignmentErrors, U32, dot3[0], dot3alignmenterrors) \
	X(29, Dot3FCSErrors, U32, dot3[1], dot3fcserrors) \
	X(30, Dot3SingleCollisionFrames, U32, dot3[2], dot3singlecollisionframes) \
	X(31, Dot3MultipleCollisionFrames, U32, dot3[3], dot3multiplecollisionframes) \
	X(32, Dot3SQETestErrors, U32, dot3[4], dot3sqetesterrors) \
	X(33, Dot3DeferredTransmissions, U32, dot3[5], dot3deferredtransmissions) \
	X(34, Dot3LateCollisions, U32, dot3[6], dot3latecollisions) \
	X(35, Dot3ExcessiveCollisions, U32, dot3[7], dot3excessivecollisions) \
	X(36, Dot3InternalMacTransmitErrors, U32, dot3[8], dot3internalmactransmiterrors) \
	X(37, Dot3CarrierSenseErrors, U32, dot3[9], dot3carriersenseerrors) \
	X(38, Dot3FrameTooLongs, U32, dot3[10], dot3frametoolongs) \
	X(39, Dot3InternalMacReceiveErrors, U32, dot3[11], dot3internalmacreceiveerrors) \
	X(40, Dot3SymbolErrors, U32, dot3[12], dot3symbolerrors) \
	X(41, HasGeneric, BOOL, has_generic, hasgeneric)

/* A batch of counter records, like struct nm_flow_batch. */
struct nm_ctr_batch {
	struct nm_ctr *recs;
	uint32_t n;
	uint32_t cap;
	void (*flush)(struct nm_ctr_batch *b, void *ctx);
	void *flush_ctx;
};

#endif
