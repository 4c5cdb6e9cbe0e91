/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The wire contract in step: every entry of NM_FLOW_FIELDS (decoders/flow.h)
 * names a field of proto/flow.proto with the same number, name and type, no
 * proto field is missing from the record, and a record packed by
 * nm_flow_pb_delimited() unpacks with protobuf-c to the same values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "flow.h"
#include "flow.pb-c.h"
#include "flow_json.h"

struct nm_field_ref {
	unsigned number;
	const char *name;
	const char *kind;
};

static const struct nm_field_ref nm_fields[] = {
#define NM_X_(num, name, kind, m, pb) {num, #name, #kind},
	NM_FLOW_FIELDS(NM_X_)
#undef NM_X_
};
#define NM_NFIELDS (sizeof(nm_fields) / sizeof(nm_fields[0]))

static ProtobufCType nm_pb_type(const char *kind)
{
	if (strcmp(kind, "ENUM") == 0)
		return PROTOBUF_C_TYPE_ENUM;
	if (strcmp(kind, "U32") == 0 || strcmp(kind, "U32LIST") == 0)
		return PROTOBUF_C_TYPE_UINT32;
	if (strcmp(kind, "U64") == 0 || strcmp(kind, "MAC") == 0)
		return PROTOBUF_C_TYPE_UINT64;
	if (strcmp(kind, "ADDR") == 0)
		return PROTOBUF_C_TYPE_BYTES;
	if (strcmp(kind, "STR") == 0)
		return PROTOBUF_C_TYPE_STRING;
	return PROTOBUF_C_TYPE_BOOL;
}

static void test_fields_match_proto(void **state)
{
	(void)state;
	const ProtobufCMessageDescriptor *md = &netmeta__flow_message__descriptor;
	assert_int_equal(md->n_fields, NM_NFIELDS);
	for (size_t i = 0; i < NM_NFIELDS; i++) {
		const ProtobufCFieldDescriptor *fd =
			protobuf_c_message_descriptor_get_field(md, nm_fields[i].number);
		assert_non_null(fd);
		assert_string_equal(fd->name, nm_fields[i].name);
		assert_int_equal(fd->type, nm_pb_type(nm_fields[i].kind));
		assert_int_equal(fd->label == PROTOBUF_C_LABEL_REPEATED,
				 strcmp(nm_fields[i].kind, "U32LIST") == 0);
	}
	/* NetMeta numbering: 1..64 without 8; additions from 1000. */
	for (size_t i = 0; i < NM_NFIELDS; i++)
		assert_true((nm_fields[i].number >= 1 && nm_fields[i].number <= 64 &&
			     nm_fields[i].number != 8) ||
			    nm_fields[i].number >= 1000);
}

static void test_pack_roundtrip(void **state)
{
	(void)state;
	struct nm_flow f;
	memset(&f, 0, sizeof(f));
	f.type = NM_FLOW_TYPE_IPFIX;
	f.sampling_rate = 4096;
	f.bytes = UINT64_MAX;
	f.packets = 1;
	f.src_port = 65535;
	f.dst_mac = 0x0a0b0c0d0e0full;
	f.has_mpls = 1;
	f.mpls_last_label = 1048575;
	f.flow_end_reason = 3;
	static const uint8_t v4[4] = {192, 0, 2, 1};
	nm_addr_set_v4(&f.src_addr, v4);
	for (int i = 0; i < 16; i++)
		f.dst_addr.b[i] = (uint8_t)(0x20 + i);
	unsigned char buf[2048];
	size_t n = nm_flow_pb_delimited(&f, buf, sizeof(buf));
	assert_true(n > 2);
	/* varint length prefix */
	size_t len = 0, hdr = 0;
	for (int shift = 0;; shift += 7) {
		len |= (size_t)(buf[hdr] & 0x7f) << shift;
		if (!(buf[hdr++] & 0x80))
			break;
	}
	assert_int_equal(hdr + len, n);
	Netmeta__FlowMessage *m = netmeta__flow_message__unpack(NULL, len, buf + hdr);
	assert_non_null(m);
	assert_int_equal(m->type, NETMETA__FLOW_MESSAGE__FLOW_TYPE__IPFIX);
	assert_int_equal(m->samplingrate, 4096);
	assert_true(m->bytes == UINT64_MAX);
	assert_int_equal(m->srcport, 65535);
	assert_true(m->dstmac == 0x0a0b0c0d0e0full);
	assert_true(m->hasmpls);
	assert_int_equal(m->mplslastlabel, 1048575);
	assert_int_equal(m->flowendreason, 3);
	assert_int_equal(m->srcaddr.len, 16);
	assert_memory_equal(m->srcaddr.data, f.src_addr.b, 16);
	assert_memory_equal(m->dstaddr.data, f.dst_addr.b, 16);
	/* An unset address (::) is left out; set ones are 16 bytes. */
	assert_int_equal(m->nexthop.len, 0);
	netmeta__flow_message__free_unpacked(m, NULL);
	assert_int_equal(nm_flow_pb_delimited(&f, buf, 10), 0);
}

static void test_json_text(void **state)
{
	(void)state;
	struct nm_flow f;
	memset(&f, 0, sizeof(f));
	f.type = NM_FLOW_TYPE_NETFLOW_V9;
	f.src_mac = 0x001122aabbccull;
	static const uint8_t v4[4] = {10, 1, 2, 3};
	nm_addr_set_v4(&f.src_addr, v4);
	static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	memcpy(f.dst_addr.b, v6, 16);
	char buf[NM_FLOW_JSON_MAX];
	size_t n = nm_flow_json(&f, buf, sizeof(buf));
	assert_true(n > 0 && n == strlen(buf));
	assert_non_null(strstr(buf, "{\"Type\":\"NETFLOW_V9\","));
	assert_non_null(strstr(buf, "\"SrcAddr\":\"10.1.2.3\""));
	assert_non_null(strstr(buf, "\"DstAddr\":\"2001:db8::1\""));
	assert_non_null(strstr(buf, "\"SrcMac\":\"00:11:22:aa:bb:cc\""));
	assert_non_null(strstr(buf, "\"NextHop\":\"::\""));
	assert_non_null(strstr(buf, "\"HasMPLS\":false"));
	assert_int_equal(buf[n - 1], '}');
	assert_int_equal(nm_flow_json(&f, buf, 100), 0);
}

/* The NFLOG prefix: absent when empty, the text when set, escaped in JSON,
 * and back through nm_flow_from_pb (netmeta-cat's path). */
static void test_nflog_prefix(void **state)
{
	(void)state;
	struct nm_flow f;
	memset(&f, 0, sizeof(f));
	f.type = NM_FLOW_TYPE_NFLOG;
	unsigned char buf[2048], empty[2048];
	size_t n0 = nm_flow_pb_delimited(&f, empty, sizeof(empty));
	assert_true(n0 > 0);
	/* 0x82 << 3 | 2 = field 1026, wire type 2: never there when empty */
	for (size_t i = 0; i + 1 < n0; i++)
		assert_false(empty[i] == 0x92 && empty[i + 1] == 0x40);
	static const char txt[] = "DROP \"in\" \\ é";
	memcpy(f.nflog_prefix, txt, sizeof(txt) - 1);
	f.nflog_prefix_len = (uint8_t)(sizeof(txt) - 1);
	size_t n = nm_flow_pb_delimited(&f, buf, sizeof(buf));
	assert_int_equal(n, n0 + 3 + sizeof(txt) - 1);
	Netmeta__FlowMessage *m = netmeta__flow_message__unpack(NULL, n - 1, buf + 1);
	assert_non_null(m);
	assert_string_equal(m->nflogprefix, txt);
	netmeta__flow_message__free_unpacked(m, NULL);
	struct nm_flow g;
	assert_int_equal(nm_flow_from_pb(&g, buf + 1, n - 1), 0);
	assert_int_equal(g.nflog_prefix_len, f.nflog_prefix_len);
	assert_memory_equal(g.nflog_prefix, txt, sizeof(txt) - 1);
	char js[NM_FLOW_JSON_MAX];
	assert_true(nm_flow_json(&f, js, sizeof(js)) > 0);
	assert_non_null(strstr(js, "\"NflogPrefix\":\"DROP \\\"in\\\" \\\\ é\""));
	/* A record with an AS path keeps it: the prefix shares its bytes. */
	memset(&f, 0, sizeof(f));
	f.as_path_len = 2;
	f.as_path[0] = 65000;
	f.as_path[1] = 65001;
	n = nm_flow_pb_delimited(&f, buf, sizeof(buf));
	assert_int_equal(nm_flow_from_pb(&g, buf + 1, n - 1), 0);
	assert_int_equal(g.nflog_prefix_len, 0);
	assert_int_equal(g.as_path_len, 2);
	assert_int_equal(g.as_path[1], 65001);
	assert_true(nm_flow_json(&f, js, sizeof(js)) > 0);
	assert_non_null(strstr(js, "\"NflogPrefix\":\"\""));
}

/* Foreign text into a STR field: cleaned, cut at a character boundary. */
static void test_text_copy(void **state)
{
	(void)state;
	char d[NM_NFLOG_PREFIX_MAX];
	bool cut;
	static const uint8_t bad[] = {'a', 0x01, 0xff, 0xc3, 0xa9, 0xc3, 'b', 0xed, 0xa0, 0x80,
				      0x7f, 0xf0, 0x9f, 0x98, 0x80, 0, 'z'};
	size_t n = nm_flow_text_copy(d, sizeof(d), bad, sizeof(bad), &cut);
	/* a ? ? é ? b ? ? ? ? 😀, stopped at the NUL */
	static const char want[] = "a??\xc3\xa9?b????\xf0\x9f\x98\x80";
	assert_int_equal(n, sizeof(want) - 1);
	assert_memory_equal(d, want, n);
	assert_false(cut);
	/* 64 bytes of room, 63 of ASCII then a 2-byte character: it is left out */
	uint8_t longer[70];
	memset(longer, 'x', 63);
	longer[63] = 0xc3;
	longer[64] = 0xa9;
	n = nm_flow_text_copy(d, sizeof(d), longer, 65, &cut);
	assert_int_equal(n, 63);
	assert_true(cut);
	/* a truncated multi-byte character at the end of the source is one '?' each */
	static const uint8_t tail[] = {'o', 'k', 0xe2, 0x82};
	n = nm_flow_text_copy(d, sizeof(d), tail, sizeof(tail), &cut);
	assert_int_equal(n, 4);
	assert_memory_equal(d, "ok??", 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields_match_proto),
		cmocka_unit_test(test_pack_roundtrip),
		cmocka_unit_test(test_json_text),
		cmocka_unit_test(test_nflog_prefix),
		cmocka_unit_test(test_text_copy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
