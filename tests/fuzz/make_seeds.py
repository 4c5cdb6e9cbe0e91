#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Writes the seed corpus of the fuzz targets into tests/fuzz/corpus/<target>/.

Seeds are small, valid inputs in each target's input format (see nm_fuzz.h,
fuzz_pkt.c and fuzz_dpdk_pkt.c): hand-built datagrams of every protocol,
frames for the DPDK packet path (big and chained ones too), and, when the team
corpus folder exists (../shared/corpus, or --shared DIR), the UDP payloads
(or frames, for the pkt target) of its captures, capped in size.

Seed files are named seed-*; files the fuzzer added (merged corpora, named by
their SHA-1) are left alone. Standard library only.

    /usr/bin/python3 tests/fuzz/make_seeds.py [--shared DIR] [--out DIR]
"""

import argparse
import glob
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = ("netflow_v5", "netflow_v9", "ipfix", "pkt", "sflow", "hdr", "dpdk_pkt", "state")
SEED_MAX = 16 * 1024  # bytes per seed built from a capture
T0 = 1700000000       # receive time of the first datagram (nm_fuzz.h)

# ---- flow-decoder target input format (nm_fuzz.h) ----


def nf_input(dgrams, flags=0x00, lifetime=0):
    """dgrams: list of (ctl, dt, payload)."""
    out = bytearray([flags, lifetime])
    for ctl, dt, p in dgrams:
        out += struct.pack(">BBH", ctl, dt, len(p)) + p
    return bytes(out)


# ---- NetFlow v5 ----


def v5_record(i):
    src = bytes([10, 0, 0, 1 + i])
    dst = bytes([192, 0, 2, 10 + i])
    return (src + dst + bytes([10, 0, 0, 254]) +
            struct.pack(">HHIIII", 1 + i, 2, 10 + i, 1500 * (i + 1), 1000, 2000) +
            struct.pack(">HHBBBBHHBBH", 1024 + i, 443 if i % 3 else 0x0303, 0, 0x1b,
                        1 if i % 3 == 0 else 6, 0, 64512, 65000 + i, 24, 16, 0))


def v5_dgram(count, seq, secs=T0, sampling=0x4064, engine=(0, 1)):
    hdr = struct.pack(">HHIIIIBBH", 5, count, 5000, secs, 123456789, seq,
                      engine[0], engine[1], sampling)
    return hdr + b"".join(v5_record(i) for i in range(count))


# ---- NetFlow v9 ----


def v9_dgram(flowsets, seq, secs=T0, uptime=5000, source_id=1):
    body = b"".join(flowsets)
    return struct.pack(">HHIIII", 9, len(flowsets), uptime, secs, seq, source_id) + body


def set_(set_id, body, pad4=True):
    if pad4:
        body += b"\0" * (-len(body) % 4)
    return struct.pack(">HH", set_id, 4 + len(body)) + body


def v9_template(tid, fields):
    return struct.pack(">HH", tid, len(fields)) + b"".join(
        struct.pack(">HH", t, n) for t, n in fields)


def v9_opt_template(tid, scopes, opts):
    return (struct.pack(">HHH", tid, 4 * len(scopes), 4 * len(opts)) +
            b"".join(struct.pack(">HH", t, n) for t, n in scopes + opts))


V9_T4 = [(8, 4), (12, 4), (4, 1), (7, 2), (11, 2), (1, 4), (2, 4), (22, 4), (21, 4),
         (10, 2), (14, 2), (6, 1), (5, 1), (16, 2), (17, 2), (9, 1), (13, 1), (15, 4),
         (48, 1), (56, 6), (80, 6), (58, 2), (61, 1), (89, 1)]
V9_T6 = [(27, 16), (28, 16), (4, 1), (7, 2), (11, 2), (1, 8), (2, 8), (22, 4), (21, 4),
         (31, 3), (62, 16), (70, 3), (71, 3), (72, 3), (139, 2), (60, 1), (0, 0),
         (200, 5)]


def v9_rec4(i):
    return (bytes([10, 1, 0, i]) + bytes([198, 51, 100, i]) + bytes([17]) +
            struct.pack(">HHIIII", 5353, 53, 300 + i, 3, 4000, 4900) +
            struct.pack(">HHBBHHBB", 3, 4, 0, 0, 65001, 65002, 24, 24) +
            bytes([10, 1, 0, 254]) + bytes([1]) +
            bytes.fromhex("0200000000%02x" % i) + bytes.fromhex("020000000001") +
            struct.pack(">HBB", 100, 0, 64))


def v9_rec6(i):
    return (bytes.fromhex("20010db8000000000000000000000001") +
            bytes.fromhex("20010db80000000000000000000000%02x" % (i + 2)) + bytes([6]) +
            struct.pack(">HHQQII", 40000 + i, 443, 9000, 7, 4500, 4990) +
            bytes([0x01, 0x23, 0x45]) + bytes(16) +
            bytes([0x01, 0x00, 0x10]) + bytes([0x02, 0x00, 0x20]) +
            bytes([0x03, 0x00, 0x31]) + bytes([0x80, 0x00]) + bytes([6]) + bytes(5))


def v9_seeds():
    t = set_(0, v9_template(256, V9_T4) + v9_template(257, V9_T6))
    ot = set_(1, v9_opt_template(258, [(1, 4)], [(34, 4), (35, 1), (48, 1)]))
    opt_data = set_(258, struct.pack(">IIBB", 1, 100, 2, 1))
    d4 = set_(256, b"".join(v9_rec4(i) for i in range(3)))
    d6 = set_(257, b"".join(v9_rec6(i) for i in range(2)))
    t_new = set_(0, v9_template(256, [(8, 4), (12, 4), (2, 4), (1, 4)]))
    d4_new = set_(256, bytes([10, 2, 0, 1, 10, 2, 0, 2]) + struct.pack(">II", 5, 5000))
    seeds = {
        # templates, options and data in one datagram, then data only
        "seed-v9-tmpl-data": nf_input([
            (0x00, 0, v9_dgram([t, ot, opt_data, d4, d6], 1)),
            (0x00, 1, v9_dgram([d4, d6], 2, secs=T0 + 1)),
        ]),
        # data before its template, template from a second exporter,
        # template re-defined, lifetime expiry (flags bit 0, 2 s)
        "seed-v9-lifetime": nf_input([
            (0x01, 0, v9_dgram([d4], 1)),
            (0x00, 0, v9_dgram([t], 1)),
            (0x00, 1, v9_dgram([d4], 2, secs=T0 + 1)),
            (0x00, 5, v9_dgram([d4], 3, secs=T0 + 6)),
            (0x00, 0, v9_dgram([t_new, d4_new], 4, secs=T0 + 6)),
        ], flags=0x07, lifetime=2),
        # small batch with a draining flush, tight caps, many template IDs
        "seed-v9-evict": nf_input(
            [(i % 4, 1, v9_dgram([set_(0, b"".join(
                v9_template(256 + 8 * i + k, [(8, 4), (12, 4), (1, 4)])
                for k in range(8))), set_(256 + 8 * i, bytes(12) * 2)], i, secs=T0 + i))
             for i in range(6)], flags=0x4e),
        # zero padding after the last flowset, sequence gap
        "seed-v9-padding": nf_input([
            (0x10, 0, v9_dgram([t, d4], 10) + bytes(6)),
            (0x10, 0, v9_dgram([d4], 20)),
        ], flags=0x80),
        # decoded through nm_decode_any (ctl bit 6), mixed with v5
        "seed-v9-any": nf_input([
            (0x40, 0, v9_dgram([t, d4], 1)),
            (0x40, 0, v5_dgram(2, 1)),
        ]),
    }
    return seeds


# ---- IPFIX ----


def ipfix_msg(sets, seq, secs=T0, domain=1):
    body = b"".join(sets)
    return struct.pack(">HHIII", 10, 16 + len(body), secs, seq, domain) + body


def ipfix_template(tid, fields, scope=None):
    out = struct.pack(">HH", tid, len(fields))
    if scope is not None:
        out += struct.pack(">H", scope)
    for f in fields:
        ie, n = f[0], f[1]
        if len(f) == 3:
            out += struct.pack(">HHI", ie | 0x8000, n, f[2])
        else:
            out += struct.pack(">HH", ie, n)
    return out


IPFIX_T4 = [(8, 4), (12, 4), (4, 1), (7, 2), (11, 2), (1, 8), (2, 8), (152, 8), (153, 8),
            (10, 4), (14, 4), (6, 2), (5, 1), (16, 4), (17, 4), (302, 4), (136, 1),
            (243, 2), (254, 2), (234, 4), (176, 1), (177, 1)]
IPFIX_T6 = [(27, 16), (28, 16), (4, 1), (1, 4), (2, 4), (22, 4), (21, 4), (160, 8),
            (82, 0xFFFF), (1, 4, 9), (94, 0xFFFF), (70, 4), (71, 4), (60, 1), (256, 2)]
IPFIX_T_TIMES = [(8, 4), (12, 4), (150, 4), (151, 4), (2, 4), (161, 4), (154, 8),
                 (155, 8), (158, 4), (159, 4), (162, 4), (50, 4), (34, 4)]
IPFIX_OPT = [(149, 4), (302, 4), (305, 4), (306, 4), (309, 4), (310, 4), (160, 8)]


def ipfix_rec4(i):
    return (bytes([10, 3, 0, i, 203, 0, 113, i, 6]) +
            struct.pack(">HHQQQQ", 1000 + i, 80, 1400, 2, 1700000000000, 1700000000500) +
            struct.pack(">IIHBIIIB", 5, 6, 0x12, 0, 64500, 64501, 7, 1) +
            struct.pack(">HHIBB", 100, 200, 3, 8, 0))


def ipfix_rec6(i, name=b"eth0"):
    long = b"x" * 300
    return (bytes.fromhex("20010db8000100000000000000000001") +
            bytes.fromhex("20010db80002000000000000000000%02x" % i) + bytes([58]) +
            struct.pack(">IIIIQ", 500, 1, 1000, 2000, 1699999990000) +
            bytes([len(name)]) + name + struct.pack(">I", 77) +
            (bytes([255]) + struct.pack(">H", len(long)) + long if i % 2 else b"\0") +
            bytes([0x00, 0x10, 0x01, 0x00]) + bytes([0x00, 0x20, 0x01, 0x00]) +
            bytes([6]) + struct.pack(">H", 0x86DD))


def ipfix_rec_times(i):
    return (bytes([10, 4, 0, i, 10, 5, 0, i]) +
            struct.pack(">IIII", T0 - 10, T0 - 5, 3, 5000) +
            struct.pack(">QQ", (T0 + 2208988800) << 32, (T0 + 2208988801) << 32 | 0x80000000) +
            struct.pack(">IIIII", 5000000, 1000, 2500, 0 if i else 64, 0 if i else 128))


def ipfix_seeds():
    t = set_(2, ipfix_template(256, IPFIX_T4) + ipfix_template(257, IPFIX_T6) +
             ipfix_template(260, IPFIX_T_TIMES), pad4=False)
    ot = set_(3, ipfix_template(258, IPFIX_OPT, scope=1), pad4=False)
    opt = set_(258, struct.pack(">IIIIIIQ", 1, 7, 1, 99, 10, 1000, 1699990000000))
    d4 = set_(256, b"".join(ipfix_rec4(i) for i in range(3)), pad4=False)
    d6 = set_(257, b"".join(ipfix_rec6(i) for i in range(2)), pad4=False)
    dt = set_(260, b"".join(ipfix_rec_times(i) for i in range(2)), pad4=False)
    withdraw = set_(2, struct.pack(">HH", 257, 0), pad4=False)
    withdraw_all = set_(2, struct.pack(">HH", 2, 0), pad4=False)
    withdraw_opt = set_(3, struct.pack(">HH", 3, 0), pad4=False)
    seeds = {
        "seed-ipfix-tmpl-data": nf_input([
            (0x00, 0, ipfix_msg([t, ot, opt, d4, d6, dt], 0)),
            (0x00, 1, ipfix_msg([d4, d6, dt], 7, secs=T0 + 1)),
        ]),
        "seed-ipfix-withdraw": nf_input([
            (0x01, 0, ipfix_msg([t, ot], 0)),
            (0x01, 0, ipfix_msg([d6, withdraw, d6], 0)),
            (0x01, 0, ipfix_msg([withdraw_opt, opt, withdraw_all, d4], 2)),
            (0x02, 0, ipfix_msg([d4], 0)),
        ], flags=0x86),
        "seed-ipfix-lifetime": nf_input([
            (0x21, 0, ipfix_msg([t], 0)),
            (0x21, 3, ipfix_msg([d4], 0, secs=T0 + 3)),
            (0x21, 30, ipfix_msg([d4], 3, secs=T0 + 33)),
        ], flags=0x01, lifetime=10),
        "seed-ipfix-evict": nf_input(
            [(i % 16, 1, ipfix_msg([set_(2, b"".join(
                ipfix_template(256 + 8 * i + k, [(8, 4), (12, 4), (2, 4)])
                for k in range(8)), pad4=False), set_(256 + 8 * i, bytes(12) * 3)],
                i, secs=T0 + i, domain=i % 3))
             for i in range(12)], flags=0x48),
        "seed-ipfix-padding": nf_input([
            (0x00, 0, ipfix_msg([t, d4], 0) + bytes(8)),
            (0x40, 0, ipfix_msg([d4, set_(256, bytes(3), pad4=False)], 3)),
        ], flags=0xf2),
    }
    return seeds


def v5_seeds():
    return {
        "seed-v5-basic": nf_input([
            (0x00, 0, v5_dgram(3, 100)),
            (0x00, 1, v5_dgram(2, 103, secs=T0 + 1)),
            (0x01, 0, v5_dgram(30, 0, sampling=0)),
        ]),
        "seed-v5-batch": nf_input([(i, 1, v5_dgram(5, 5 * i, engine=(i, 0)))
                                   for i in range(10)], flags=0x46),
        "seed-v5-gap-padding": nf_input([
            (0x20, 0, v5_dgram(1, 10) + bytes(4)),
            (0x20, 0, v5_dgram(1, 50)),
            (0xa0, 9, v5_dgram(1, 2)),
        ], flags=0x80),
    }


# ---- packet parser target (fuzz_pkt.c) ----

LINK_INDEX = {1: 0, 101: 1, 228: 2, 229: 3, 0: 4, 108: 5, 113: 6, 276: 7}


def pkt_input(frames):
    """frames: list of (linktype, frame)."""
    out = bytearray()
    for link, fr in frames:
        out += struct.pack(">BH", LINK_INDEX.get(link, 8), len(fr)) + fr
    return bytes(out)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def udp(payload, sport=2055, dport=2055):
    return struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload


def ipv4(payload, proto=17, ident=1, frag=0, src=b"\xc0\x00\x02\x01",
         dst=b"\xc0\x00\x02\x02", options=b""):
    ihl = 5 + len(options) // 4
    h = struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, 4 * ihl + len(payload), ident, frag,
                    64, proto, 0, src, dst) + options
    h = h[:10] + struct.pack(">H", csum(h)) + h[12:]
    return h + payload


def ipv6(payload, nh=17):
    return (struct.pack(">IHBB", 0x60000000, len(payload), nh, 64) +
            bytes.fromhex("20010db8000000000000000000000001") +
            bytes.fromhex("20010db8000000000000000000000002") + payload)


def eth(payload, etype=0x0800, vlans=()):
    h = bytes.fromhex("020000000002020000000001")
    for tpid, vid in vlans:
        h += struct.pack(">HH", tpid, vid)
    return h + struct.pack(">H", etype) + payload


def pkt_seeds():
    v5 = v5_dgram(2, 1)
    big = udp(v5_dgram(30, 1))  # 1472 bytes, fragmented below
    f1 = ipv4(big[:800], ident=7, frag=0x2000)
    f2 = ipv4(big[800:], ident=7, frag=100)
    v6frag_hdr = lambda off, more: struct.pack(">BBHI", 17, 0, off | more, 0xABCD)
    g1 = ipv6(v6frag_hdr(0, 1) + big[:800], nh=44)
    g2 = ipv6(v6frag_hdr(800, 0) + big[800:], nh=44)
    hbh = bytes([17, 0]) + bytes(6)
    dst_opts = bytes([17, 1]) + bytes(14)
    sll = struct.pack(">HHH8sH", 0, 1, 6, bytes(8), 0x0800)
    sll2 = struct.pack(">HHIHBB8s", 0x86DD, 0, 2, 1, 0, 6, bytes(8))
    return {
        "seed-pkt-eth-ipv4": pkt_input([(1, eth(ipv4(udp(v5))))]),
        "seed-pkt-eth-vlan": pkt_input([
            (1, eth(ipv4(udp(v5)), vlans=[(0x8100, 10)])),
            (1, eth(ipv6(udp(v5)), etype=0x86DD, vlans=[(0x88A8, 20), (0x8100, 30)])),
            (1, eth(ipv4(udp(v5)), vlans=[(0x9100, 1), (0x8100, 2), (0x8100, 3)])),
        ]),
        "seed-pkt-ipv4-options-trailer": pkt_input([
            (1, eth(ipv4(udp(v5), options=bytes([1, 1, 1, 0])) + bytes(6))),
            (1, eth(ipv4(b"\x08\x00" + bytes(6), proto=1))),
        ]),
        "seed-pkt-ipv4-frag": pkt_input([(1, eth(f2)), (1, eth(f1)), (1, eth(f1))]),
        "seed-pkt-ipv6-frag": pkt_input([(229, g1), (229, g2)]),
        "seed-pkt-ipv6-ext": pkt_input([
            (1, eth(ipv6(hbh + udp(v5), nh=0), etype=0x86DD)),
            (101, ipv6(dst_opts + udp(v5), nh=60)),
        ]),
        "seed-pkt-links": pkt_input([
            (0, struct.pack("<I", 2) + ipv4(udp(v5))),
            (108, struct.pack(">I", 24) + ipv6(udp(v5))),
            (113, sll + ipv4(udp(v5))),
            (276, sll2 + ipv6(udp(v5))),
            (228, ipv4(udp(v5))),
            (999, b"\0" * 20),
        ]),
    }


# ---- seeds from the team's captures ----


def pcap_frames(path):
    """Yields (linktype, frame) of a classic pcap file; nothing for others."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return
    link = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        off += 16
        if off + incl > len(data):
            return
        yield link, data[off:off + incl]
        off += incl


def udp_of(link, fr):
    """(source address, source port, payload) of an unfragmented UDP frame."""
    if link == 1:
        if len(fr) < 14:
            return None
        et, off = struct.unpack(">H", fr[12:14])[0], 14
        while et in (0x8100, 0x88A8) and len(fr) >= off + 4:
            et, off = struct.unpack(">H", fr[off + 2:off + 4])[0], off + 4
    elif link == 113:
        if len(fr) < 16:
            return None
        et, off = struct.unpack(">H", fr[14:16])[0], 16
    else:
        return None
    ip = fr[off:]
    if et == 0x0800 and len(ip) >= 20 and ip[0] >> 4 == 4:
        ihl = (ip[0] & 15) * 4
        tot = struct.unpack(">H", ip[2:4])[0]
        frag = struct.unpack(">H", ip[6:8])[0]
        if ip[9] != 17 or frag & 0x3FFF or tot > len(ip):
            return None
        src, l4 = ip[12:16], ip[ihl:tot]
    elif et == 0x86DD and len(ip) >= 40 and ip[6] == 17:
        src, l4 = ip[8:24], ip[40:40 + struct.unpack(">H", ip[4:6])[0]]
    else:
        return None
    if len(l4) < 8:
        return None
    return src, struct.unpack(">H", l4[:2])[0], l4[8:]


def capture_seeds(shared):
    """Per target: {name: input} from the captures under shared."""
    out = {t: {} for t in TARGETS}
    version_target = {5: "netflow_v5", 9: "netflow_v9", 10: "ipfix"}
    for path in sorted(glob.glob(os.path.join(shared, "**", "*.pcap"), recursive=True)):
        name = "seed-cap-" + os.path.splitext(os.path.basename(path))[0]
        frames = list(pcap_frames(path))
        per = {t: [] for t in TARGETS}
        exporters = {}
        size = {t: 2 for t in TARGETS}
        for link, fr in frames:
            if size["pkt"] + 3 + len(fr) <= SEED_MAX:
                per["pkt"].append((link, fr))
                size["pkt"] += 3 + len(fr)
            # hdr: the frame as a sampled header, from Ethernet (start 0)
            # and from its IP header (start 1 / 2), cut like sFlow's 128 bytes
            if link == 1 and len(fr) > 14 and size["hdr"] < SEED_MAX:
                et = struct.unpack(">H", fr[12:14])[0]
                per["hdr"].append(b"\x00" + fr[:128])
                if et in (0x0800, 0x86DD):
                    per["hdr"].append((b"\x01" if et == 0x0800 else b"\x02") + fr[14:142])
                size["hdr"] += 260
            u = udp_of(link, fr)
            if u is None or len(u[2]) < 4:
                continue
            if u[2][:4] == b"\x00\x00\x00\x05":
                t = "sflow"
            else:
                t = version_target.get(struct.unpack(">H", u[2][:2])[0])
            if t is None or size[t] + 4 + len(u[2]) > SEED_MAX:
                continue
            ctl = exporters.setdefault((u[0], u[1]), len(exporters)) & 0x0F
            if len(u[0]) == 16:
                ctl |= 0x20
            per[t].append((ctl, 0, u[2]))
            size[t] += 4 + len(u[2])
        for t in ("netflow_v5", "netflow_v9", "ipfix", "sflow"):
            if per[t]:
                out[t][name] = nf_input(per[t])
        for i, h in enumerate(per["hdr"][:8]):
            out["hdr"]["%s-%d" % (name, i)] = h
        if per["pkt"]:
            out["pkt"][name] = pkt_input(per["pkt"])
    return out


# ---- DPDK packet path target (fuzz_dpdk_pkt.c) ----

US4, US6 = b"\xc0\x00\x02\xfe", bytes.fromhex("20010db80000000000000000000000fe")
PEER4, PEER6 = b"\xc6\x33\x64\x14", bytes.fromhex("20010db8000000000000000000000020")


def dpdk_rec(frame, flen=None, ctl=0, nseg=1, seed=0, delta=0, reasm=0, rlen=0):
    """One frame record: frame bytes (the first ones; zeros up to flen)."""
    flen = len(frame) if flen is None else flen
    return (struct.pack(">BBB", ctl, nseg, seed) + flen.to_bytes(3, "big") +
            delta.to_bytes(3, "big") + bytes([reasm]) + rlen.to_bytes(3, "big") +
            struct.pack(">H", len(frame)) + frame)


def dpdk_input(recs, port=0x0C):
    return bytes([port]) + b"".join(recs)


def ipv4_to(payload, proto=17, frag=0, total=None, src=PEER4, dst=US4):
    h = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload) if total is None else total,
                    0x1234, frag, 64, proto, 0, src, dst)
    return h[:10] + struct.pack(">H", csum(h)) + h[12:] + payload


def ipv6_to(payload, nh=17, plen=None, hlim=64, src=PEER6, dst=US6):
    return (struct.pack(">IHBB", 0x60000000, len(payload) if plen is None else plen, nh, hlim)
            + src + dst + payload)


def dpdk_seeds():
    v5 = v5_dgram(2, 1)
    big = udp(v5_dgram(30, 1))
    arp = (struct.pack(">HHBBH", 1, 0x0800, 6, 4, 1) + bytes.fromhex("02aabbccdd01") + PEER4 +
           bytes(6) + US4)
    ns = struct.pack(">BBHI", 135, 0, 0, 0) + US6 + bytes([1, 1]) + bytes.fromhex("02aabbccdd01")
    echo4 = b"\x08\x00\x00\x00\x00\x01\x00\x01" + b"ping" * 8
    echo6 = b"\x80\x00\x00\x00\x00\x01\x00\x01" + b"ping" * 8
    fh = lambda off, more: struct.pack(">BBHI", 17, 0, off | more, 0xABCD)
    tso = eth(ipv4_to(b"", proto=6, total=0) + bytes(20))       # headers only; zeros follow
    jumbo = eth(ipv6_to(bytes([17, 0, 0xC2, 4]) + (80066 - 62).to_bytes(4, "big") +
                        udp(b"", dport=4789)[:4] + bytes(4), nh=0, plen=0), etype=0x86DD)
    max4 = eth(ipv4_to(udp(b"")[:4] + struct.pack(">HH", 65515, 0), total=65535))
    tail = 0x10  # ctl: 64 bytes of tailroom (room for the ND option)
    return {
        "seed-dpdk-udp": dpdk_input([
            dpdk_rec(eth(ipv4_to(udp(v5)))),
            dpdk_rec(eth(ipv6_to(udp(v5)), etype=0x86DD), nseg=3, seed=5),
            dpdk_rec(eth(ipv4_to(udp(v5)), vlans=[(0x88A8, 2), (0x8100, 3), (0x9100, 4)])),
        ]),
        "seed-dpdk-replies": dpdk_input([
            dpdk_rec(eth(arp, etype=0x0806), ctl=tail),
            dpdk_rec(eth(ipv6_to(ns, nh=58, hlim=255), etype=0x86DD), ctl=tail),
            dpdk_rec(eth(ipv4_to(echo4, proto=1)), ctl=tail),
            dpdk_rec(eth(ipv6_to(echo6, nh=58), etype=0x86DD), ctl=tail),
        ]),
        "seed-dpdk-replies-edge": dpdk_input([
            dpdk_rec(eth(ipv6_to(ns[:24], nh=58, hlim=255), etype=0x86DD)),  # no room for the option
            dpdk_rec(eth(ipv6_to(ns, nh=58, hlim=64), etype=0x86DD), ctl=tail),  # forwarded
            dpdk_rec(eth(ipv6_to(bytes([58, 0]) + bytes(6) + echo6, nh=0), etype=0x86DD),
                     ctl=tail),                                          # echo behind hop-by-hop
            dpdk_rec(eth(ipv6_to(bytes([44, 0]) + bytes(6) + fh(0, 1) + big[:800], nh=0),
                         etype=0x86DD)),               # fragment header not first: dropped
        ]),
        "seed-dpdk-replies-refused": dpdk_input([
            dpdk_rec(eth(ipv4_to(echo4, proto=1))),
            dpdk_rec(eth(arp, etype=0x0806), nseg=2),
        ], port=0x0E),
        "seed-dpdk-frag": dpdk_input([
            dpdk_rec(eth(ipv4_to(big[:800], frag=0x2000)), reasm=0x07 | (4 << 3),
                     rlen=14 + 20 + len(big)),
            dpdk_rec(eth(ipv6_to(fh(0, 1) + big[:800], nh=44), etype=0x86DD), reasm=0x07, rlen=1600),
            dpdk_rec(eth(ipv4_to(big[800:], frag=100)), reasm=0x02),
            dpdk_rec(eth(ipv4_to(big[800:], frag=100)), nseg=2),
        ]),
        "seed-dpdk-big": dpdk_input([                      # ctl 0x80: big lengths
            dpdk_rec(tso, flen=80066, nseg=40, ctl=0xC0),
            dpdk_rec(jumbo, flen=80066, nseg=40, seed=9, ctl=0xC0),
            dpdk_rec(max4, flen=14 + 65535, nseg=33, ctl=0xC0),
            dpdk_rec(tso, flen=262143, nseg=128, ctl=0x80),
            dpdk_rec(tso, ctl=0x83, delta=80066),          # one segment, pkt_len 80,066
            dpdk_rec(eth(ipv4_to(big[:800], frag=0x2000)), ctl=0x80, reasm=0x07 | (31 << 3),
                     rlen=80066),
        ]),
        "seed-dpdk-chains": dpdk_input([
            dpdk_rec(eth(ipv4_to(udp(v5))), nseg=2, ctl=0x01, delta=3),   # pkt_len + 3
            dpdk_rec(eth(ipv4_to(udp(v5))), nseg=2, ctl=0x02, delta=3),   # pkt_len - 3
            dpdk_rec(eth(ipv4_to(udp(v5))), nseg=3, ctl=0x04),            # nb_segs + 1
            dpdk_rec(eth(ipv4_to(udp(v5))), nseg=3, ctl=0x08),            # nb_segs - 1
            dpdk_rec(eth(ipv4_to(udp(v5))), nseg=1, ctl=0x0C | 0x20),     # nb_segs 0, no headroom
        ]),
    }


# ---- decoder state files (fuzz_state.c) ----


def state_seeds():
    """Flags byte, then patches (offset into the body: 2 bytes, value) of
    the baseline state the target builds, or (flag bit 0) a raw file."""
    def patches(flags, pairs):
        return bytes([flags]) + b"".join(struct.pack(">HB", o, v) for o, v in pairs)
    hdr = b"NMDS" + struct.pack(">HH", 1, 0) + bytes(40)  # counts 0, fixed up by flag bit 1
    out = {
        "seed-baseline": patches(0x00, []),
        "seed-baseline-tight": patches(0x04, []),
        "seed-baseline-aged": patches(0x08, []),
        "seed-damaged": patches(0x00, [(100, 0x55)]),
        "seed-raw-empty": bytes([0x03]) + hdr,
        "seed-raw-garbage": bytes([0x01]) + b"NMDS" + bytes(range(200)),
    }
    # fixed-up single-byte changes spread over the body: exporter fields,
    # template headers and ops
    for i, off in enumerate((26, 27, 38, 39, 92, 120, 200, 300, 420, 560, 700, 900)):
        for v in (0x00, 0xff):
            out["seed-fix-%02d-%02x" % (i, v)] = patches(0x02, [(off, v)])
            out["seed-fix-tight-%02d-%02x" % (i, v)] = patches(0x06, [(off, v)])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "..", "shared", "corpus"),
                    help="team capture folder (default ../shared/corpus)")
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    ap.add_argument("--only", nargs="*", choices=TARGETS, help="write these targets' seeds only")
    args = ap.parse_args()

    seeds = {"netflow_v5": v5_seeds(), "netflow_v9": v9_seeds(), "ipfix": ipfix_seeds(),
             "pkt": pkt_seeds(), "sflow": {}, "hdr": {}, "dpdk_pkt": dpdk_seeds(),
             "state": state_seeds()}
    if os.path.isdir(args.shared):
        for t, s in capture_seeds(args.shared).items():
            seeds[t].update(s)
    else:
        print("make_seeds: %s not found, hand-built seeds only" % args.shared, file=sys.stderr)

    total = 0
    for t in (args.only or TARGETS):
        d = os.path.join(args.out, t)
        os.makedirs(d, exist_ok=True)
        for old in glob.glob(os.path.join(d, "seed-*")):
            os.remove(old)
        for name, data in sorted(seeds[t].items()):
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
            total += len(data)
        print("make_seeds: %s: %d seeds" % (t, len(seeds[t])))
    print("make_seeds: %d bytes written" % total)


if __name__ == "__main__":
    main()
