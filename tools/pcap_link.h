/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The pcap file header holds a LINKTYPE_ number, which libpcap hands out as
 * the platform's DLT_ number (pcap_datalink); nm_pkt_parse() takes LINKTYPE_
 * numbers. They differ for raw IP (LINKTYPE_RAW 101 is DLT_RAW, 12 on Linux,
 * 14 on BSD/OS) and OpenBSD's loopback (LINKTYPE_LOOP 108 is DLT_LOOP 12
 * there); every other link type we read has the same number in both.
 * Shared by netmeta-decode and decode-bench.
 */
#ifndef NM_PCAP_LINK_H
#define NM_PCAP_LINK_H

#include <pcap/pcap.h>

#include "pkt.h"

static inline int nm_linktype_of_dlt(int dlt)
{
	if (dlt == DLT_RAW)
		return NM_LINK_RAW;
	if (dlt == DLT_LOOP)
		return NM_LINK_LOOP;
	return dlt;
}

#endif
