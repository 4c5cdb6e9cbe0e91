#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
Big frames through the real DPDK packet path (issue 17 item 0): a capture
replayed through a net_pcap vdev, which chains a frame longer than one
mbuf into as many segments as it needs.

  test_bigframes.py NETMETA NETMETA_DECODE NETMETA_GEN

The capture: the 80,066-byte BIG TCP frame (IPv4, total length 0), an
IPv6 jumbogram of the same size, both again carrying VXLAN and GENEVE;
frames of 64 KiB + 66 bytes (one past the worker's buffer), 100,000,
131,072 and 262,144 bytes; an ARP request, an echo request and a neighbour
solicitation for us, each padded past 64 KiB; the largest frames an IP
header can describe (65,549 bytes of IPv4, 65,601 of IPv6 behind three
VLAN tags), which must be decoded; IPv4 and IPv6 datagrams of 80,000 bytes
in four 20,000-byte fragments (reassembly past 64 KiB); then good exports
from netmeta-gen. Run twice: mbuf_size 2048 (every big frame, fragments
too, chained in 2 KiB segments; fragments that are not one segment are
dropped) and mbuf_size 32768 (fragments in one segment each, so
rte_ip_frag reassembles them).

Checks: netmeta exits 0 (no crash: run it under ASan too, see
DESIGN-NOTES.md), every packet counter exact (OVERSIZE for each frame past
the buffer, whatever path it was on), every packet counted once, no reply
sent, and the records and decode errors equal netmeta-decode's for the
frames that reach the decoders. A reassembled datagram past 64 KiB is
OVERSIZE, or FRAG_DROPPED when the DPDK release refuses such fragments
itself (newer rte_ip_frag does): the test says which it saw.

Exit: 0 pass, 1 failure, 77 skipped.
"""

import collections
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dplib  # noqa: E402
from dplib import log  # noqa: E402

OURS4, OURS6 = '192.0.2.254', '2001:db8::fe'
PEER4, PEER6 = '198.51.100.20', '2001:db8::20'
BUFFER = 14 + 4 * 3 + 40 + 65535  # NM_L2L3_FRAME_MAX: the worker's bounce buffer
BIG = 80066


def pad(frame, n):
    return frame + bytes(n - len(frame))


def ipv4_total0(proto, payload):
    """IPv4 header with total length 0, as segmentation offload sends it."""
    return dplib.ipv4(PEER4, OURS4, proto, payload, total=0)


def jumbogram(nh, payload, total):
    """IPv6 jumbogram (RFC 2675): payload length 0, hop-by-hop Jumbo Payload."""
    jl = 8 + len(payload)
    hbh = struct.pack('>BBBBI', nh, 0, 0xc2, 4, jl)
    hdr = struct.pack('>IHBB', 0x60000000, 0, 0, 64) + socket.inet_pton(
        socket.AF_INET6, PEER6) + socket.inet_pton(socket.AF_INET6, OURS6)
    return pad(dplib.eth(hdr + hbh + payload, 0x86dd), total)


def tunnel_payload(dport):
    """UDP header to dport and a VXLAN / GENEVE header with an inner frame."""
    inner = dplib.eth(dplib.udp4('10.0.0.1', '10.0.0.2', 1000, 2000, b'x' * 64))
    if dport == 4789:
        hdr = struct.pack('>II', 0x08000000, 42 << 8)
    else:
        hdr = struct.pack('>HHI', 0, 0x6558, 42 << 8)
    return struct.pack('>HHHH', 40000, dport, 0, 0) + hdr + inner


def big_frames():
    """-> [(name, frame)] of frames longer than the worker's buffer."""
    out = [('BIG TCP IPv4 (total length 0)',
            pad(dplib.eth(ipv4_total0(6, dplib.tcp4(PEER4, OURS4, 40000, 443)[20:])), BIG)),
           ('IPv6 jumbogram, UDP', jumbogram(17, struct.pack('>HHHH', 40000, 2055, 0, 0), BIG))]
    for dport in (4789, 6081):
        out.append(('IPv4 total length 0, UDP %d' % dport,
                    pad(dplib.eth(ipv4_total0(17, tunnel_payload(dport))), BIG)))
        out.append(('IPv6 jumbogram, UDP %d' % dport, jumbogram(17, tunnel_payload(dport), BIG)))
    for n in (BUFFER + 1, 100000, 131072, 262144):
        out.append(('%d bytes' % n, pad(dplib.eth(ipv4_total0(17, struct.pack(
            '>HHHH', 40000, 2055, 0, 0))), n)))
    arp = struct.pack('>HHBBH', 1, 0x0800, 6, 4, 1) + b'\x02\xaa\xbb\xcc\xdd\x01' + \
        socket.inet_aton(PEER4) + bytes(6) + socket.inet_aton(OURS4)
    out.append(('ARP request for us, padded', pad(dplib.eth(arp, 0x0806), BIG)))
    out.append(('echo request to us, total length 0',
                pad(dplib.eth(ipv4_total0(1, b'\x08\x00\x00\x00\x00\x01\x00\x01')), 70000)))
    t = socket.inet_pton(socket.AF_INET6, OURS6)
    ns = struct.pack('>BBHI', 135, 0, 0, 0) + t + b'\x01\x01\x02\xaa\xbb\xcc\xdd\x01'
    out.append(('neighbour solicitation for us, padded',
                pad(dplib.eth(dplib.ipv6(PEER6, 'ff02::1:ff00:fe', 58, ns, hlim=255), 0x86dd),
                    BIG)))
    return out


def v9_payload(n):
    """A NetFlow v9 datagram of n bytes: header, then one data flowset of a
    template never sent (counted by the decoder, the same by both)."""
    hdr = struct.pack('>HHIIII', 9, 1, 1000, 1767225600, 1, 77)
    return hdr + struct.pack('>HH', 300, n - 20) + bytes(n - 24)


def largest_frames():
    """The longest frames an IP header describes, to the netflow port."""
    f4 = dplib.eth(dplib.udp4(PEER4, OURS4, 40001, 2055, v9_payload(65535 - 28)))
    assert len(f4) == 14 + 65535
    f6 = dplib.vlan(dplib.eth(dplib.udp6(PEER6, OURS6, 40002, 2055, v9_payload(65535 - 8)),
                              0x86dd), 10, 20, 30)
    assert len(f6) == BUFFER
    return [f4, f6]


def frag_frames():
    """IPv4 and IPv6 datagrams of 80,000 bytes of payload in four fragments
    of 20,000 bytes: their reassembly is longer than 64 KiB."""
    data = bytes(range(256)) * (80000 // 256) + bytes(80000 % 256)
    out = []
    for i in range(4):
        chunk = data[i * 20000:(i + 1) * 20000]
        more = 0x2000 if i < 3 else 0
        out.append(dplib.eth(dplib.ipv4(PEER4, OURS4, 17, chunk, ident=0x4242,
                                        frag=more | (i * 20000 // 8))))
    for i in range(4):
        chunk = data[i * 20000:(i + 1) * 20000]
        fh = struct.pack('>BBHI', 17, 0, (i * 20000) | (1 if i < 3 else 0), 0x4343)
        out.append(dplib.eth(dplib.ipv6(PEER6, OURS6, 44, fh + chunk), 0x86dd))
    return out


def run_one(netmeta, decode, work, ck, mbuf_size, big, largest, frags, good):
    frames = [f for _, f in big] + largest + frags + good
    pcap = os.path.join(work, 'big%d.pcap' % mbuf_size)
    dplib.write_pcap(pcap, frames)
    dec_pcap = os.path.join(work, 'decodable%d.pcap' % mbuf_size)
    dplib.write_pcap(dec_pcap, largest + good)
    txp = os.path.join(work, 'replies%d.pcap' % mbuf_size)
    cfg = {'backend': 'dpdk', 'mbuf_size': mbuf_size, 'mbufs': 2048,
           'ports': [{'device': 'net_pcap0,rx_pcap=%s,tx_pcap=%s' % (pcap, txp),
                      'addresses': [OURS4, OURS6], 'accept_any_destination': True}],
           'listen': {'netflow': [2055], 'sflow': [6343], 'ipfix': [4739]}}
    nm = dplib.Netmeta(netmeta, work, cfg, eal=dplib.eal_args('0-1'), exit_idle=1,
                       tag='big%d' % mbuf_size).run(timeout=90)
    c = nm.counters
    label = 'mbuf_size %d' % mbuf_size
    log('%s: netmeta exit %s in %.1f s; %s' % (label, nm.rc, nm.elapsed, nm.summary()))
    if not ck.eq(nm.rc, 0, '%s: netmeta exits 0' % label):
        log(nm.err[-3000:])
        return
    want = collections.Counter()
    want['RX_PACKETS'] = len(frames)
    want['OVERSIZE'] = len(big)
    want['UDP_DATAGRAMS'] = len(largest) + len(good)
    multi = sum(1 for f in frames if len(f) > mbuf_size)
    if mbuf_size < 20034 + 14:
        want['FRAG_DROPPED'] = len(frags)  # chained fragments: not for rte_ip_frag
    else:
        want['FRAG_HELD'] = 6
        # The completing fragment of each datagram: OVERSIZE (the chain is
        # read bounded) or FRAG_DROPPED (rte_ip_frag refused it).
        done = c.get('OVERSIZE', 0) - len(big)
        want['OVERSIZE'] += done
        want['FRAG_DROPPED'] = 2 - done
        multi += done  # a completed datagram is a chain
        ck.check(0 <= done <= 2, '%s: %d datagrams reassembled past 64 KiB and counted '
                 'OVERSIZE, %d refused by rte_ip_frag (FRAG_DROPPED)' % (label, done, 2 - done))
    want['MULTI_SEGMENT'] = multi
    for k in ('RX_PACKETS', 'OVERSIZE', 'UDP_DATAGRAMS', 'FRAG_HELD', 'FRAG_DROPPED',
              'MULTI_SEGMENT', 'MALFORMED', 'NOT_IP', 'NOT_UDP', 'NOT_FOR_US', 'PORT_UNKNOWN',
              'EXPORTER_DENIED', 'ARP_REPLIED', 'ND_REPLIED', 'ICMP_REPLIED', 'TX_FAILED'):
        ck.eq(c.get(k, 0), want[k], '%s: %s' % (label, k))
    ck.eq(c.get('RX_BYTES', 0), sum(len(f) for f in frames), '%s: RX_BYTES' % label)
    got, rx = dplib.rx_invariant(c)
    ck.eq(got, rx, '%s: every packet counted once' % label)
    nrep = len(dplib.read_pcap(txp)[1]) if os.path.exists(txp) else 0
    ck.eq(nrep, 0, '%s: replies sent' % label)
    recs, dec = dplib.decode(decode, [dec_pcap])
    ok, diff = dplib.compare(recs, nm.records)
    ck.check(ok, '%s: records = netmeta-decode\'s for the decodable frames (%d)'
             % (label, len(recs)), diff)
    want_err = {k: v for k, v in dec.items() if k.startswith('err_')}
    got_err = {k: v for k, v in c.items() if k.startswith('err_')}
    ck.eq(got_err, want_err, '%s: err_* = netmeta-decode\'s' % label)


def main(argv):
    netmeta, decode, gen = dplib.args_or_usage(argv, ['NETMETA', 'NETMETA_DECODE', 'NETMETA_GEN'])
    why = dplib.dpdk_usable(netmeta)
    if why:
        dplib.skip('no DPDK backend: ' + why)
    ck = dplib.Checks()
    work = tempfile.mkdtemp(prefix='nm-big-')
    try:
        gp = os.path.join(work, 'gen.pcap')
        subprocess.run([gen, '--proto', 'all', '--exporters', '2', '--datagrams', '200',
                        '--seed', '5', '-o', gp], capture_output=True, timeout=60, check=True)
        good = [f for _, f in dplib.read_pcap(gp)[1]]
        big, largest, frags = big_frames(), largest_frames(), frag_frames()
        for name, f in big:
            log('  frame: %s, %d bytes' % (name, len(f)))
        for mbuf_size in (2048, 32768):
            run_one(netmeta, decode, work, ck, mbuf_size, big, largest, frags, good)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ck.finish()


if __name__ == '__main__':
    sys.exit(main(sys.argv))
