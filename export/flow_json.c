/* SPDX-License-Identifier: BSD-3-Clause */
#include "flow_json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "flow.pb-c.h"

static size_t nm_json_mac(char *o, size_t cap, uint64_t m)
{
	return (size_t)snprintf(o, cap, "\"%02x:%02x:%02x:%02x:%02x:%02x\"",
				(unsigned)(m >> 40 & 0xff), (unsigned)(m >> 32 & 0xff),
				(unsigned)(m >> 24 & 0xff), (unsigned)(m >> 16 & 0xff),
				(unsigned)(m >> 8 & 0xff), (unsigned)(m & 0xff));
}

size_t nm_flow_json(const struct nm_flow *f, char *buf, size_t cap)
{
	if (cap < NM_FLOW_JSON_MAX)
		return 0;
	char a[64];
	size_t o = 0;
	buf[o++] = '{';
#define NM_J_ENUM(name, m) \
	o += (size_t)snprintf(buf + o, cap - o, "\"" #name "\":\"%s\",", \
			      nm_flow_type_name((enum nm_flow_type)f->m));
#define NM_J_U32(name, m) o += (size_t)snprintf(buf + o, cap - o, "\"" #name "\":%" PRIu32 ",", f->m);
#define NM_J_U64(name, m) o += (size_t)snprintf(buf + o, cap - o, "\"" #name "\":%" PRIu64 ",", f->m);
#define NM_J_BOOL(name, m) \
	o += (size_t)snprintf(buf + o, cap - o, "\"" #name "\":%s,", f->m ? "true" : "false");
#define NM_J_ADDR(name, m) \
	o += (size_t)snprintf(buf + o, cap - o, "\"" #name "\":\"%s\",", \
			      nm_addr_format(&f->m, a, sizeof(a)));
#define NM_J_MAC(name, m)                                                  \
	o += (size_t)snprintf(buf + o, cap - o, "\"" #name "\":");         \
	o += nm_json_mac(buf + o, cap - o, f->m);                          \
	buf[o++] = ',';
#define NM_X_(num, name, kind, m, pb) NM_J_##kind(name, m)
	NM_FLOW_FIELDS(NM_X_)
#undef NM_X_
	buf[o - 1] = '}';
	buf[o] = 0;
	return o;
}

size_t nm_flow_pb_delimited(const struct nm_flow *f, unsigned char *buf, size_t cap)
{
	Netmeta__FlowMessage msg = NETMETA__FLOW_MESSAGE__INIT;
	/* Address fields are always 16 bytes on the wire (IPv4-mapped). */
#define NM_P_ENUM(m, pb) msg.pb = (Netmeta__FlowMessage__FlowType)f->m;
#define NM_P_U32(m, pb) msg.pb = f->m;
#define NM_P_U64(m, pb) msg.pb = f->m;
#define NM_P_BOOL(m, pb) msg.pb = f->m != 0;
#define NM_P_MAC(m, pb) msg.pb = f->m;
#define NM_P_ADDR(m, pb)                                  \
	msg.pb.data = (uint8_t *)(uintptr_t)f->m.b;      \
	msg.pb.len = 16;
#define NM_X_(num, name, kind, m, pb) NM_P_##kind(m, pb)
	NM_FLOW_FIELDS(NM_X_)
#undef NM_X_
	size_t n = netmeta__flow_message__get_packed_size(&msg);
	size_t hdr = 0;
	unsigned char v[10];
	for (size_t x = n; ; x >>= 7) {
		v[hdr++] = (unsigned char)((x & 0x7f) | (x >= 0x80 ? 0x80 : 0));
		if (x < 0x80)
			break;
	}
	if (hdr + n > cap)
		return 0;
	memcpy(buf, v, hdr);
	netmeta__flow_message__pack(&msg, buf + hdr);
	return hdr + n;
}
