#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""
Real-capture tests: run netmeta-decode over every NetFlow v5 / v9 / IPFIX
capture of the shared corpus and compare what it prints with three
independent references:

  1. CATALOG.md      flow-record and flow-export-datagram counts per capture;
  2. X.expected.json  events stated by logstash-codec-netflow's own tests
                      (logstash field names, mapped to our wire names below);
  3. X.tshark.json.gz tshark 4.0's decode, compared record by record.

Every disagreement is a failure unless EXCEPTIONS below names it and points
to a written verdict in tests/CORPUS-NOTES.md. Exceptions that no longer
match anything are failures too, so the list cannot go stale.

usage: check_corpus.py NETMETA_DECODE SHARED_DIR [-v] [CAPTURE-SUBSTRING...]
Exit: 0 pass, 1 failures, 77 corpus absent (meson's skip code), 2 usage.
Standard library only.
"""

import concurrent.futures
import datetime
import gzip
import ipaddress
import json
import os
import re
import subprocess
import sys
import time

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
NOTES = os.path.join(HERE, '..', 'CORPUS-NOTES.md')

# ---------------------------------------------------------------------------
# Exceptions: (capture path relative to corpus/, regex over the failure id,
# anchor in CORPUS-NOTES.md holding the verdict, predicate or None). A
# failure id is "<reference>:<detail>", e.g. "catalog:records",
# "tshark:frame 7:unmatched ours 1", "expected:event 2:first_switched". The
# predicate gets the failure's values and must accept them: a verdict covers
# the disagreement it explains, not any value in the same place.
# ---------------------------------------------------------------------------
LS = 'logstash-codec-netflow/scenarios/'
GL = 'graylog-plugin-netflow/src/test/resources/netflow-data/'


def _plus_1s(d):
    """logstash's time is ours + exactly 1000 ms"""
    return 'ref_ms' in d and d['ref_ms'] == d['ours_ms'] + 1000


def _ls_old_v9(d):
    """logstash's older v9 formula: whole second + 1, then .999"""
    return ('ref_ms' in d and d['ours_ms'] % 1000 != 0
            and d['ref_ms'] == -(-d['ours_ms'] // 1000) * 1000 + 999)


def _tshark_zero_uptime(d):
    """tshark printed an uptime value of 0 as the absolute time 1970-01-01;
    ours is that uptime 0 made absolute: v9 export time - sysUpTime, IPFIX
    systemInitTimeMilliseconds"""
    if d.get('ref') != {0}:
        return False
    fr, fl = d['frame'], d['flow']
    if fr['ver'] == 9:
        h = fr['hdr']
        zero = int(h['cflow.unix_secs']) * 1000 - _ms(h['cflow.sysuptime'])
    elif fr['ver'] == 10 and fl.get('_sysinit') is not None:
        zero = fl['_sysinit']
    else:
        return False
    return d['ours'] == zero * 10**6


def _v5_nowrap(d):
    """Netflow-5-valid-01 FIRST 0xffffffff, sysUpTime 3381, unix 1430591888.280328:
    logstash computes uptime - first without 32-bit wrap"""
    return d.get('ours_ms') == 1430591884898 and d.get('ref_ms') == 1434886852194


def _v5_bad_count(d):
    """the one datagram was refused for its record count, nothing printed"""
    st = d.get('stats', {})
    return (st.get('err_V5_BAD_COUNT') == 1 and st.get('datagrams_ok') == 0
            and d.get('ours', 0) == 0)


SWITCHED = r'expected:event \d+:(first|last)_switched'
EXCEPTIONS = [
    # -- catalog / tshark count a corrupt v5 header's record slots; we reject it
    (LS + 'Netflow-5-invalid-01.pcap', r'catalog:records', 'v5-bad-count', _v5_bad_count),
    (LS + 'Netflow-5-invalid-01.pcap', r'decoder:datagrams_ok', 'v5-bad-count', _v5_bad_count),
    (LS + 'Netflow-5-invalid-01.pcap', r'tshark:frame 1:unmatched tshark 30', 'v5-bad-count', None),
    (LS + 'Netflow-5-invalid-02.pcap', r'catalog:records', 'v5-bad-count', _v5_bad_count),
    (LS + 'Netflow-5-invalid-02.pcap', r'decoder:datagrams_ok', 'v5-bad-count', _v5_bad_count),
    (LS + 'Netflow-5-invalid-02.pcap', r'tshark:frame 1:unmatched tshark 30', 'v5-bad-count', None),
    # -- tshark stops at the v9 header's count; the flowsets go on
    (GL + 'netflow9.pcap', r'tshark:frame 1:unmatched ours 1', 'v9-count', None),
    (GL + 'netflow9.pcap', r'tshark:frame (7|9):unmatched ours 1', 'v9-count', None),
    ('graylog-plugin-netflow/wrapped/netflow-v9-1.pcap', r'tshark:frame 1:unmatched ours 2', 'v9-count', None),
    (LS + 'Netflow-9-invalid-01.pcap', r'tshark:frame 1:unmatched ours 2', 'v9-count', None),
    # -- tshark aborts the datagram at IE 43 of length 2
    (LS + 'Netflow-9-H3C.pcap', r'tshark:frame 2:unmatched ours 15', 'h3c-ie43', None),
    # -- tshark shows an uptime of 0 as 1970-01-01
    (GL + 'nprobe-netflow9-2.pcap', r'tshark:frame [23]:record 0:cflow\.abstime(start|end)', 'tshark-zero-uptime', _tshark_zero_uptime),
    (GL + 'nprobe-netflow9.pcap', r'tshark:frame [79]:record 0:cflow\.abstime(start|end)', 'tshark-zero-uptime', _tshark_zero_uptime),
    (LS + 'Netflow-9-multiple-netflow-exporters.pcap', r'tshark:frame 3:record 0:cflow\.abstimestart', 'tshark-zero-uptime', _tshark_zero_uptime),
    (LS + 'IPFIX.pcap', r'tshark:frame 1:record [01]:cflow\.abstimestart', 'tshark-zero-uptime', _tshark_zero_uptime),
    # -- tshark's reference lacks the NetFlow v5 datagrams sent to the sFlow port
    ('tcpdump/tests/sflow_multiple_counter_30_pdus.pcap', r'tshark:no frame:[12] records', 'v5-on-6343', None),
    # -- logstash's v5 time arithmetic
    (LS + 'Netflow5-Juniper-MX80.pcap', SWITCHED, 'ls-v5-time', _plus_1s),
    (LS + 'Netflow-5-valid-01.pcap', r'expected:event [01]:last_switched', 'ls-v5-time', _plus_1s),
    (LS + 'Netflow-5-valid-01.pcap', r'expected:event [01]:first_switched', 'ls-v5-wrap', _v5_nowrap),
    # -- logstash's v9 time arithmetic
    (LS + 'Netflow-9-Streamcore.pcap', SWITCHED, 'ls-v9-time', _ls_old_v9),
] + [(LS + c, SWITCHED, 'ls-v9-time', _plus_1s) for c in (
    'Netflow-9-Cisco-ACI.pcap', 'Netflow-9-Cisco-ASR-9000-series-template-260.pcap',
    'Netflow-9-Cisco-NBAR-flowset-262.pcap', 'Netflow-9-Fortigate-FortiOS-5.2.1.pcap',
    'Netflow-9-Fortigate-FortiOS-54x-appid.pcap', 'Netflow-9-H3C-Netstream-with-varstring.pcap',
    'Netflow-9-H3C.pcap', 'Netflow-9-Huawei-Netstream.pcap',
    'Netflow-9-Palo-Alto-1-flowset-in-large-zero-filled-packet.pcap',
    'Netflow-9-Palo-Alto-PAN-OS-with-app-id.pcap', 'Netflow-9-Streamcore.pcap',
    'Netflow-9-Ubiquiti-Edgerouter-with-MPLS-labels.pcap', 'Netflow-9-field-layer2segmentid.pcap',
    'Netflow-9-ipt_netflow-reduced-size-encoding.pcap', 'Netflow-9-multiple-netflow-exporters.pcap',
    'Netflow-9-nprobe-DPI-L7.pcap', 'Netflow-9-template-with-0-length-fields.pcap',
    'Netflow-9-valid-01.pcap')]

# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------


def norm_addr(s):
    try:
        return str(ipaddress.ip_address(s.strip()))
    except ValueError:
        return s


def nm_family(s):
    return ipaddress.ip_address(s.strip()).version


def norm_mac(s):
    return s.strip().lower().replace('-', ':')


def as_int(s):
    if isinstance(s, int):
        return s
    s = str(s).strip()
    return int(s, 16) if s.lower().startswith('0x') else int(s)


_MONTHS = {m: i + 1 for i, m in enumerate(
    ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'])}
_EPOCH = datetime.datetime(1970, 1, 1)


def _ns(y, mo, d, h, mi, s, frac):
    dt = datetime.datetime(y, mo, d, h, mi, s)
    secs = (dt - _EPOCH).days * 86400 + (dt - _EPOCH).seconds
    return secs * 10**9 + int((frac + '000000000')[:9])


def tshark_time_ns(s):
    """'Jul 21, 2016 13:50:33.015000000 UTC' -> ns since 1970."""
    m = re.match(r'(\w{3})\s+(\d+), (\d{4}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?', s.strip())
    if not m:
        raise ValueError('bad tshark time %r' % s)
    return _ns(int(m.group(3)), _MONTHS[m.group(1)], int(m.group(2)), int(m.group(4)),
               int(m.group(5)), int(m.group(6)), m.group(7) or '')


def iso_time(s):
    """logstash ISO8601 -> (ns, digits of fraction stated). The logstash specs
    write '#{micros}' / '#{nanos}' where Ruby versions differ in precision;
    only the digits before the placeholder are stated."""
    s = re.sub(r'#\{\w+\}', '', s)
    m = re.match(r'(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?Z$', s)
    if not m:
        raise ValueError('bad ISO time %r' % s)
    frac = m.group(7) or ''
    return _ns(*(int(m.group(i)) for i in range(1, 7)), frac), len(frac)


def flatten_pairs(o, out):
    """tshark JSON object (kept as a list of pairs) -> flat dict; repeated
    keys collect into lists."""
    for k, v in o:
        if isinstance(v, Obj):
            flatten_pairs(v, out)
            continue
        if k in out:
            prev = out[k] if isinstance(out[k], list) else [out[k]]
            out[k] = prev + (v if isinstance(v, list) else [v])
        else:
            out[k] = v
    return out


class Obj(list):
    """JSON object as an ordered list of (key, value) pairs (tshark repeats keys)."""

    def get(self, key, default=None):
        for k, v in self:
            if k == key:
                return v
        return default


# ---------------------------------------------------------------------------
# CATALOG.md
# ---------------------------------------------------------------------------


def parse_catalog(path):
    rows = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            if not line.startswith('| ') or line.startswith('| capture') or line.startswith('|---'):
                continue
            c = [x.strip() for x in line.strip().strip('|').split('|')]
            if len(c) < 9 or not c[0].endswith('.pcap'):
                continue
            rows.append({'capture': c[0], 'protocol': c[2], 'packets': c[3], 'records': c[4],
                         'templates': c[5], 'features': c[7], 'expected': c[8]})
    return rows


def catalog_kind(proto):
    has_sflow = 'sFlow' in proto
    has_nf = bool(re.search(r'NetFlow v(5|9)|IPFIX', proto))
    if has_sflow and not has_nf:
        return 'sflow'
    if has_sflow:
        return 'mixed'
    if has_nf:
        return 'flow'
    if 'NetFlow v1' in proto:
        return 'v1'
    return 'none'


def catalog_records(row):
    m = re.search(r'v5 recs (\d+)', row['records'])
    if m:
        return int(m.group(1))
    m = re.match(r'(\d+)', row['records'])
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------------------
# netmeta-decode
# ---------------------------------------------------------------------------


NF_TYPES = ('NETFLOW_V5', 'NETFLOW_V9', 'IPFIX')


def run_decoder(exe, pcap):
    """-> (exit code, NetFlow/IPFIX flow records, counters, stderr, number of
    flow records of any type). Other objects (sFlow records, sFlow interface
    counters) are not compared here."""
    p = subprocess.run([exe, '--json', pcap], capture_output=True, timeout=60)
    objs = [json.loads(l) for l in p.stdout.decode().splitlines() if l.strip()]
    nflow = sum(1 for o in objs if not str(o.get('Type', '')).endswith('_COUNTERS'))
    recs = [o for o in objs if o.get('Type') in NF_TYPES]
    stats = {}
    for l in p.stderr.decode().splitlines():
        parts = l.split()
        if len(parts) == 2 and parts[1].isdigit():
            stats[parts[0]] = int(parts[1])
    return p.returncode, recs, stats, p.stderr.decode(), nflow


def frame_key_ours(r):
    return (r['TimeReceivedNs'], norm_addr(r['SamplerAddress']), r['ExporterPort'],
            r['SequenceNum'], r['ObservationDomainId'])


# ---------------------------------------------------------------------------
# tshark reference
# ---------------------------------------------------------------------------


def load_tshark(path):
    """-> list of frames: {'no', 'key', 'hdr', 'ver', 'flows': [flat dict],
    'sysinit': ms or None}. Options data records are dropped (tshark marks
    their template sets '(Options Template)'; templates are tracked per
    exporter and domain), but systemInitTimeMilliseconds found in them is kept
    per exporter so that IPFIX uptime-relative times can be made absolute
    (from the set where it arrives on, as a one-pass collector knows it)."""
    with gzip.open(path, 'rt', encoding='utf-8') as f:
        data = json.load(f, object_pairs_hook=Obj)
    opt_ids = {}
    sysinit = {}
    frames = []
    for pkt in data:
        layers = pkt.get('_source').get('layers')
        fr = layers.get('frame')
        no = int(fr.get('frame.number'))
        sec, _, frac = fr.get('frame.time_epoch').partition('.')
        t_ns = int(sec) * 10**9 + int((frac + '000000000')[:9])
        ip = layers.get('ip') or layers.get('ipv6')
        src = None
        if ip is not None:
            src = ip.get('ip.src') or ip.get('ipv6.src')
        udp = layers.get('udp')
        sport = int(udp.get('udp.srcport')) if udp is not None else None
        for k, cf in layers:
            if k != 'cflow' or not isinstance(cf, Obj):
                continue
            hdr = {}
            for hk, hv in cf:
                if isinstance(hv, Obj):
                    if hk.endswith('_tree'):
                        flatten_pairs(hv, hdr)
                elif isinstance(hv, str):
                    hdr[hk] = hv
            ver = int(hdr.get('cflow.version', '0'))
            if ver == 5:
                dom = int(hdr.get('cflow.engine_type', '0')) << 8 | int(hdr.get('cflow.engine_id', '0'))
            elif ver == 9:
                dom = int(hdr.get('cflow.source_id', '0'))
            else:
                dom = int(hdr.get('cflow.od_id', '0'))
            seq = int(hdr.get('cflow.sequence', '0'))
            exp_key = (src, sport, ver, dom)
            opts = opt_ids.setdefault(exp_key, set())
            flows = []
            for sk, sv in cf:
                if not isinstance(sv, Obj):
                    continue
                if sk.startswith('pdu '):
                    flows.append(flatten_pairs(sv, {}))
                    continue
                if not (sk.startswith('FlowSet ') or sk.startswith('Set ')):
                    continue
                if '(Options Template)' in sk or '(Data Template)' in sk:
                    is_opt = '(Options Template)' in sk
                    for tk, tv in sv:
                        if isinstance(tv, Obj) and 'Template (Id = ' in tk:
                            tid = int(re.search(r'Id = (\d+)', tk).group(1))
                            (opts.add if is_opt else opts.discard)(tid)
                    continue
                sid = int(sv.get('cflow.flowset_id', '0'))
                for fk, fv in sv:
                    if fk.startswith('Flow ') and isinstance(fv, Obj):
                        fl = flatten_pairs(fv, {})
                        if sid not in opts:
                            # the exporter's init time as known at this set
                            fl['_sysinit'] = sysinit.get(exp_key)
                            flows.append(fl)
                        elif 'cflow.sys_init_time' in fl:
                            sysinit[exp_key] = tshark_time_ns(first(fl['cflow.sys_init_time'])) // 10**6
            frames.append({'no': no, 'key': (t_ns, norm_addr(src) if src else None, sport, seq, dom),
                           'hdr': hdr, 'ver': ver, 'flows': flows})
    return frames


def first(v):
    return v[0] if isinstance(v, list) else v


def _vals(v, conv):
    """tshark repeats a field name when one record holds several IEs it
    files under that name (IE 7 L4_SRC_PORT and IE 182 TCP_SRC_PORT are both
    cflow.srcport; RFC 5103 reverse IEs reuse the forward names). The
    position does not say which IE it was, so ours must equal one of them."""
    return {conv(x) for x in (v if isinstance(v, list) else [v])}


def _is_zero_addr(a):
    return a in ('0.0.0.0', '::')


def tshark_expect(fl, fr):
    """[(our key or function, acceptable values, tshark field)] for every
    comparable field of one tshark flow record."""
    hdr, ver = fr['hdr'], fr['ver']
    out = []

    def add(our, vals, tkey):
        out.append((our, vals, tkey))

    # Addresses: a template may carry both families (IE 8 and 27); the
    # family not in use is all-zero. One record has one address per role.
    for our, keys in (('SrcAddr', ('cflow.srcaddr', 'cflow.srcaddrv6')),
                      ('DstAddr', ('cflow.dstaddr', 'cflow.dstaddrv6')),
                      ('NextHop', ('cflow.nexthop', 'cflow.nexthopv6')),
                      ('BgpNextHop', ('cflow.bgpnexthop', 'cflow.bgpnexthopv6'))):
        present = [k for k in keys if k in fl]
        if not present:
            continue
        vals = set()
        for k in present:
            vals |= _vals(fl[k], norm_addr)
        nz = {v for v in vals if not _is_zero_addr(v)}
        add(our, nz or vals, '/'.join(present))
    for tkey, our in (('cflow.post_natsource_ipv4_address', 'PostNatSrcAddr'),
                      ('cflow.post_natdestination_ipv4_address', 'PostNatDstAddr'),
                      ('cflow.post_natsource_ipv6_address', 'PostNatSrcAddr'),
                      ('cflow.post_natdestination_ipv6_address', 'PostNatDstAddr')):
        if tkey in fl:
            add(our, _vals(fl[tkey], norm_addr), tkey)
    for tkey, our in (('cflow.post_naptsource_transport_port', 'PostNatSrcPort'),
                      ('cflow.post_naptdestination_transport_port', 'PostNatDstPort')):
        if tkey in fl:
            add(our, _vals(fl[tkey], as_int), tkey)
    for tkey, our in (('cflow.srcport', 'SrcPort'), ('cflow.dstport', 'DstPort'),
                      ('cflow.protocol', 'Proto'), ('cflow.inputint', 'InIf'),
                      ('cflow.outputint', 'OutIf'), ('cflow.srcas', 'SrcAS'),
                      ('cflow.dstas', 'DstAS'), ('cflow.tos', 'IPTos'),
                      ('cflow.tcpflags', 'TCPFlags'), ('cflow.srcmask', 'SrcNet'),
                      ('cflow.dstmask', 'DstNet'), ('cflow.srcmaskv6', 'SrcNet'),
                      ('cflow.dstmaskv6', 'DstNet'), ('cflow.direction', 'FlowDirection'),
                      ('cflow.ipv6flowlabel', 'IPv6FlowLabel'),
                      ('cflow.flow_end_reason', 'FlowEndReason'),
                      ('cflow.ingress_vrfid', 'IngressVrfID'), ('cflow.egress_vrfid', 'EgressVrfID'),
                      ('cflow.frag_ident', 'FragmentId'), ('cflow.ethernet_type', 'Etype'),
                      ('cflow.dot1q_vlan_id', 'VlanId'), ('cflow.vlanid', 'SrcVlan'),
                      ('cflow.post_vlanid', 'DstVlan'),
                      ('cflow.icmp_ipv4_type', 'IcmpType'), ('cflow.icmp_ipv4_code', 'IcmpCode'),
                      ('cflow.icmp_ipv6_type', 'IcmpType'), ('cflow.icmp_ipv6_code', 'IcmpCode'),
                      ('cflow.ip_ttl', 'IPTTL'), ('cflow.sampler_id', 'SamplerId')):
        if tkey in fl:
            add(our, _vals(fl[tkey], as_int), tkey)
    # counters: delta (IE 1/2), else total (IE 85/86, "permanent" in tshark)
    for d, t, our in (('cflow.octets', 'cflow.permanent_octets', 'Bytes'),
                      ('cflow.packets', 'cflow.permanent_packets', 'Packets')):
        if d in fl:
            add(our, _vals(fl[d], as_int), d)
        elif t in fl:
            add(our, _vals(fl[t], as_int), t)
    for tkey in ('cflow.icmp_type_code_ipv4', 'cflow.icmp_type_code_ipv6'):
        if tkey in fl:
            add(ICMP_TC, _vals(fl[tkey], as_int), tkey)
    if 'cflow.forwarding_status' in fl:
        # IE 89: status in the top 2 bits, reason code in the low 6
        add(FWD_STATUS, _vals(fl['cflow.forwarding_status'], as_int), 'cflow.forwarding_status')
        for c in ('cflow.forwarding_status_unknown_code', 'cflow.forwarding_status_forward_code',
                  'cflow.forwarding_status_drop_code', 'cflow.forwarding_status_consume_code'):
            if c in fl:
                add(FWD_REASON, _vals(fl[c], as_int), c)
    # MACs: pre-NAT fields; the post-* ones only fill what is absent or zero
    for tkey, post, our in (('cflow.srcmac', 'cflow.post_srcmac', 'SrcMac'),
                            ('cflow.dstmac', 'cflow.post_dstmac', 'DstMac')):
        pre = _vals(fl[tkey], norm_mac) if tkey in fl else set()
        pre_nz = pre - {'00:00:00:00:00:00'}
        if pre_nz:
            add(our, pre_nz, tkey)
        elif post in fl:
            add(our, _vals(fl[post], norm_mac), post)
        elif pre:
            add(our, pre, tkey)
    if 'cflow.ip_version' in fl:
        add('Etype', _vals(fl['cflow.ip_version'], lambda x: {4: 0x0800, 6: 0x86dd}.get(as_int(x), -1)),
            'cflow.ip_version')
    # TTL: ipTTL (IE 192), else minimumTTL (52), else maximumTTL (53)
    if 'cflow.ip_ttl' not in fl:
        for tkey in ('cflow.ttl_min', 'cflow.ttl_max'):
            if tkey in fl and _vals(fl[tkey], as_int) - {0}:
                add('IPTTL', _vals(fl[tkey], as_int), tkey)
                break
    if 'cflow.sampling_interval' in fl:
        si = _vals(fl['cflow.sampling_interval'], as_int) - {0}
        if si:
            add('SamplingRate', si, 'cflow.sampling_interval')
    # times: absolute ones as given; uptime-relative ones made absolute with
    # the v5/v9 header (unix time - (sysUpTime - value)) or, for IPFIX, with
    # systemInitTimeMilliseconds from the exporter's options data
    for tkey, our in (('cflow.abstimestart', 'TimeFlowStartNs'), ('cflow.abstimeend', 'TimeFlowEndNs')):
        if tkey in fl:
            add(our, _vals(fl[tkey], tshark_time_ns), tkey)
    for tkey, our in (('cflow.timestart', 'TimeFlowStartNs'), ('cflow.timeend', 'TimeFlowEndNs')):
        if tkey not in fl:
            continue
        if ver in (5, 9) and 'cflow.sysuptime' in hdr and 'cflow.unix_secs' in hdr:
            up_ms = _ms(hdr['cflow.sysuptime'])
            exp_ms = int(hdr['cflow.unix_secs']) * 1000
            if ver == 5:
                exp_ms += int(hdr.get('cflow.unix_nsecs', '0')) // 10**6

            def conv(x, up_ms=up_ms, exp_ms=exp_ms):
                d = (up_ms - _ms(x)) & 0xffffffff  # 32-bit ms counters
                if d >= 1 << 31:
                    d -= 1 << 32  # a flow time after the header's uptime
                return (exp_ms - d) * 10**6
            add(our, _vals(fl[tkey], conv), tkey)
        elif ver == 10 and fl.get('_sysinit') is not None:
            add(our, _vals(fl[tkey], lambda x: (fl['_sysinit'] + _ms(x)) * 10**6), tkey)
    return out


def ICMP_TC(r):
    return r['IcmpType'] << 8 | r['IcmpCode']


def FWD_STATUS(r):
    return r['ForwardingStatus'] >> 6


def FWD_REASON(r):
    return r['ForwardingStatus'] & 0x3f


def ENGINE_TYPE(r):
    return r['ObservationDomainId'] >> 8


def ENGINE_ID(r):
    return r['ObservationDomainId'] & 0xff


def _ms(s):
    sec, _, frac = s.strip().partition('.')
    return int(sec) * 1000 + int((frac + '000')[:3])


def get_ours(r, our):
    if callable(our):
        return our(r)
    v = r[our]
    if our in ('SrcAddr', 'DstAddr', 'NextHop', 'BgpNextHop', 'SamplerAddress',
               'PostNatSrcAddr', 'PostNatDstAddr'):
        return norm_addr(v)
    if our in ('SrcMac', 'DstMac'):
        return norm_mac(v)
    return v


def label_of(our):
    return our if isinstance(our, str) else our.__name__


KEYF = ('SrcAddr', 'DstAddr', 'SrcPort', 'DstPort', 'Proto', 'Bytes', 'Packets')


def _keys_agree(exp, r):
    for our, vals, tkey in exp:
        if our in KEYF and get_ours(r, our) not in vals:
            return False
    return True


def _rec_id(r):
    return '%s:%s>%s:%s p%s %sB' % (r['SrcAddr'], r['SrcPort'], r['DstAddr'], r['DstPort'],
                                    r['Proto'], r['Bytes'])


def _show(vals):
    vals = sorted(vals, key=str)
    return repr(vals[0]) if len(vals) == 1 else 'one of %r' % (vals,)


def compare_tshark(ours, frames, fail, stats):
    """Groups our records by datagram (receive time, exporter, port, sequence,
    domain: what the header and capture say) and aligns them with tshark's
    flow records of the same datagram, in wire order."""
    by_key = {}
    for r in ours:
        by_key.setdefault(frame_key_ours(r), []).append(r)
    done = set()
    for fr in frames:
        k = fr['key']
        if k in done:
            continue
        done.add(k)
        group = [f for f in frames if f['key'] == k]
        tflows = [(f, fl, tshark_expect(fl, f)) for f in group for fl in f['flows']]
        mine = by_key.get(k, [])
        stats['tshark_flows'] += len(tflows)
        i = j = 0
        matched, un_t, un_o = [], [], []
        while i < len(tflows) or j < len(mine):
            if i < len(tflows) and j < len(mine):
                if _keys_agree(tflows[i][2], mine[j]):
                    matched.append((tflows[i], mine[j], j))
                    i += 1
                    j += 1
                    continue
                jj = next((x for x in range(j + 1, len(mine)) if _keys_agree(tflows[i][2], mine[x])), None)
                if jj is not None:
                    un_o.extend(range(j, jj))
                    j = jj
                    continue
                un_t.append(i)
                i += 1
            elif i < len(tflows):
                un_t.append(i)
                i += 1
            else:
                un_o.append(j)
                j += 1
        # as many unmatched on both sides: the same records, key fields differ
        if un_t and len(un_t) == len(un_o):
            for ti, oj in zip(un_t, un_o):
                matched.append((tflows[ti], mine[oj], oj))
            un_t, un_o = [], []
        fno = group[0]['no']
        if un_t:
            fail('tshark:frame %d:unmatched tshark %d' % (fno, len(un_t)),
                 'tshark shows %d flow record(s) we do not produce (tshark %d, ours %d)'
                 % (len(un_t), len(tflows), len(mine)))
        if un_o:
            fail('tshark:frame %d:unmatched ours %d' % (fno, len(un_o)),
                 'we produce %d flow record(s) tshark does not show (tshark %d, ours %d)'
                 % (len(un_o), len(tflows), len(mine)))
        stats['matched'] += len(matched)
        for (f, fl, exp), r, oj in matched:
            for our, vals, tkey in exp:
                if isinstance(our, str) and our not in r:
                    continue  # a field our wire format does not carry (yet)
                got = get_ours(r, our)
                stats['fields'] += 1
                stats['by_field'][tkey] = stats['by_field'].get(tkey, 0) + 1
                if got not in vals:
                    fail('tshark:frame %d:record %d:%s' % (f['no'], oj, tkey),
                         '%s: ours %s=%r, tshark %s=%s' % (_rec_id(r), label_of(our), got, tkey, _show(vals)),
                         {'ours': got, 'ref': vals, 'frame': f, 'flow': fl, 'tkey': tkey})
    for k, rs in by_key.items():
        if k not in done:
            fail('tshark:no frame:%d records' % len(rs),
                 'the reference has no cflow frame for the datagram of %d record(s) (key %r)' % (len(rs), k))


# ---------------------------------------------------------------------------
# logstash expected events: name -> how our record states it
# ---------------------------------------------------------------------------
# Each entry: logstash name -> (our key or function of our record,
#                               conversion of the logstash value or None)
# A converter may return SKIPPED (the field has no counterpart in this
# event's context). Names absent here are "unmapped": listed, not checked.


class _Skip:
    pass


SKIPPED = _Skip()


def _addr(v, ev, ctx):
    return norm_addr(v)


def _mac(v, ev, ctx):
    return norm_mac(v)


def _int(v, ev, ctx):
    return int(v)


def _time_iso(unit_ns, digits):
    """ISO text as logstash renders it, or a plain integer in unit_ns units
    (logstash leaves some absolute IEs as numbers)."""
    def conv(v, ev, ctx):
        if isinstance(v, int):
            return ('time', v * unit_ns, digits)
        ns, d = iso_time(v)
        return ('time', ns, min(d, 9))
    return conv


def _ms_int(v, ev, ctx):
    return ('time', int(v) * 10**6, 3)


def _s_int(v, ev, ctx):
    return ('time', int(v) * 10**9, 0)


def _uptime(v, ev, ctx):
    init = ctx.get('sysinit')
    if init is None:
        return SKIPPED
    return ('time', (init + int(v)) * 10**6, 3)


def _ipver(v, ev, ctx):
    return {4: 0x0800, 6: 0x86dd}.get(int(v), SKIPPED)


def _version(v, ev, ctx):
    return {5: 'NETFLOW_V5', 9: 'NETFLOW_V9', 10: 'IPFIX'}[int(v)]


def _fwd(v, ev, ctx):
    return int(v['status']) << 6 | int(v['reason'])


def _icmp_tc(v, ev, ctx):
    return int(v)


def _icmp_type_v9(v, ev, ctx):
    # logstash netflow.yaml: 32 -> icmp_type (uint16, type*256+code);
    # 176 -> icmp_type (uint8) and 177 -> icmp_code. icmp_code present = 176.
    return ('icmp_type_only', int(v)) if 'icmp_code' in ev else ('icmp_tc', int(v))


def _if_absent(*names):
    def conv(v, ev, ctx):
        for n in names:
            if n in ev and ev[n] not in (0, '00:00:00:00:00:00', None):
                return SKIPPED
        return v
    return conv


def _chain(a, b):
    def conv(v, ev, ctx):
        x = a(v, ev, ctx)
        return x if x is SKIPPED else b(x, ev, ctx)
    return conv


def _mpls(v, ev, ctx):
    return int(v['label'])


MAP = {
    'version': ('Type', _version),
    'flow_seq_num': ('SequenceNum', _int),
    # addresses
    'ipv4_src_addr': ('SrcAddr', _addr), 'ipv4_dst_addr': ('DstAddr', _addr),
    'ipv6_src_addr': ('SrcAddr', _addr), 'ipv6_dst_addr': ('DstAddr', _addr),
    'sourceIPv4Address': ('SrcAddr', _addr), 'destinationIPv4Address': ('DstAddr', _addr),
    'sourceIPv6Address': ('SrcAddr', _addr), 'destinationIPv6Address': ('DstAddr', _addr),
    'ipv4_next_hop': ('NextHop', _addr), 'ipv6_next_hop': ('NextHop', _addr),
    'ipNextHopIPv4Address': ('NextHop', _addr), 'ipNextHopIPv6Address': ('NextHop', _addr),
    'bgp_ipv4_next_hop': ('BgpNextHop', _addr), 'bgp_ipv6_next_hop': ('BgpNextHop', _addr),
    'bgpNextHopIPv4Address': ('BgpNextHop', _addr), 'bgpNextHopIPv6Address': ('BgpNextHop', _addr),
    # L4
    'l4_src_port': ('SrcPort', _int), 'l4_dst_port': ('DstPort', _int),
    'sourceTransportPort': ('SrcPort', _int), 'destinationTransportPort': ('DstPort', _int),
    'protocol': ('Proto', _int), 'protocolIdentifier': ('Proto', _int),
    'tcp_flags': ('TCPFlags', _int), 'tcpControlBits': ('TCPFlags', _int),
    'src_tos': ('IPTos', _int), 'ipClassOfService': ('IPTos', _int),
    # counters: delta (IE 1/2) first, totals (IE 85/86) only when no delta
    'in_bytes': ('Bytes', _int), 'in_pkts': ('Packets', _int),
    'octetDeltaCount': ('Bytes', _int), 'packetDeltaCount': ('Packets', _int),
    'in_permanent_bytes': ('Bytes', _chain(_if_absent('in_bytes'), _int)),
    'in_permanent_pkts': ('Packets', _chain(_if_absent('in_pkts'), _int)),
    'octetTotalCount': ('Bytes', _chain(_if_absent('octetDeltaCount'), _int)),
    'packetTotalCount': ('Packets', _chain(_if_absent('packetDeltaCount'), _int)),
    # interfaces, routing
    'input_snmp': ('InIf', _int), 'output_snmp': ('OutIf', _int),
    'ingressInterface': ('InIf', _int), 'egressInterface': ('OutIf', _int),
    'src_as': ('SrcAS', _int), 'dst_as': ('DstAS', _int),
    'bgpSourceAsNumber': ('SrcAS', _int), 'bgpDestinationAsNumber': ('DstAS', _int),
    'src_mask': ('SrcNet', _int), 'dst_mask': ('DstNet', _int),
    'ipv6_src_mask': ('SrcNet', _int), 'ipv6_dst_mask': ('DstNet', _int),
    'sourceIPv4PrefixLength': ('SrcNet', _int), 'destinationIPv4PrefixLength': ('DstNet', _int),
    'ingressVRFID': ('IngressVrfID', _int), 'egressVRFID': ('EgressVrfID', _int),
    'direction': ('FlowDirection', _int), 'flowDirection': ('FlowDirection', _int),
    'flow_end_reason': ('FlowEndReason', _int), 'flowEndReason': ('FlowEndReason', _int),
    'forwarding_status': ('ForwardingStatus', _fwd),
    'ip_protocol_version': ('Etype', _ipver), 'ipVersion': ('Etype', _ipver),
    'ethernetType': ('Etype', _int),
    'ipv4_ident': ('FragmentId', _int), 'fragmentIdentification': ('FragmentId', _int),
    'ipv6_flow_label': ('IPv6FlowLabel', _int), 'flowLabelIPv6': ('IPv6FlowLabel', _int),
    # TTL: ipTTL, else minimumTTL, else maximumTTL fill IPTTL
    'ipTTL': ('IPTTL', _int),
    'minimumTTL': ('IPTTL', _chain(_if_absent('ipTTL'), _int)),
    'maximumTTL': ('IPTTL', _chain(_if_absent('ipTTL', 'minimumTTL'), _int)),
    'min_ttl': ('IPTTL', _int),
    'max_ttl': ('IPTTL', _chain(_if_absent('min_ttl'), _int)),
    # ICMP
    'icmpTypeCodeIPv4': (ICMP_TC, _icmp_tc),
    'icmpTypeCodeIPv6': (ICMP_TC, _icmp_tc),
    'icmp_type': ('IcmpType', _icmp_type_v9),
    'icmp_code': ('IcmpCode', _int),
    'icmpTypeIPv4': ('IcmpType', _int), 'icmpCodeIPv4': ('IcmpCode', _int),
    'icmpTypeIPv6': ('IcmpType', _int), 'icmpCodeIPv6': ('IcmpCode', _int),
    # L2
    'in_src_mac': ('SrcMac', _mac), 'in_dst_mac': ('DstMac', _mac),
    'sourceMacAddress': ('SrcMac', _mac), 'destinationMacAddress': ('DstMac', _mac),
    'out_src_mac': ('SrcMac', _chain(_if_absent('in_src_mac'), _mac)),
    'out_dst_mac': ('DstMac', _chain(_if_absent('in_dst_mac'), _mac)),
    'postSourceMacAddress': ('SrcMac', _chain(_if_absent('sourceMacAddress'), _mac)),
    'postDestinationMacAddress': ('DstMac', _chain(_if_absent('destinationMacAddress'), _mac)),
    'src_vlan': ('SrcVlan', _int), 'dst_vlan': ('DstVlan', _int),
    'vlanId': ('SrcVlan', _int), 'postVlanId': ('DstVlan', _int),
    'dot1qVlanId': ('VlanId', _int), 'postDot1qVlanId': ('DstVlan', _chain(_if_absent('postVlanId'), _int)),
    # MPLS: logstash's netflow.yaml names v9 type 201 'mpls_label_stack_octets'
    # and decodes it as a label entry {label, experimental, bottom_of_stack,
    # ttl}; type 201 is mplsLabelStackLength (RFC 7012: length of the label
    # stack in octets), not a label, so it is left unmapped (see
    # CORPUS-NOTES.md#mpls). IE 70 as logstash's IPFIX names state it:
    'mplsTopLabelStackSection': ('MPLS1Label', _mpls),
    # NAT (IE 225-228; proto/flow.proto PostNat*, compared only when our
    # records carry those keys)
    'xlate_src_addr_ipv4': ('PostNatSrcAddr', _addr), 'xlate_dst_addr_ipv4': ('PostNatDstAddr', _addr),
    'xlate_src_addr_ipv6': ('PostNatSrcAddr', _addr), 'xlate_dst_addr_ipv6': ('PostNatDstAddr', _addr),
    'xlate_src_port': ('PostNatSrcPort', _int), 'xlate_dst_port': ('PostNatDstPort', _int),
    'postNATSourceIPv4Address': ('PostNatSrcAddr', _addr),
    'postNATDestinationIPv4Address': ('PostNatDstAddr', _addr),
    'postNATSourceIPv6Address': ('PostNatSrcAddr', _addr),
    'postNATDestinationIPv6Address': ('PostNatDstAddr', _addr),
    'postNAPTSourceTransportPort': ('PostNatSrcPort', _int),
    'postNAPTDestinationTransportPort': ('PostNatDstPort', _int),
    # sampling
    'sampling_interval': ('SamplingRate', _int), 'samplingInterval': ('SamplingRate', _int),
    'flow_sampler_id': ('SamplerId', _int), 'selectorId': ('SamplerId', _int),
    # times
    'first_switched': ('TimeFlowStartNs', _time_iso(10**6, 3)),
    'last_switched': ('TimeFlowEndNs', _time_iso(10**6, 3)),
    'flowStartMilliseconds': ('TimeFlowStartNs', _time_iso(10**6, 3)),
    'flowEndMilliseconds': ('TimeFlowEndNs', _time_iso(10**6, 3)),
    'flowStartMicroseconds': ('TimeFlowStartNs', _time_iso(10**3, 6)),
    'flowEndMicroseconds': ('TimeFlowEndNs', _time_iso(10**3, 6)),
    'flowStartNanoseconds': ('TimeFlowStartNs', _time_iso(1, 9)),
    'flowEndNanoseconds': ('TimeFlowEndNs', _time_iso(1, 9)),
    'flowStartSeconds': ('TimeFlowStartNs', _time_iso(10**9, 0)),
    'flowEndSeconds': ('TimeFlowEndNs', _time_iso(10**9, 0)),
    'flow_start_msec': ('TimeFlowStartNs', _ms_int), 'flow_end_msec': ('TimeFlowEndNs', _ms_int),
    'flow_start_sec': ('TimeFlowStartNs', _s_int), 'flow_end_sec': ('TimeFlowEndNs', _s_int),
    'flowStartSysUpTime': ('TimeFlowStartNs', _uptime),
    'flowEndSysUpTime': ('TimeFlowEndNs', _uptime),
}

# logstash names that say a v5 header field; checked against ObservationDomainId
V5_MAP = {
    'engine_type': (ENGINE_TYPE, _int),
    'engine_id': (ENGINE_ID, _int),
}

# an event is a flow record (not an options record) if it states one of these
FLOW_KEYS = {'ipv4_src_addr', 'ipv4_dst_addr', 'ipv6_src_addr', 'ipv6_dst_addr',
             'sourceIPv4Address', 'destinationIPv4Address', 'sourceIPv6Address',
             'destinationIPv6Address', 'l4_src_port', 'l4_dst_port', 'sourceTransportPort',
             'destinationTransportPort', 'in_bytes', 'octetDeltaCount', 'protocol',
             'protocolIdentifier'}


# the same role in the other address family: an all-zero address next to a
# non-zero one of the other family is the unused half of a dual template
_OTHER_FAMILY = {
    'ipv4_src_addr': 'ipv6_src_addr', 'ipv6_src_addr': 'ipv4_src_addr',
    'ipv4_dst_addr': 'ipv6_dst_addr', 'ipv6_dst_addr': 'ipv4_dst_addr',
    'sourceIPv4Address': 'sourceIPv6Address', 'sourceIPv6Address': 'sourceIPv4Address',
    'destinationIPv4Address': 'destinationIPv6Address',
    'destinationIPv6Address': 'destinationIPv4Address',
    'ipv4_next_hop': 'ipv6_next_hop', 'ipv6_next_hop': 'ipv4_next_hop',
    'ipNextHopIPv4Address': 'ipNextHopIPv6Address', 'ipNextHopIPv6Address': 'ipNextHopIPv4Address',
    'bgp_ipv4_next_hop': 'bgp_ipv6_next_hop', 'bgp_ipv6_next_hop': 'bgp_ipv4_next_hop',
    'bgpNextHopIPv4Address': 'bgpNextHopIPv6Address', 'bgpNextHopIPv6Address': 'bgpNextHopIPv4Address',
}


def expected_pairs(ev, ctx):
    """-> (checks [(name, our, value)], unmapped names)"""
    checks, unmapped = [], []
    v5 = ev.get('version') == 5
    for name, val in ev.items():
        other = _OTHER_FAMILY.get(name)
        if other and other in ev and _is_zero_addr(norm_addr(str(val))) \
                and not _is_zero_addr(norm_addr(str(ev[other]))):
            unmapped.append(name + ' (zero, other family set)')
            continue
        ent = MAP.get(name) or (V5_MAP.get(name) if v5 else None)
        if ent is None:
            unmapped.append(name)
            continue
        our, conv = ent
        if isinstance(our, str) and our not in ctx['keys']:
            unmapped.append(name + ' (no %s in our records)' % our)
            continue
        x = conv(val, ev, ctx)
        if x is SKIPPED:
            unmapped.append(name)
            continue
        checks.append((name, our, x))
    return checks, unmapped


def check_value(r, our, x):
    """-> (agrees, ours as shown)"""
    if isinstance(x, tuple) and x[0] == 'time':
        _, ns, digits = x
        got = r[our]
        q = 10 ** (9 - digits)
        return got // q == ns // q, _fmt_ns(got)
    if isinstance(x, tuple) and x[0] == 'icmp_tc':
        got = r['IcmpType'] << 8 | r['IcmpCode']
        return got == x[1], got
    if isinstance(x, tuple) and x[0] == 'icmp_type_only':
        return r['IcmpType'] == x[1], r['IcmpType']
    got = get_ours(r, our)
    return got == x, got


def _fmt_ns(ns):
    if not ns:
        return '0'
    d = _EPOCH + datetime.timedelta(microseconds=ns // 1000)
    return d.strftime('%Y-%m-%dT%H:%M:%S.') + '%09dZ' % (ns % 10**9)


def _fmt_x(x):
    if isinstance(x, tuple) and x[0] == 'time':
        return _fmt_ns(x[1]) + ' (to %d digits)' % x[2]
    if isinstance(x, tuple):
        return repr(x[1])
    return repr(x)


def compare_expected(path, ours, fail, report):
    with open(path, encoding='utf-8') as f:
        events = json.load(f)
    ctx = {'keys': set(ours[0]) if ours else set()}
    inits = {e['netflow']['systemInitTimeMilliseconds'] for e in events
             if isinstance(e, dict) and 'systemInitTimeMilliseconds' in e.get('netflow', {})}
    if len(inits) == 1:
        ctx['sysinit'] = inits.pop()
    nflow = nopt = nother = 0
    unmapped_all = set()
    for idx, e in enumerate(events):
        nf = e.get('netflow') if isinstance(e, dict) else None
        if not isinstance(nf, dict):
            nother += 1
            continue
        if not (FLOW_KEYS & set(nf)):
            nopt += 1
            continue
        nflow += 1
        checks, unmapped = expected_pairs(nf, ctx)
        unmapped_all.update(unmapped)
        best, best_bad = None, None
        for r in ours:
            bad = [(n, our, x, g) for n, our, x in checks
                   for ok, g in [check_value(r, our, x)] if not ok]
            if best_bad is None or len(bad) < len(best_bad):
                best, best_bad = r, bad
            if not bad:
                break
        if best is None:
            fail('expected:event %d:no record' % idx, 'no flow record at all to match')
            continue
        report['checked'] = report.get('checked', 0) + len(checks)
        for n, our, x, g in best_bad:
            data = {'ours': best[our] if isinstance(our, str) else g, 'ref': x, 'record': best}
            if isinstance(x, tuple) and x[0] == 'time':
                data = {'ours_ms': best[our] // 10**6, 'ref_ms': x[1] // 10**6, 'record': best}
            fail('expected:event %d:%s' % (idx, n),
                 'closest record %s: ours %s=%r, logstash %s=%s' % (
                     _rec_id(best), label_of(our), g, n, _fmt_x(x)), data)
    report['events'] = (nflow, nopt, nother)
    report['unmapped'] = sorted(unmapped_all)


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------


def main(argv):
    verbose = '-v' in argv
    argv = [a for a in argv if a != '-v']
    if len(argv) < 3:
        print(__doc__)
        return 2
    exe, shared = argv[1], argv[2]
    only = argv[3:]
    corpus = os.path.join(shared, 'corpus')
    if not os.path.isdir(corpus) or not os.path.isfile(os.path.join(corpus, 'CATALOG.md')):
        print('%s not found: real-capture tests skipped' % os.path.normpath(corpus))
        return SKIP
    if not os.access(exe, os.X_OK):
        print('netmeta-decode not executable: %s' % exe)
        return 1
    notes = open(NOTES, encoding='utf-8').read() if os.path.isfile(NOTES) else ''
    t0 = time.time()
    rows = parse_catalog(os.path.join(corpus, 'CATALOG.md'))
    if only:
        rows = [r for r in rows if any(o in r['capture'] for o in only)]

    failures = []      # (capture, id, message)
    excused = []       # (capture, id, message, anchor)
    used_exc = set()
    problems = []      # exceptions pointing nowhere

    for i, (cap, rx, anchor, cond) in enumerate(EXCEPTIONS):
        if not re.search(r'<a id="%s">' % re.escape(anchor), notes):
            problems.append('exception %d (%s, %s) points to #%s, absent from CORPUS-NOTES.md'
                            % (i, cap, rx, anchor))

    def make_fail(cap):
        def fail(fid, msg, data=None):
            for i, (ecap, rx, anchor, cond) in enumerate(EXCEPTIONS):
                if ecap == cap and re.fullmatch(rx, fid):
                    # the verdict covers this disagreement only if the values
                    # are the ones it explains
                    if cond is not None and not (data is not None and cond(data)):
                        continue
                    used_exc.add(i)
                    excused.append((cap, fid, msg, anchor))
                    return
            failures.append((cap, fid, msg))
        return fail

    jobs = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 4) as pool:
        for row in rows:
            if catalog_kind(row['protocol']) != 'sflow':
                jobs[row['capture']] = pool.submit(run_decoder, exe, os.path.join(corpus, row['capture']))
        results = {c: j.result() for c, j in jobs.items()}

    summary = []
    pending_sflow = []
    total = {'fields': 0, 'tshark_flows': 0, 'matched': 0, 'by_field': {}, 'records': 0}
    for row in rows:
        cap = row['capture']
        kind = catalog_kind(row['protocol'])
        if kind == 'sflow':
            pending_sflow.append(cap)
            continue
        fail = make_fail(cap)
        nfail0, nexc0 = len(failures), len(excused)
        rc, recs, st, err, nflow = results[cap]
        if rc != 0:
            fail('decoder:exit', 'netmeta-decode exited %d: %s' % (rc, err.strip()[-300:]))
        want_rec = catalog_records(row)
        if kind in ('v1', 'none'):
            # not NetFlow v5/v9/IPFIX: every datagram must be refused as an
            # unsupported version and nothing printed
            if recs or st.get('datagrams_ok', 0) or st.get('err_BAD_VERSION', 0) != st.get('datagrams', 0):
                fail('decoder:out-of-scope', 'expected every datagram refused (BAD_VERSION), got '
                     '%d records, datagrams_ok %d' % (len(recs), st.get('datagrams_ok', 0)))
            nf_, ne_ = len(failures) - nfail0, len(excused) - nexc0
            summary.append((cap, len(recs), want_rec, 'FAIL' if nf_ else 'PASS', {}, kind))
            continue
        # ---- catalog counts ----
        if want_rec is not None and len(recs) != want_rec:
            fail('catalog:records', 'catalog %d flow records, ours %d' % (want_rec, len(recs)),
                 {'ours': len(recs), 'ref': want_rec, 'stats': st})
        if st.get('records', nflow) != nflow:
            fail('decoder:records-counter', 'records counter %s, printed %d' % (st.get('records'), nflow))
        m = re.match(r'(\d+)/(\d+)', row['packets'])
        nf_dg = sum(st.get('datagrams_' + t, 0) for t in ('NETFLOW_V5', 'NETFLOW_V9', 'IPFIX'))
        sf_dg = st.get('datagrams_SFLOW_5', 0)
        if m:
            want_dg, want_pk = int(m.group(1)), int(m.group(2))
            if nf_dg + sf_dg != want_dg:
                fail('catalog:datagrams', 'catalog %d flow-export datagrams, ours %d' % (want_dg, nf_dg + sf_dg))
            if st.get('pcap_packets') != want_pk:
                fail('catalog:packets', 'catalog %d packets, pcap_packets %s' % (want_pk, st.get('pcap_packets')))
        # every NetFlow/IPFIX datagram decoded without a fatal error (in a
        # mixed capture the sFlow datagrams' fate is not this test's business,
        # so only the necessary condition is checked there)
        ok = st.get('datagrams_ok', 0)
        if (kind == 'flow' and ok != nf_dg) or (kind == 'mixed' and ok < nf_dg):
            errs = ' '.join('%s=%d' % (k, v) for k, v in st.items() if k.startswith('err_'))
            fail('decoder:datagrams_ok', '%d of %d NetFlow/IPFIX datagrams rejected (%s)'
                 % (nf_dg - ok, nf_dg, errs), {'stats': st})
        flagged = 'data-without-template' in row['features']
        nt = st.get('err_DATA_NO_TEMPLATE', 0)
        if flagged != (nt > 0):
            fail('catalog:data-without-template',
                 'catalog %s data without template, ours err_DATA_NO_TEMPLATE=%d'
                 % ('flags' if flagged else 'does not flag', nt))
        # ---- invariants of our own records ----
        for idx, r in enumerate(recs):
            fams = {nm_family(r[a]) for a in ('SrcAddr', 'DstAddr') if not _is_zero_addr(norm_addr(r[a]))}
            want_et = {4: 0x0800, 6: 0x86dd}.get(fams.pop()) if len(fams) == 1 else None
            if want_et is not None and r['Etype'] != want_et:
                fail('invariant:record %d:Etype' % idx,
                     '%s: Etype 0x%04x but the addresses are IPv%d (RFC 7012 ipVersion/ethernetType)'
                     % (_rec_id(r), r['Etype'], 4 if want_et == 0x0800 else 6))
            if len(fams) > 0:
                fail('invariant:record %d:family' % idx, '%s: source and destination of different '
                     'address families' % _rec_id(r))
        # ---- tshark ----
        ts_path = os.path.join(corpus, cap[:-5] + '.tshark.json.gz')
        total['records'] += len(recs)
        if os.path.isfile(ts_path) and kind in ('flow', 'mixed'):
            frames = load_tshark(ts_path)
            compare_tshark(recs, frames, fail, total)
        # ---- logstash ----
        rep = {}
        ex_path = os.path.join(corpus, cap[:-5] + '.expected.json')
        if os.path.isfile(ex_path):
            compare_expected(ex_path, recs, fail, rep)
        nf_, ne_ = len(failures) - nfail0, len(excused) - nexc0
        status = 'FAIL' if nf_ else ('PASS (%d excused)' % ne_ if ne_ else 'PASS')
        summary.append((cap, len(recs), want_rec, status, rep, kind))

    for i, e in enumerate(EXCEPTIONS):
        if i not in used_exc and (not only or any(o in e[0] for o in only)):
            problems.append('exception %d (%s, %s -> #%s) matches nothing: stale' % (i, e[0], e[1], e[2]))

    # ---- report ----
    print('%-78s %6s %6s  %s' % ('capture', 'ours', 'cat.', 'status'))
    for cap, n, want, status, rep, kind in summary:
        extra = ''
        if kind == 'mixed':
            extra = '  [sFlow part pending sFlow decoder]'
        elif kind in ('v1', 'none'):
            extra = '  [not v5/v9/IPFIX: must decode nothing]'
        print('%-78s %6d %6s  %s%s' % (cap[-78:], n, want if want is not None else '-', status, extra))
        if rep.get('events') and verbose:
            nflow, nopt, nother = rep['events']
            print('    expected.json: %d flow events, %d options events (no flow record), %d non-events'
                  % (nflow, nopt, nother))
            if rep['unmapped']:
                print('    unmapped: ' + ', '.join(rep['unmapped']))
    print()
    for cap in pending_sflow:
        print('SKIP %s: pending sFlow decoder' % cap)
    print()
    print('tshark: %d of our %d records paired with tshark\'s %d flow records; %d field comparisons'
          % (total['matched'], total['records'], total['tshark_flows'], total['fields']))
    if verbose:
        print('  by tshark field: ' + ', '.join('%s %d' % kv for kv in sorted(total['by_field'].items())))
    if verbose and excused:
        print('\nexcused disagreements (verdicts in tests/CORPUS-NOTES.md):')
        for cap, fid, msg, anchor in excused:
            print('  %s [%s] %s -> #%s' % (cap, fid, msg, anchor))
    elif excused:
        print('%d disagreements excused by written verdicts (-v lists them)' % len(excused))
    if failures:
        print('\nFAILURES (%d; -v lists every one, otherwise 3 per capture and kind):' % len(failures))
        groups = {}
        for cap, fid, msg in failures:
            kind = re.sub(r'(frame|record|event) \d+', r'\1 N', fid)
            groups.setdefault((cap, kind), []).append((fid, msg))
        for (cap, kind), items in groups.items():
            shown = items if verbose else items[:3]
            for fid, msg in shown:
                print('  %s [%s] %s' % (cap, fid, msg))
            if len(items) > len(shown):
                print('  %s [%s] ... %d more like these' % (cap, kind, len(items) - len(shown)))
    for p in problems:
        print('EXCEPTION LIST: ' + p)
    print('\n%.1f s' % (time.time() - t0))
    return 1 if failures or problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
