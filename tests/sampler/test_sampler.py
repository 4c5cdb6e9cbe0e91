# SPDX-License-Identifier: BSD-3-Clause
"""
The packet sampler end to end (issue 14, suite 'sampler'): netmeta with a
DPDK mirror port (net_pcap replaying frames, or net_af_packet on a veth).

  test_sampler.py MODE NETMETA NETMETA_DECODE SHARED_DIR
  MODE: n1-gen | n1-corpus | estimate | agent | veth | hostile | drops | mixed

n1-*: N = 1, one record per frame, every field equal to tshark's decoding.
estimate: N = 100 and 1000 over a generated stream, per-protocol totals
within the sFlow 95 % bound for most seeds. agent: the sFlow v5 output read
back by netmeta-decode, tshark, sfcapd + nfdump and sfacctd (same samples,
consistent sequence numbers and pool, counter samples = port statistics). veth: real ping/TCP/UDP from a
namespace, records = what tcpdump saw. hostile: malformed frames counted,
no crash. drops: a tiny ring and a stalled sink, SampleDrops = records lost.
mixed: a mirror port and a collector port (NetFlow v5 to its address) in one
process, one worker: each packet on its own path, both kinds of record.
"""

import collections
import csv
import json
import math
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'dataplane'))
import dplib  # noqa: E402
from dplib import (Checks, Netmeta, eal_args, eth, icmp4, icmp6_echo, ipv4, ipv6, log,  # noqa: E402
                   skip, tcp4, tcp6, udp4, udp6, vlan, write_pcap)

AGENT = '192.0.2.77'


def sampler_cfg(device, rate, extra=None, workers=1, if_index=7):
    cfg = {'backend': 'dpdk', 'workers': workers,
           'ports': [{'device': device, 'role': 'mirror', 'sampling_rate': rate,
                      'if_index': if_index}],
           'sampler': {'agent_address': AGENT, 'seed': 12345}}
    cfg['sampler'].update(extra or {})
    return cfg


def replay(netmeta, work, frames, rate, tag, extra=None, workers=1, timeout=120):
    pcap = os.path.join(work, tag + '.pcap')
    write_pcap(pcap, frames)
    cfg = sampler_cfg('net_pcap0,rx_pcap=' + pcap, rate, extra, workers)
    nm = Netmeta(netmeta, work, cfg, eal=eal_args('0-%d' % workers), exit_idle=1, tag=tag)
    return nm.run(timeout)


def sampler_lines(err):
    """'netmeta: sampler portP workerW rate N pool X samples Y drops Z' lines."""
    out = []
    for line in err.splitlines():
        p = line.split()
        if len(p) == 12 and p[1] == 'sampler':
            out.append({'worker': int(p[3][6:]), 'rate': int(p[5]), 'pool': int(p[7]),
                        'samples': int(p[9]), 'drops': int(p[11])})
    return out


# ---------------------------------------------------------------------------
# tshark's reading of each frame -> the record fields it fixes
# ---------------------------------------------------------------------------

TS_FIELDS = ['frame.len', 'frame.protocols', 'eth.src', 'eth.dst', 'vlan.id', 'ieee8021ad.id', 'ip.src', 'ip.dst',
             'ip.proto', 'ip.ttl', 'ip.dsfield', 'ip.id', 'ip.frag_offset', 'ipv6.src', 'ipv6.dst',
             'ipv6.hlim', 'ipv6.tclass', 'ipv6.flow', 'tcp.srcport', 'tcp.dstport', 'tcp.flags',
             'udp.srcport', 'udp.dstport', 'icmp.type', 'icmp.code', 'icmpv6.type', 'icmpv6.code',
             'mpls.label', 'mpls.ttl', 'ipv6.fraghdr.offset', 'ipv6.fraghdr.ident']


def tshark_frames(pcap):
    args = ['tshark', '-n', '-r', pcap, '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a',
            '-E', 'aggregator=|']
    for f in TS_FIELDS:
        args += ['-e', f]
    # no reassembly, no heuristics that re-read payloads as other protocols
    args += ['-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE',
             '-o', 'tcp.desegment_tcp_streams:FALSE']
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    out = []
    for line in p.stdout.splitlines():
        vals = line.split('\t')
        vals += [''] * (len(TS_FIELDS) - len(vals))
        out.append({k: (v.split('|') if v else []) for k, v in zip(TS_FIELDS, vals)})
    return out


def _int(v):
    return int(v, 0) if v.startswith('0x') else int(v)


def expected_from_tshark(t):
    """The record fields tshark's reading fixes (the flow: the innermost IP
    header of at most one encapsulation)."""
    e = {'Bytes': int(t['frame.len'][0])}
    if t['eth.src']:
        e['SrcMac'], e['DstMac'] = t['eth.src'][0], t['eth.dst'][0]
    protos = t['frame.protocols'][0].split(':') if t['frame.protocols'] else []
    # VlanId is the outermost tag's (802.1ad service tag first)
    tags = [p for p in protos if p in ('vlan', 'ieee8021ad')]
    if tags:
        v = t['ieee8021ad.id'] if tags[0] == 'ieee8021ad' else t['vlan.id']
        if v:
            e['VlanId'] = int(v[0])
    if t['mpls.label']:
        labels, ttls = t['mpls.label'], t['mpls.ttl']
        e['MPLSCount'] = len(labels)
        e['MPLS1Label'], e['MPLS1TTL'] = int(labels[0]), int(ttls[0])
        e['MPLSLastLabel'], e['MPLSLastTTL'] = int(labels[-1]), int(ttls[-1])
    # the layers the flow is made of: up to the first transport header (a
    # UDP header followed by VXLAN is an encapsulation, not the flow's);
    # what tshark reads inside an ICMP error or a payload is not the flow
    cut = []
    for i, p in enumerate(protos):
        cut.append(p)
        if p in ('tcp', 'icmp', 'icmpv6') or (p == 'udp' and protos[i + 1:i + 2] != ['vxlan']):
            break
    l3 = [p for p in cut if p in ('ip', 'ipv6')]
    if not l3:
        return e

    def nth(field, layer):
        """the field's occurrence that belongs to the last `layer` of cut"""
        i = cut.count(layer) - 1
        v = t[field]
        return v[i] if 0 <= i < len(v) else None
    if l3[-1] == 'ip':
        e['Etype'] = 2048
        e['SrcAddr'], e['DstAddr'] = nth('ip.src', 'ip'), nth('ip.dst', 'ip')
        e['Proto'] = int(nth('ip.proto', 'ip'))
        e['IPTTL'] = int(nth('ip.ttl', 'ip'))
        e['IPTos'] = _int(nth('ip.dsfield', 'ip'))
        e['FragmentId'] = _int(nth('ip.id', 'ip'))
        e['FragmentOffset'] = int(nth('ip.frag_offset', 'ip'))  # tshark: 8-byte units
    else:
        e['Etype'] = 34525
        e['SrcAddr'], e['DstAddr'] = nth('ipv6.src', 'ipv6'), nth('ipv6.dst', 'ipv6')
        e['IPTTL'] = int(nth('ipv6.hlim', 'ipv6'))
        e['IPTos'] = _int(nth('ipv6.tclass', 'ipv6'))
        e['IPv6FlowLabel'] = _int(nth('ipv6.flow', 'ipv6'))
        if t['ipv6.fraghdr.offset']:
            e['FragmentOffset'] = int(t['ipv6.fraghdr.offset'][0])
            e['FragmentId'] = _int(t['ipv6.fraghdr.ident'][0])
    last = cut[-1]
    if last in ('tcp', 'udp', 'icmp', 'icmpv6'):
        if e['Etype'] == 34525:
            e['Proto'] = {'tcp': 6, 'udp': 17, 'icmp': 1, 'icmpv6': 58}[last]
        if last in ('tcp', 'udp') and nth(last + '.srcport', last) is not None:
            e['SrcPort'] = int(nth(last + '.srcport', last))
            e['DstPort'] = int(nth(last + '.dstport', last))
        if last == 'tcp' and nth('tcp.flags', 'tcp') is not None:
            e['TCPFlags'] = _int(nth('tcp.flags', 'tcp')) & 0xff
        if last in ('icmp', 'icmpv6') and nth(last + '.type', last) is not None:
            e['IcmpType'] = int(nth(last + '.type', last))
            e['IcmpCode'] = int(nth(last + '.code', last))
    return e


def compare_n1(ck, nm, frames, pcap, what, encap_ok=True):
    """One record per frame, in order (SequenceNum), every tshark field equal."""
    recs = sorted(nm.records, key=lambda r: r['SequenceNum'])
    ck.eq(len(recs), len(frames), '%s: one record per frame' % what)
    ck.check([r['SequenceNum'] for r in recs] == list(range(1, len(recs) + 1)),
             '%s: sample sequence numbers 1..n' % what)
    ts = tshark_frames(pcap)
    ck.eq(len(ts), len(frames), '%s: tshark read every frame' % what)
    const = {'Type': 'SAMPLER', 'SamplingRate': 1, 'Packets': 1, 'InIf': 7,
             'SamplerAddress': AGENT, 'SamplerId': 7}
    bad, nfields = [], 0
    for i, (r, t) in enumerate(zip(recs, ts)):
        want = dict(const, SamplePool=i + 1)
        if r.get('HasEncap') and not encap_ok:
            continue
        want.update(expected_from_tshark(t))
        for k, v in want.items():
            nfields += 1
            if r.get(k) != v:
                bad.append('frame %d %s: record %r, tshark %r (%s)' % (
                    i + 1, k, r.get(k), v, t['frame.protocols'][0] if t['frame.protocols'] else ''))
    ck.check(not bad and nfields > 10 * len(recs), '%s: %d fields of %d records equal to tshark' % (what, nfields, len(recs)),
             '\n'.join(bad[:15]))
    return recs


def gen_frames(rnd, n):
    """Varied traffic: IPv4/IPv6 TCP, UDP, ICMP; VLAN, QinQ, MPLS; fragments."""
    out = []
    for i in range(n):
        k = i % 10
        pay = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 300)))
        s4, d4 = '10.%d.%d.%d' % (i % 7, i % 200, 1 + i % 250), '192.0.2.%d' % (1 + i % 250)
        s6, d6 = '2001:db8::%x' % (i + 1), '2001:db8:1::%x' % (i % 97 + 1)
        sp, dp = rnd.randrange(1024, 65535), rnd.choice([53, 80, 443, 4789 + 1, 8080])
        if k == 0:
            fr = eth(tcp4(s4, d4, sp, dp, pay, flags=rnd.choice([0x02, 0x12, 0x10, 0x18, 0x11])))
        elif k == 1:
            fr = eth(udp4(s4, d4, sp, dp, pay))
        elif k == 2:
            fr = eth(icmp4(s4, d4, typ=rnd.choice([0, 8, 3]), code=rnd.choice([0, 1]), payload=pay))
        elif k == 3:
            fr = eth(tcp6(s6, d6, sp, dp, pay), 0x86dd)
        elif k == 4:
            fr = eth(udp6(s6, d6, sp, dp, pay), 0x86dd)
        elif k == 5:
            fr = eth(icmp6_echo(s6, d6, seq=i, payload=pay), 0x86dd)
        elif k == 6:
            fr = vlan(eth(udp4(s4, d4, sp, dp, pay)), 100 + i % 3000)
        elif k == 7:
            fr = vlan(eth(tcp6(s6, d6, sp, dp, pay), 0x86dd), 10, 200 + i % 100)
        elif k == 8:
            lab = struct.pack('>I', (1000 + i) << 12 | 64) + struct.pack('>I', (2000 + i) << 12 | 1 << 8 | 63)
            fr = eth(lab + udp4(s4, d4, sp, dp, pay), 0x8847)
        else:
            ip = udp4(s4, d4, sp, dp, pay + bytes(600), ident=i)
            frs = dplib.fragment4(ip, 300, i)
            fr = eth(frs[i % len(frs)])
        out.append(fr)
    return out


def main_n1_gen(netmeta, decode, shared, work, ck):
    frames = gen_frames(random.Random(14), 600)
    nm = replay(netmeta, work, frames, 1, 'n1gen')
    ck.eq(nm.rc, 0, 'netmeta exits 0')
    compare_n1(ck, nm, frames, os.path.join(work, 'n1gen.pcap'), 'generated traffic')
    c = nm.counters
    ck.eq((c.get('RX_PACKETS'), c.get('MIRROR_PACKETS'), c.get('SAMPLES')),
          (len(frames),) * 3, 'every packet received, on the mirror port, sampled')
    # receive times come from the worker's TSC clock: inside the run, and
    # the seconds field agrees with the nanoseconds
    lo, hi = int((nm.t0 - 1) * 1e9), int((nm.t0 + nm.elapsed + 1) * 1e9)
    ts = [r.get('TimeReceivedNs', 0) for r in nm.records]
    ck.check(ts and all(lo <= t <= hi for t in ts), 'receive times within the run (%s..%s)'
             % (min(ts) if ts else None, max(ts) if ts else None))
    ck.check(all(r.get('TimeReceived') == r.get('TimeReceivedNs', 0) // 10**9 for r in nm.records),
             'TimeReceived = TimeReceivedNs in seconds')


def sflow_headers(frames):
    """The raw Ethernet headers (header_protocol 1) inside sFlow v5 flow samples."""
    out = []
    for _, fr in frames:
        u = dplib.udp_payload(fr)
        if u is None or len(u[2]) < 28 or struct.unpack('>I', u[2][:4])[0] != 5:
            continue
        d = u[2]
        try:
            at = struct.unpack('>I', d[4:8])[0]
            off = 8 + (16 if at == 2 else 4) + 16
            for _ in range(struct.unpack('>I', d[off - 4:off])[0]):
                fmt, ln = struct.unpack('>II', d[off:off + 8])
                s, off = d[off + 8:off + 8 + ln], off + 8 + ln
                if fmt not in (1, 3):
                    continue
                q = (12 if fmt == 3 else 8) + (32 if fmt == 3 else 24)
                for _r in range(struct.unpack('>I', s[q - 4:q])[0]):
                    rfmt, rln = struct.unpack('>II', s[q:q + 8])
                    rec, q = s[q + 8:q + 8 + rln], q + 8 + rln
                    if rfmt == 1 and len(rec) >= 16:
                        hp, _fl, _st, hl = struct.unpack('>IIII', rec[:16])
                        if hp == 1 and 14 <= hl <= len(rec) - 16:
                            out.append(rec[16:16 + hl])
        except struct.error:
            continue
    return out


def main_n1_corpus(netmeta, decode, shared, work, ck):
    corpus = os.path.join(shared, 'corpus')
    if not os.path.isdir(corpus):
        skip('no corpus at %s (../shared absent)' % corpus)
    headers = []
    for root, _dirs, files in sorted(os.walk(corpus)):
        for f in sorted(files):
            if not f.endswith('.pcap'):
                continue
            try:
                lt, frames = dplib.read_pcap(os.path.join(root, f))
                frames = dplib.to_ethernet(lt, frames)
            except (ValueError, OSError):
                continue
            headers += sflow_headers(frames)
    if not headers:
        skip('no sFlow raw headers in the corpus')
    log('%d sampled headers from the corpus\'s sFlow captures, replayed as frames' % len(headers))
    nm = replay(netmeta, work, headers, 1, 'n1corpus')
    ck.eq(nm.rc, 0, 'netmeta exits 0')
    compare_n1(ck, nm, headers, os.path.join(work, 'n1corpus.pcap'), 'corpus headers')


# ---------------------------------------------------------------------------
# estimates
# ---------------------------------------------------------------------------

def main_estimate(netmeta, decode, shared, work, ck):
    rnd = random.Random(1414)
    frames, tot = [], collections.defaultdict(lambda: [0, 0])
    for i in range(150000):
        r = rnd.random()
        if r < 0.6:
            n = 1514 if rnd.random() < 0.5 else 64 + rnd.randrange(64)
            fr = eth(tcp4('10.0.%d.%d' % (i % 50, i % 200), '10.1.0.1', 1024 + i % 5000, 443,
                          bytes(n - 54)))
            p = 6
        elif r < 0.9:
            fr = eth(udp4('10.2.%d.1' % (i % 50), '10.1.0.2', 2000 + i % 3000, 53,
                          bytes(rnd.randrange(20, 1400))))
            p = 17
        else:
            fr = eth(icmp4('10.3.0.%d' % (i % 200), '10.1.0.3', payload=bytes(56)))
            p = 1
        frames.append(fr)
        tot[p][0] += 1
        tot[p][1] += len(fr)
    pcap = os.path.join(work, 'est.pcap')
    write_pcap(pcap, frames)
    results = collections.defaultdict(lambda: [0, 0])
    for rate, loops in ((100, 3), (1000, 3)):
        for seed in range(1, loops + 1):
            cfg = sampler_cfg('net_pcap0,rx_pcap=' + pcap, rate, {'seed': seed * 7777 + rate})
            nm = Netmeta(netmeta, work, cfg, eal=eal_args('0-1'), exit_idle=1,
                         tag='est%d_%d' % (rate, seed)).run(180)
            ck.eq(nm.rc, 0, 'N=%d seed %d: netmeta exits 0' % (rate, seed))
            sl = sampler_lines(nm.err)
            pool = sum(s['pool'] for s in sl)
            ck.eq(pool, len(frames), 'N=%d seed %d: sample pool = packets replayed' % (rate, seed))
            scale = 1
            samples = collections.Counter(r['Proto'] for r in nm.records)
            est = collections.defaultdict(lambda: [0, 0])
            for r in nm.records:
                est[r['Proto']][0] += r['Packets'] * r['SamplingRate']
                est[r['Proto']][1] += r['Bytes'] * r['SamplingRate']
            for p in (6, 17, 1):
                if samples[p] == 0:
                    ck.check(False, 'N=%d seed %d proto %d: no samples' % (rate, seed, p))
                    continue
                bound = 1.96 * math.sqrt(1.0 / samples[p])
                for j, what in ((0, 'packets'), (1, 'bytes')):
                    true = tot[p][j] * scale
                    err = abs(est[p][j] / true - 1)
                    results[(rate, p, what)][0] += err <= bound
                    results[(rate, p, what)][1] += 1
                    log('  N=%d seed %d proto %2d %-7s samples %5d error %5.2f%% bound %5.2f%%'
                        % (rate, seed, p, what, samples[p], 100 * err, 100 * bound))
                    # each run: never beyond twice the 95 % bound (p < 1e-4)
                    ck.check(err <= 2 * bound, 'N=%d seed %d proto %d %s within twice the bound'
                             % (rate, seed, p, what))
    inside = sum(v[0] for v in results.values())
    total = sum(v[1] for v in results.values())
    ck.check(inside >= 0.85 * total, '%d of %d estimates within the sFlow 95%% bound' % (inside, total))


# ---------------------------------------------------------------------------
# the sFlow agent
# ---------------------------------------------------------------------------

class UdpSink:
    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.s.bind(('127.0.0.1', 0))
        self.port = self.s.getsockname()[1]
        self.s.settimeout(0.2)
        self.got, self.stop = [], False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            try:
                d, a = self.s.recvfrom(65535)
                self.got.append((a[1], d))
            except socket.timeout:
                pass

    def close(self):
        self.stop = True
        self.t.join()
        self.s.close()


def parse_agent(d):
    """-> (sub_agent, seq, [('flow', seq, source, rate, pool, drops) | ('ctr', seq, source, dict)])"""
    at = struct.unpack('>I', d[4:8])[0]
    off = 8 + (16 if at == 2 else 4)
    sub, seq, _up, n = struct.unpack('>IIII', d[off:off + 16])
    off += 16
    out = []
    for _ in range(n):
        fmt, ln = struct.unpack('>II', d[off:off + 8])
        s, off = d[off + 8:off + 8 + ln], off + 8 + ln
        if fmt == 1:
            out.append(('flow',) + struct.unpack('>IIIII', s[:20]))
        elif fmt == 2:
            sq, src, _nr, rf, rl = struct.unpack('>IIIII', s[:20])
            g = s[20:20 + rl]
            c = dict(zip(('ifIndex', 'ifType', 'ifSpeed', 'ifDirection', 'ifStatus', 'ifInOctets',
                          'ifInUcastPkts', 'ifInMulticastPkts', 'ifInBroadcastPkts', 'ifInDiscards',
                          'ifInErrors', 'ifInUnknownProtos', 'ifOutOctets'),
                         struct.unpack('>IIQIIQIIIIIIQ', g[:64])))
            out.append(('ctr', sq, src, c))
    return sub, seq, out


def _first_keys(pairs):
    """JSON object hook: the first of duplicate keys (tshark repeats them)."""
    d = {}
    for k, v in pairs:
        d.setdefault(k, v)
    return d


def tshark_samples_vs_records(pcap, records, drops_by_seq):
    """tshark -T json of the agent's datagrams: for each flow sample, the
    first IP header of its raw header record (ip.src/dst/proto, or
    ipv6.src/dst/nxt) against the record with the same SequenceNum, and
    its dropped_packets against the agent's drops field.
    -> (mismatches, samples compared)"""
    import ipaddress
    p = subprocess.run(['tshark', '-n', '-r', pcap, '-d', 'udp.port==6343,sflow', '-T', 'json'],
                       capture_output=True, text=True, timeout=300)
    pkts = json.loads(p.stdout or '[]', object_pairs_hook=_first_keys)
    recs = {r['SequenceNum']: r for r in records}
    bad, n = [], 0

    def addr(a):
        return str(ipaddress.ip_address(a)) if a else None
    for pk in pkts:
        sf = pk['_source']['layers'].get('sflow', {})
        for k, smp in sf.items():
            if not k.startswith('Flow sample'):
                continue
            n += 1
            seq = int(smp['sflow.flow_sample.sequence_number'])
            r = recs.get(seq)
            if r is None:
                bad.append('sample %d: no record' % seq)
                continue
            if int(smp['sflow.flow_sample.dropped_packets']) != drops_by_seq.get(seq) or \
                    drops_by_seq.get(seq) != r.get('SampleDrops', 0):
                bad.append('sample %d: drops tshark %s, agent %s, record %s' % (
                    seq, smp['sflow.flow_sample.dropped_packets'], drops_by_seq.get(seq),
                    r.get('SampleDrops', 0)))
            tree = smp.get('Raw packet header', {}).get('sflow_245.header_tree', {})
            if 'ip' in tree:
                t = (addr(tree['ip'].get('ip.src')), addr(tree['ip'].get('ip.dst')),
                     int(tree['ip'].get('ip.proto', -1)))
            elif 'ipv6' in tree:
                t = (addr(tree['ipv6'].get('ipv6.src')), addr(tree['ipv6'].get('ipv6.dst')),
                     int(tree['ipv6'].get('ipv6.nxt', -1)))
            else:
                t = (None, None, None)
            mine = (addr(r.get('SrcAddr')), addr(r.get('DstAddr')),
                    r.get('Proto') if 'ip' in tree or 'ipv6' in tree else None)
            if t != mine:
                bad.append('sample %d: tshark %s, record %s' % (seq, t, mine))
    return bad, n


def _wait_file_text(path, what, proc, timeout):
    """Waits until `what` appears in the file (a peer's log) or proc ends."""
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path) and what in open(path, errors='replace').read():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def _end(proc, sig=signal.SIGTERM, timeout=20):
    """Stops a peer by PID: sig, then SIGKILL after timeout (pmacct's main
    process can ignore SIGTERM)."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _send_all(dgrams, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for d in dgrams:
        s.sendto(d, ('127.0.0.1', port))
        time.sleep(0.001)  # pacing only; nothing is judged by time
    s.close()


PROTO_NUM = {'tcp': 6, 'udp': 17, 'icmp': 1, 'icmp6': 58, 'ipv6-icmp': 58}


def _pnum(v):
    v = v.strip()
    return PROTO_NUM.get(v.lower(), int(v) if v.isdigit() else v)


def _addr(a):
    import ipaddress
    return str(ipaddress.ip_address(a.strip())) if a and a.strip() else None


def sfcapd_vs_records(work, dgrams, records, rate):
    """The agent's datagrams through sfcapd (nfdump 1.7: one flow per
    sample, in order, packets = rate, bytes = frame_length x rate), read
    back with nfdump -o csv, against the records in sequence order.
    -> (mismatches, flows read, sfcapd's log tail)"""
    d = os.path.join(work, 'sfcapd')
    os.makedirs(d, exist_ok=True)
    port = dplib.free_udp_ports(1)[0]
    logp = os.path.join(work, 'sfcapd.log')
    with open(logp, 'w') as lf:
        p = subprocess.Popen(['sfcapd', '-b', '127.0.0.1', '-p', str(port), '-w', d, '-t', '3600',
                              '-B', '4194304'], stdout=lf, stderr=subprocess.STDOUT)
    try:
        if not _wait_file_text(logp, 'Startup', p, 30):
            return ['sfcapd did not start'], 0, open(logp).read()[-500:]
        _send_all(dgrams, port)
        # sfcapd reads its socket in order; its exit line counts the flows
        time.sleep(0.5)
    finally:
        _end(p)
    files = sorted(os.path.join(d, f) for f in os.listdir(d) if f.startswith('nfcapd.'))
    rows = []
    for f in files:
        q = subprocess.run(['nfdump', '-r', f, '-q', '-o', 'csv'], capture_output=True, text=True,
                           timeout=120)
        for line in q.stdout.splitlines():
            v = line.split(',')
            if len(v) > 16 and v[0] != 'ts':
                rows.append(v)
    recs = sorted(records, key=lambda r: r['SequenceNum'])
    bad = []
    if len(rows) != len(recs):
        bad.append('nfdump read %d flows, %d records' % (len(rows), len(recs)))
    for r, v in zip(recs, rows):
        want = (_addr(r.get('SrcAddr')), _addr(r.get('DstAddr')), r.get('Proto'), rate,
                (r['Bytes'] + 4) * rate, r.get('InIf'))
        have = (_addr(v[3]), _addr(v[4]), _pnum(v[7]), int(v[11]), int(v[12]), int(v[15]))
        if r.get('Proto') in (6, 17):
            want += (r.get('SrcPort'), r.get('DstPort'))
            have += (int(float(v[5])), int(float(v[6])))
        if want != have:
            bad.append('sample %d: record %s, nfdump %s' % (r['SequenceNum'], want, have))
    return bad, len(rows), open(logp).read()[-300:]


def _stacked(frame):
    """True for a frame pmacct's raw header parser leaves out: two VLAN
    tags (QinQ) or an MPLS label stack."""
    et = struct.unpack('>H', frame[12:14])[0]
    if et in (0x8847, 0x8848):
        return True
    return et in (0x8100, 0x88a8) and struct.unpack('>H', frame[16:18])[0] in (0x8100, 0x88a8)


def sfacctd_vs_records(work, dgrams, records, frames):
    """The agent's datagrams through sfacctd's print plugin (CSV, aggregated
    by in_iface and 5-tuple; pmacct 1.7.7 does not renormalise: packets 1,
    bytes = frame_length per sample). Every sample of a plain or 802.1Q
    frame must be there under its own key. pmacct 1.7.7 leaves out every
    QinQ sample and some MPLS ones (a third here, no pattern found in the
    labels or sizes); a stacked sample (frame found by the record's
    SamplePool: one port, one worker) may be missing, but when present it
    must be exact too, and no key may be sfacctd's alone.
    -> (mismatches, plain samples accounted, plain samples, stacked samples,
        stacked samples accounted)"""
    port = dplib.free_udp_ports(1)[0]
    out = os.path.join(work, 'sfacctd.csv')
    cfgp = os.path.join(work, 'sfacctd.conf')
    with open(cfgp, 'w') as f:
        f.write('daemonize: false\nsfacctd_ip: 127.0.0.1\nsfacctd_port: %d\n'
                'plugins: print[p]\n'
                'aggregate[p]: in_iface, src_host, dst_host, src_port, dst_port, proto\n'
                'print_output[p]: csv\nprint_output_file[p]: %s\n'
                'print_output_file_append[p]: true\nprint_refresh_time[p]: 1\n' % (port, out))
    want, wbytes, opt = collections.Counter(), collections.Counter(), set()
    for r in records:
        k = (r.get('InIf'), _addr(r.get('SrcAddr')), _addr(r.get('DstAddr')),
             r.get('SrcPort', 0), r.get('DstPort', 0), r.get('Proto', 0))
        if _stacked(frames[r['SamplePool'] - 1]):
            opt.add(k)
        want[k] += 1
        wbytes[k] += r['Bytes'] + 4
    plain = sum(v for k, v in want.items() if k not in opt)
    logp = os.path.join(work, 'sfacctd.log')

    def read():
        have, hbytes = collections.Counter(), collections.Counter()
        if os.path.exists(out):
            for row in csv.DictReader(open(out)):
                if row.get('IN_IFACE') in (None, 'IN_IFACE'):
                    continue
                k = (int(row['IN_IFACE']), _addr(row['SRC_IP']), _addr(row['DST_IP']),
                     int(row['SRC_PORT']), int(row['DST_PORT']), _pnum(row['PROTOCOL']))
                have[k] += int(row['PACKETS'])
                hbytes[k] += int(row['BYTES'])
        return have, hbytes
    with open(logp, 'w') as lf:
        p = subprocess.Popen(['sfacctd', '-f', cfgp], stdout=lf, stderr=subprocess.STDOUT)
    try:
        if not _wait_file_text(logp, 'waiting for sFlow data', p, 30):
            return ['sfacctd did not start: ' + open(logp).read()[-300:]], 0, 0, 0, 0
        _send_all(dgrams, port)
        # its print plugin writes every second: wait until every sample it
        # can read is out (generous deadline), then stop it
        end = time.time() + 60
        while time.time() < end and sum(v for k, v in read()[0].items() if k not in opt) < plain:
            time.sleep(0.2)
        time.sleep(1.5)  # one more purge: anything beyond the expected count shows
    finally:
        _end(p, signal.SIGINT)
    have, hbytes = read()
    bad = []
    for k in want:
        if k in opt and have[k] == 0:
            continue
        if have[k] != want[k] or hbytes[k] != wbytes[k]:
            bad.append('%s: records %d pkts %d bytes, sfacctd %d pkts %d bytes' % (
                k, want[k], wbytes[k], have[k], hbytes[k]))
    for k in have:
        if k not in want:
            bad.append('%s: sfacctd only (%d pkts)' % (k, have[k]))
    got_plain = sum(v for k, v in have.items() if k in want and k not in opt)
    got_opt = sum(v for k, v in have.items() if k in opt)
    return bad, got_plain, plain, sum(want[k] for k in opt), got_opt


def main_agent(netmeta, decode, shared, work, ck):
    frames = gen_frames(random.Random(7), 3000)
    frames = [f for i, f in enumerate(frames) if i % 10 != 9]  # no fragments
    sink = UdpSink()
    try:
        nm = replay(netmeta, work, frames, 4, 'agent',
                    {'sflow_collectors': ['127.0.0.1:%d' % sink.port], 'counter_interval': 1})
        end = time.time() + 10
        want = nm.counters.get('SFLOW_DATAGRAMS', 0)
        while len(sink.got) < want and time.time() < end:
            time.sleep(0.05)
    finally:
        sink.close()
    ck.eq(nm.rc, 0, 'netmeta exits 0')
    ck.eq(len(sink.got), nm.counters.get('SFLOW_DATAGRAMS'), 'every agent datagram arrived')
    ck.eq(nm.counters.get('SFLOW_SEND_FAILED', 0), 0, 'no send failed')
    # a capture of the agent's output, for netmeta-decode and tshark
    pcap = os.path.join(work, 'agent-out.pcap')
    write_pcap(pcap, [eth(udp4('127.0.0.1', '127.0.0.1', sp, 6343, d)) for sp, d in sink.got])
    parsed = [parse_agent(d) for _, d in sink.got]
    seqs = [p[1] for p in parsed]
    ck.check(seqs == list(range(1, len(parsed) + 1)), 'datagram sequence numbers 1..%d without gap' % len(seqs))
    flows = [s for p in parsed for s in p[2] if s[0] == 'flow']
    ctrs = [s for p in parsed for s in p[2] if s[0] == 'ctr']
    ck.check([f[1] for f in flows] == list(range(1, len(flows) + 1)), 'flow sample sequence 1..%d' % len(flows))
    pools = [f[4] for f in flows]
    ck.check(all(a < b for a, b in zip(pools, pools[1:])), 'sample pool grows with every sample')
    sl = sampler_lines(nm.err)
    ck.check(bool(sl) and pools and pools[-1] <= sl[0]['pool'] == len(frames),
             'the final pool is every packet (%s), the last sample\'s pool within it (%s)'
             % (sl[0]['pool'] if sl else None, pools[-1] if pools else None))
    ck.check(all(f[3] == 4 and f[2] == 7 for f in flows), 'rate 4, source ifIndex 7 in every sample')
    ck.eq(len(flows), nm.counters.get('SAMPLES'), 'one flow sample per sampled packet')
    # sFlow sampling at N=4: samples ~ packets / 4
    n = len(flows)
    ck.check(abs(n - len(frames) / 4) < 5 * math.sqrt(len(frames) / 4 / 3) + 1,
             '%d samples of %d packets at 1-in-4' % (n, len(frames)))
    # counter samples: the last equals the port's statistics
    ck.check(len(ctrs) >= 1, '%d counter samples' % len(ctrs))
    if ctrs:
        last = ctrs[-1][3]
        ck.eq(last['ifInUcastPkts'], nm.counters.get('port0 ipackets'), 'ifInUcastPkts = ipackets')
        ck.eq(last['ifInOctets'], sum(len(f) for f in frames), 'ifInOctets = bytes of the frames')
        ck.eq(last['ifIndex'], 7, 'ifIndex of the counter sample')
        ck.check([c[1] for c in ctrs] == list(range(1, len(ctrs) + 1)), 'counter sample sequence 1..n')
    # netmeta-decode reads the same samples as the sampler's own records
    recs, dc = dplib.decode(decode, [pcap])
    ck.eq(dc.get('datagrams_ok'), len(parsed), 'netmeta-decode takes every datagram')
    ck.eq(sum(v for k, v in dc.items() if k.startswith('err_')), 0, 'netmeta-decode: no error')
    dflows = [r for r in recs if r.get('Type') == 'SFLOW_5']
    dctrs = [r for r in recs if r.get('Type') == 'SFLOW_5_COUNTERS']
    drop = ('Type', 'SequenceNum', 'SamplePool', 'SampleDrops', 'Bytes', 'ExporterPort', 'TimeFlowStart',
            'TimeFlowEnd', 'TimeFlowStartNs', 'TimeFlowEndNs', 'TimeReceived', 'TimeReceivedNs')
    ours = [dict(r, Bytes=r['Bytes'] + 4) for r in nm.records]
    ok, why = dplib.compare(ours, dflows, drop=drop)
    ck.check(ok, 'netmeta-decode of the agent output = the sampler\'s records (%d)' % len(dflows), why)
    ok, why = dplib.compare([{'B': r['Bytes'] + 4} for r in nm.records],
                            [{'B': r['Bytes']} for r in dflows])
    ck.check(ok, 'frame_length = frame + 4 bytes of FCS (stripped 4)', why)
    if dctrs:
        ck.eq(dctrs[-1].get('InOctets'), sum(len(f) for f in frames), 'netmeta-decode: InOctets')
    # tshark reads the same samples
    if shutil.which('tshark'):
        p = subprocess.run(['tshark', '-n', '-r', pcap, '-d', 'udp.port==6343,sflow', '-T', 'fields',
                            '-E', 'occurrence=a', '-E', 'aggregator=,',
                            '-e', 'sflow.flow_sample.sequence_number',
                            '-e', 'sflow.flow_sample.sample_pool',
                            '-e', 'sflow.flow_sample.sampling_rate', '-e', 'sflow_245.sequence_number'],
                           capture_output=True, text=True, timeout=120)
        tseq, tpool, trate = [], [], []
        for line in p.stdout.splitlines():
            v = line.split('\t') + ['', '', '']
            tseq += [int(x) for x in v[0].split(',') if x]
            tpool += [int(x) for x in v[1].split(',') if x]
            trate += [int(x) for x in v[2].split(',') if x]
        ck.check(tseq == [f[1] for f in flows], 'tshark: the same %d flow sample sequence numbers' % len(tseq))
        ck.check(tpool == pools, 'tshark: the same sample pools')
        ck.check(trate and set(trate) == {4}, 'tshark: rate 4 in every sample')
        # tshark's reading of each sample's raw header: addresses and
        # protocol equal to the record of the same sample, drops equal to
        # what the agent wrote
        bad, n = tshark_samples_vs_records(pcap, nm.records, {f[1]: f[5] for f in flows})
        ck.check(n == len(flows) and not bad,
                 'tshark: %d samples\' ip/ipv6 src, dst, proto and drops = the records' % n,
                 '\n'.join(bad[:10]))
    # the peer collectors read the same samples
    dgrams = [d for _, d in sink.got]
    if shutil.which('sfcapd') and shutil.which('nfdump'):
        bad, n, tail = sfcapd_vs_records(work, dgrams, nm.records, 4)
        ck.check(n == len(flows) and not bad,
                 'sfcapd + nfdump: %d flows, one per sample in order, addresses, ports, protocol, '
                 'packets = rate, bytes = frame x rate, InIf = the records' % n,
                 '\n'.join(bad[:10]) + '\n' + tail)
    else:
        log('  skip  sfcapd/nfdump missing (scripts/install-deps installs them)')
    if shutil.which('sfacctd'):
        bad, n, nwant, nst, gst = sfacctd_vs_records(work, dgrams, nm.records, frames)
        ck.check(nwant > 0.6 * len(flows) and n == nwant and not bad,
                 'sfacctd: all %d samples of plain/802.1Q frames (and %d of %d MPLS/QinQ ones) '
                 'under their own 5-tuple and ifIndex, bytes = frame_length' % (n, gst, nst),
                 '\n'.join(bad[:10]))
    else:
        log('  skip  sfacctd missing (scripts/install-deps installs it)')


# ---------------------------------------------------------------------------
# drops: a tiny ring and a stalled sink
# ---------------------------------------------------------------------------

def main_drops(netmeta, decode, shared, work, ck):
    """A pure-mirror config (N = 1) with a ring of 2 batches of 4 records and
    a JSON sink writing into a FIFO nobody reads until the replay is over:
    the sink blocks, the ring fills, records are lost on full batches and on
    the flush_ms timer alike. SampleDrops (the exit line, the counter, the
    records' and the sFlow samples' drops fields) must equal what was lost."""
    import fcntl
    import select
    frames = gen_frames(random.Random(41), 3000)
    frames = [f for i, f in enumerate(frames) if i % 10 != 9]  # no fragments
    pcap = os.path.join(work, 'drops.pcap')
    write_pcap(pcap, frames)
    fifo = os.path.join(work, 'drops.fifo')
    os.mkfifo(fifo)
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader, so the sink's open succeeds
    try:
        fcntl.fcntl(rfd, 1031, 4096)  # F_SETPIPE_SZ: one page, the sink stalls sooner
    except OSError:
        pass
    sink = UdpSink()
    cfg = sampler_cfg('net_pcap0,rx_pcap=' + pcap, 1,
                      {'sflow_collectors': ['127.0.0.1:%d' % sink.port]})
    cfg.update({'ring_size': 2, 'batches': 4, 'batch_records': 4, 'flush_ms': 20,
                'sinks': [{'type': 'json', 'path': fifo}]})
    nm = Netmeta(netmeta, work, cfg, eal=eal_args('0-1'), exit_idle=1, tag='drops').start()
    data = b''
    try:
        # the sink stays stalled until the daemon stops (or gives up)
        end = time.time() + 120
        while time.time() < end and nm.proc.poll() is None and 'stopping' not in nm.stderr():
            time.sleep(0.05)
        end = time.time() + 120
        while time.time() < end:
            if select.select([rfd], [], [], 0.5)[0]:
                b = os.read(rfd, 1 << 16)
                if not b:
                    break  # the sink closed the file: everything is read
                data += b
            elif nm.proc.poll() is not None:
                break
        nm.wait(120)
        want = nm.counters.get('SFLOW_DATAGRAMS', 0)
        end = time.time() + 10
        while len(sink.got) < want and time.time() < end:
            time.sleep(0.05)
    finally:
        os.close(rfd)
        sink.close()
        if nm.proc.poll() is None:
            nm.stop(30)
    ck.eq(nm.rc, 0, 'netmeta exits 0')
    recs = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
    c = nm.counters
    lost = c.get('RECORDS_RING_FULL', 0) + c.get('RECORDS_NO_BATCH', 0)
    sl = sampler_lines(nm.err)
    drops = sl[0]['drops'] if sl else None
    log('  %d frames, %d samples, %d records arrived, RING_FULL %d NO_BATCH %d, SampleDrops %s'
        % (len(frames), c.get('SAMPLES', 0), len(recs), c.get('RECORDS_RING_FULL', 0),
           c.get('RECORDS_NO_BATCH', 0), drops))
    ck.eq(c.get('SAMPLES'), len(frames), 'every frame sampled at N = 1')
    ck.check(lost > 0, 'the stalled sink made the worker lose records (%d)' % lost)
    ck.eq(drops, lost, 'SampleDrops of the port (exit line) = records lost (ring full + no batch)')
    ck.eq(c.get('SAMPLE_DROPS'), lost, 'SAMPLE_DROPS counter = records lost')
    ck.eq(len(recs) + lost, len(frames), 'records arrived + dropped = samples')
    recs.sort(key=lambda r: r['SequenceNum'])
    rd = [r.get('SampleDrops', 0) for r in recs]
    ck.check(all(a <= b for a, b in zip(rd, rd[1:])) and rd and rd[-1] <= lost and rd[-1] > 0,
             'records\' SampleDrops grow with the sequence, up to the total (last %s)'
             % (rd[-1] if rd else None))
    flows = [s for _, d in sink.got for s in parse_agent(d)[2] if s[0] == 'flow']
    flows.sort(key=lambda f: f[1])
    fd = [f[5] for f in flows]
    ck.eq(len(flows), len(frames), 'an sFlow flow sample for every frame')
    ck.check(fd and all(a <= b for a, b in zip(fd, fd[1:])) and 0 < fd[-1] <= lost,
             'sFlow drops field grows, up to the total (last %s of %d)' % (fd[-1] if fd else None, lost))
    # a sample's drops count the losses charged before it was taken: the
    # records of a sample and its flow sample say the same
    byseq = {f[1]: f[5] for f in flows}
    ck.check(all(byseq.get(r['SequenceNum']) == r.get('SampleDrops', 0) for r in recs),
             'each record\'s SampleDrops = its sFlow sample\'s drops')


# ---------------------------------------------------------------------------
# a live mirror port: net_af_packet on a veth from a namespace
# ---------------------------------------------------------------------------

def sh(*a, check=True, ns=None):
    cmd = (['ip', 'netns', 'exec', ns] if ns else []) + list(a)
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=60)


def free_net():
    """A 10.X.Y.0/24 no address or route of this host touches (other work
    on the machine makes namespaces too): 'X.Y' as '10.X.Y'."""
    used = sh('ip', '-4', 'addr').stdout + sh('ip', '-4', 'route').stdout
    for k in range(1000):
        net = '10.%d.%d' % (100 + (os.getpid() + k) % 150, (os.getpid() // 150 + 7 * k) % 250)
        if net + '.' not in used and ' %s.0/' % net not in used:
            return net
    raise RuntimeError('no free 10.x.y.0/24')


def main_veth(netmeta, decode, shared, work, ck):
    if os.geteuid() != 0:
        skip('needs root (network namespace, veth)')
    if not shutil.which('tcpdump'):
        skip('tcpdump missing')
    tag = 'sampler%d' % (os.getpid() % 100000)
    ns, host, peer = tag, 'spl%dh' % (os.getpid() % 10000), 'spl%dp' % (os.getpid() % 10000)
    tcpd = nm = None
    try:
        net = free_net()
        sh('ip', 'netns', 'add', ns)
        sh('ip', 'link', 'add', host, 'type', 'veth', 'peer', 'name', peer)
        sh('ip', 'link', 'set', peer, 'netns', ns)
        for dev, n in ((host, None), (peer, ns)):
            sh('sysctl', '-qw', 'net.ipv6.conf.%s.disable_ipv6=1' % dev, ns=n)
            # one wire frame per segment, as a SPAN port sees them: no GSO
            # super-frames (what tcpdump and af_packet would both see whole,
            # and a 2 KiB af_packet frame cut)
            sh('ip', 'link', 'set', 'dev', dev, 'gso_max_segs', '1', 'gso_max_size', '1500',
               check=False, ns=n)
            if shutil.which('ethtool'):
                sh('ethtool', '-K', dev, 'tso', 'off', 'gso', 'off', 'gro', 'off', check=False, ns=n)
        sh('ip', 'addr', 'add', net + '.1/24', 'dev', host)
        sh('ip', 'link', 'set', host, 'up')
        sh('ip', 'addr', 'add', net + '.2/24', 'dev', peer, ns=ns)
        sh('ip', 'link', 'set', peer, 'up', ns=ns)
        sh('ip', 'link', 'set', 'lo', 'up', ns=ns)
        hmac = open('/sys/class/net/%s/address' % host).read().strip()
        pmac = sh('cat', '/sys/class/net/%s/address' % peer, ns=ns).stdout.strip()
        sh('ip', 'neigh', 'replace', net + '.1', 'lladdr', hmac, 'dev', peer, 'nud', 'permanent', ns=ns)
        sh('ip', 'neigh', 'replace', net + '.2', 'lladdr', pmac, 'dev', host, 'nud', 'permanent')
        cfg = sampler_cfg('net_af_packet0,iface=%s,framecnt=4096' % host, 1)
        nm = Netmeta(netmeta, work, cfg, eal=eal_args('0-1'), tag='veth').start()
        if not nm.wait_ready('mirror', 60):
            ck.check(False, 'netmeta started on the veth', nm.stderr()[-1500:])
            return
        # the workers poll once the daemon is fully up: warm-up pings (56
        # bytes, left out of the comparison) until the first record is out
        end = time.time() + 60
        while time.time() < end and not (os.path.exists(nm.out) and os.path.getsize(nm.out) > 0):
            sh('ping', '-c', '1', '-W', '1', net + '.1', check=False, ns=ns)
            time.sleep(0.2)
        cap = os.path.join(work, 'veth-tcpdump.pcap')
        tcpd = subprocess.Popen(['tcpdump', '-i', host, '-n', '-U', '-w', cap],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # tcpdump says "listening on" once its capture is active
        import select
        end, line = time.time() + 30, ''
        while time.time() < end and 'listening on' not in line:
            if select.select([tcpd.stderr], [], [], 0.5)[0]:
                line = tcpd.stderr.readline()
        # traffic from the namespace: ping, a TCP transfer, UDP datagrams
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((net + '.1', 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        got = []

        def serve():
            c, _ = srv.accept()
            while True:
                d = c.recv(65536)
                if not d:
                    break
                got.append(len(d))
            c.close()
        th = threading.Thread(target=serve, daemon=True)
        th.start()
        sh('ping', '-c', '10', '-i', '0.05', '-s', '300', net + '.1', ns=ns)
        code = ('import socket\ns=socket.create_connection(("@NET@.1",%d))\n'
                's.sendall(bytes(200000))\ns.close()\n'
                'u=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n'
                'for i in range(50): u.sendto(bytes(100+i),("@NET@.1",9))\n') % port
        code = code.replace("@NET@", net)
        sh('/usr/bin/python3', '-c', code, ns=ns)
        th.join(30)
        srv.close()
        ck.eq(sum(got), 200000, 'the TCP transfer arrived')
        time.sleep(1.0)  # the TCP teardown's last ACKs: both readers see them
        tcpd.terminate()
        tcpd.wait(30)
        nm.stop(60)
        ck.eq(nm.rc, 0, 'netmeta exits 0')
        _lt, frames = dplib.read_pcap(cap)
        want = collections.Counter()
        for _t, fr in frames:
            p = dplib.parse_frame(fr)
            if p:
                want[(len(fr), p['src'], p['dst'], p['proto'])] += 1
        # only the test network: af_packet's socket sees every interface's
        # frames between its socket() and bind() (loopback noise seen here)
        def ours(a):
            return str(a).startswith(net + '.')
        warm = (98,)  # the warm-up pings' frames (56-byte payload)
        want = collections.Counter({k: v for k, v in want.items() if not (k[3] == 1 and k[0] in warm)})
        nm.records = [r for r in nm.records if not (r.get('Proto') == 1 and r['Bytes'] in warm)]
        want = collections.Counter({k: v for k, v in want.items() if ours(k[1]) and ours(k[2])})
        have = collections.Counter((r['Bytes'], r['SrcAddr'], r['DstAddr'], r['Proto'])
                                   for r in nm.records if r.get('Etype') in (2048, 34525)
                                   and ours(r['SrcAddr']) and ours(r['DstAddr']))
        log('  tcpdump saw %d frames (%d IP), netmeta sampled %d records' % (
            len(frames), sum(want.values()), len(nm.records)))
        ck.check(sum(want.values()) > 150, 'real traffic seen (%d IP frames)' % sum(want.values()))
        ck.check(want == have, 'records = what tcpdump saw (length, addresses, protocol)',
                 'missing %s\nextra %s' % (list((want - have).items())[:5],
                                           list((have - want).items())[:5]))
        protos = collections.Counter(r['Proto'] for r in nm.records)
        ck.check(protos[1] >= 10 and protos[6] >= 10 and protos[17] >= 50,
                 'ICMP, TCP and UDP records (%s)' % dict(protos))
    finally:
        if tcpd and tcpd.poll() is None:
            tcpd.kill()
        if nm and nm.proc and nm.proc.poll() is None:
            nm.stop(30)
        sh('ip', 'link', 'del', host, check=False)
        sh('ip', 'netns', 'del', ns, check=False)


# ---------------------------------------------------------------------------
# hostile frames
# ---------------------------------------------------------------------------

def main_hostile(netmeta, decode, shared, work, ck):
    rnd = random.Random(99)
    base = eth(tcp4('10.0.0.1', '10.0.0.2', 1234, 80, bytes(100)))
    frames = []
    frames += [base[:n] for n in range(0, 60)]                     # truncated at every byte
    frames.append(eth(udp4('10.0.0.1', '10.0.0.2', 1, 2, bytes(9000 - 42))))   # jumbo
    deep = eth(udp4('10.0.0.1', '10.0.0.2', 1, 2, b'x'))
    for d in range(1, 9):
        frames.append(vlan(deep, *range(1, d + 1)))                 # deep VLAN stacks
    for d in (1, 4, 16, 17, 40):
        lab = b''.join(struct.pack('>I', (100 + i) << 12 | (1 << 8 if i == d - 1 else 0) | 64)
                       for i in range(d))
        frames.append(eth(lab + udp4('10.0.0.1', '10.0.0.2', 1, 2, b'y'), 0x8847))
    frames.append(eth(b''.join(struct.pack('>I', i << 12 | 64) for i in range(50)), 0x8847))
    for n in (1, 7, 8, 9, 30):                                      # IPv6 extension chains
        chain = b''
        for i in range(n):
            nh = 60 if i < n - 1 else 17
            chain += bytes([nh, 0]) + bytes(6)
        payload = chain + struct.pack('>HHHH', 5, 6, 8, 0)
        frames.append(eth(ipv6('2001:db8::1', '2001:db8::2', 60 if n else 17, payload), 0x86dd))
    ip = udp4('10.0.0.1', '10.0.0.2', 7, 8, bytes(3000), ident=77)
    frames += [eth(f) for f in dplib.fragment4(ip, 576, 77)]       # fragments
    ip6 = udp6('2001:db8::1', '2001:db8::2', 7, 8, bytes(3000))
    frames += [eth(f, 0x86dd) for f in dplib.fragment6(ip6, 1280, 78)]
    frames += [bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 200))) for _ in range(300)]
    frames += [base[:14] + bytes([0x4f]) + base[15:]]               # IHL past the frame
    frames = [f for f in frames if len(f) > 0]
    nm = replay(netmeta, work, frames, 1, 'hostile', {'sflow_collectors': ['127.0.0.1:9']})
    ck.eq(nm.rc, 0, 'netmeta exits 0 (no crash)')
    c = nm.counters
    ck.eq(c.get('MIRROR_PACKETS'), len(frames), 'every hostile frame counted on the mirror port')
    ck.eq(c.get('SAMPLES'), len(frames), 'every one sampled at N=1')
    ck.eq(c.get('SAMPLE_RECORDS', 0) + c.get('SAMPLE_MALFORMED', 0), len(frames),
          'a record for each, or counted malformed')
    ck.check(c.get('SAMPLE_TRUNCATED', 0) >= 59, 'truncated frames counted (%s)' % c.get('SAMPLE_TRUNCATED'))
    ck.check(c.get('SAMPLE_DEPTH', 0) >= 5, 'chains past their caps counted (%s)' % c.get('SAMPLE_DEPTH'))
    jumbo = [r for r in nm.records if r['Bytes'] == 9000]
    ck.check(len(jumbo) == 1 and jumbo[0]['Proto'] == 17, 'the 9000-byte jumbo is one UDP record')
    ck.eq(c.get('SFLOW_FLOW_SAMPLES'), len(frames), 'an sFlow flow sample for each')


# ---------------------------------------------------------------------------
# a collector port and a mirror port in one process
# ---------------------------------------------------------------------------

OURS4 = '192.0.2.254'


def v5_datagram(seq, flows):
    """NetFlow v5 (header + 48-byte records), written here by hand."""
    hdr = struct.pack('>HHIIIIBBH', 5, len(flows), 100000, 1764633600, 0, seq, 0, 0, 0)
    recs = b''
    for i, (sa, da, sp, dp, octets) in enumerate(flows):
        recs += struct.pack('>4s4s4sHHIIIIHHBBBBHHBBH', socket.inet_aton(sa), socket.inet_aton(da),
                            bytes(4), 1, 2, 3, octets, 90000, 99000, sp, dp, 0, 0x18, 6, 0, 0, 0,
                            24, 24, 0)
    return hdr + recs


def main_mixed(netmeta, decode, shared, work, ck):
    """Port 0 mirrors traffic (1 in 1), port 1 is a collector port that
    receives NetFlow v5 at its own address: one process, one worker, both
    kinds of record, each counted on its own path."""
    frames = gen_frames(random.Random(21), 200)
    mp = os.path.join(work, 'mirror.pcap')
    write_pcap(mp, frames)
    exports, nflows, seq = [], 0, 0
    for d in range(40):
        flows = [('10.1.%d.%d' % (d, i), '10.2.%d.%d' % (d, i), 1000 + i, 443, 1500 + d * 30 + i)
                 for i in range(1 + d % 30)]
        exports.append(eth(udp4('198.51.100.9', OURS4, 5000, 2055, v5_datagram(seq, flows))))
        seq += len(flows)
        nflows += len(flows)
    cp = os.path.join(work, 'collector.pcap')
    write_pcap(cp, exports)
    cfg = sampler_cfg('net_pcap0,rx_pcap=' + mp, 1)
    cfg['ports'].append({'device': 'net_pcap1,rx_pcap=' + cp, 'addresses': [OURS4]})
    cfg['listen'] = {'netflow': [2055]}
    nm = Netmeta(netmeta, work, cfg, eal=eal_args('0-1'), exit_idle=1, tag='mixed').run(120)
    ck.eq(nm.rc, 0, 'netmeta exits 0 with a mirror port and a collector port')
    c = nm.counters
    ck.eq((c.get('MIRROR_PACKETS'), c.get('SAMPLES')), (len(frames), len(frames)),
          'the mirror port: every packet sampled (1 in 1), none of the collector port\'s')
    ck.eq(c.get('UDP_DATAGRAMS'), len(exports), 'the collector port: every export datagram received')
    ck.eq(c.get('RX_PACKETS'), len(frames) + len(exports), 'RX_PACKETS = both ports')
    kinds = {}
    for r in nm.records:
        kinds[r.get('Type')] = kinds.get(r.get('Type'), 0) + 1
    ck.eq(kinds, {'SAMPLER': len(frames), 'NETFLOW_V5': nflows}, 'records by type')
    v5 = [r for r in nm.records if r.get('Type') == 'NETFLOW_V5']
    ck.check(sorted(r.get('Bytes') for r in v5)
             == sorted(1500 + d * 30 + i for d in range(40) for i in range(1 + d % 30)),
             'the v5 records carry their flows\' bytes (%d records)' % len(v5))
    ck.check(all(r.get('SamplerAddress') == '198.51.100.9' for r in v5),
             'v5 records: the exporter\'s address')
    smp = [r for r in nm.records if r.get('Type') == 'SAMPLER']
    ck.check(all(r.get('SamplerAddress') == AGENT and r.get('InIf') == 7 and r.get('SamplingRate') == 1
                 for r in smp), 'sampler records: the agent address, the mirror port\'s ifIndex, rate 1')


def main(argv):
    if len(argv) < 5:
        print('usage: test_sampler.py MODE NETMETA NETMETA_DECODE SHARED_DIR')
        return 2
    mode, netmeta, decode, shared = argv[1:5]
    why = dplib.dpdk_usable(netmeta)
    if why:
        skip('no DPDK backend: ' + why)
    if mode.startswith('n1') and not shutil.which('tshark'):
        skip('tshark missing')
    fn = {'n1-gen': main_n1_gen, 'n1-corpus': main_n1_corpus, 'estimate': main_estimate,
          'agent': main_agent, 'veth': main_veth, 'hostile': main_hostile,
          'drops': main_drops, 'mixed': main_mixed}[mode]
    ck = Checks()
    work = tempfile.mkdtemp(prefix='nm-sampler-')
    try:
        fn(netmeta, decode, shared, work, ck)
    finally:
        rc = ck.finish()
        if rc == 0:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log('work directory kept: ' + work)
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv))
