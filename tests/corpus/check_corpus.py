#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""
Real-capture tests: run netmeta-decode over every capture of the shared
corpus and compare what it prints with independent references.

NetFlow v5 / v9 / IPFIX:
  1. CATALOG.md      flow-record and flow-export-datagram counts per capture;
  2. X.expected.json  events stated by logstash-codec-netflow's own tests
                      (logstash field names, mapped to our wire names below);
  3. X.tshark.json.gz tshark 4.0's decode, compared record by record.

sFlow v5 (section "sFlow v5" below):
  1. CATALOG.md      flow and counter samples, datagrams;
  2. X.tshark.json.gz tshark's sflow_245.* decode, sample by sample;
  3. tcpdump-out/X.txt tcpdump -v text (tcpdump captures);
  4. the datagram bytes read per the sFlow v5 spec, only for what neither
     tool decodes (discarded-packet samples, records tshark 4.0 skips) and
     for the structure counters.

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


def _sf_rejected(err):
    def cond(d):
        """the datagram was refused with exactly this error and nothing of it
        was printed"""
        st = d.get('stats', {})
        return st.get(err) == 1 and st.get('datagrams_ok') == 0 and d.get('ours', 0) == 0
    cond.__doc__ = 'refused with %s, nothing printed' % err
    return cond


def _sf_record_overrun(d):
    """the spec reading of the datagram finds this sample's record running
    past the sample's end, and ours left the record's fields unset"""
    ws = (d.get('sample') or {}).get('walk') or {}
    return bool(ws.get('rec_error')) and d.get('ours') in (0, '::')


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
    # -- sFlow: malformed datagrams (hand-built test packets, a fuzzed input)
    ('gopacket/wrapped/SFlowTestPacket11.pcap', r'catalog:counter samples', 'sf-sample-past-end',
     _sf_rejected('err_SFLOW_SAMPLE_LENGTH')),
    ('gopacket/wrapped/SFlowTestPacket11.pcap', r'decoder:datagrams_ok', 'sf-sample-past-end',
     _sf_rejected('err_SFLOW_SAMPLE_LENGTH')),
    ('gopacket/wrapped/SFlowTestPacket5.pcap', r'tshark:frame 1:sample 0:(NextHop|SrcNet|DstNet)',
     'sf-record-past-sample', _sf_record_overrun),
    ('gopacket/wrapped/SFlowTestPacket8.pcap', r'tshark:frame 1:sample 0:(NextHop|SrcNet|DstNet)',
     'sf-record-past-sample', _sf_record_overrun),
    ('tcpdump/tests/sflow_print-segv.pcap', r'decoder:datagrams_ok', 'sf-short-datagram',
     _sf_rejected('err_SHORT_HEADER')),
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
    flow records of any type, every object printed). sFlow records and
    interface counters are compared by check_sflow()."""
    p = subprocess.run([exe, '--json', pcap], capture_output=True, timeout=60)
    objs = [json.loads(l) for l in p.stdout.decode().splitlines() if l.strip()]
    nflow = sum(1 for o in objs if not str(o.get('Type', '')).endswith('_COUNTERS'))
    recs = [o for o in objs if o.get('Type') in NF_TYPES]
    stats = {}
    for l in p.stderr.decode().splitlines():
        parts = l.split()
        if len(parts) == 2 and parts[1].isdigit():
            stats[parts[0]] = int(parts[1])
    return p.returncode, recs, stats, p.stderr.decode(), nflow, objs


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
        # A next hop of 0.0.0.0 means none: the decoder leaves it :: (absent).
        zero = {'::'} if our in ('NextHop', 'BgpNextHop') else vals
        add(our, nz or zero, '/'.join(present))
    for tkey, our in (('cflow.post_natsource_ipv4_address', 'PostNatSrcAddr'),
                      ('cflow.post_natdestination_ipv4_address', 'PostNatDstAddr'),
                      ('cflow.post_natsource_ipv6_address', 'PostNatSrcAddr'),
                      ('cflow.post_natdestination_ipv6_address', 'PostNatDstAddr')):
        if tkey in fl:
            # 0.0.0.0 (no translation) is left :: by the decoder.
            add(our, {'::' if _is_zero_addr(v) else v for v in _vals(fl[tkey], norm_addr)}, tkey)
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


def _hop(v, ev, ctx):
    """Next hops and NAT translations: 0.0.0.0 means none, which the decoder
    leaves :: (absent on the wire)."""
    a = norm_addr(v)
    return '::' if a == '0.0.0.0' else a


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
    'ipv4_next_hop': ('NextHop', _hop), 'ipv6_next_hop': ('NextHop', _addr),
    'ipNextHopIPv4Address': ('NextHop', _hop), 'ipNextHopIPv6Address': ('NextHop', _addr),
    'bgp_ipv4_next_hop': ('BgpNextHop', _hop), 'bgp_ipv6_next_hop': ('BgpNextHop', _addr),
    'bgpNextHopIPv4Address': ('BgpNextHop', _hop), 'bgpNextHopIPv6Address': ('BgpNextHop', _addr),
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
    'xlate_src_addr_ipv4': ('PostNatSrcAddr', _hop), 'xlate_dst_addr_ipv4': ('PostNatDstAddr', _hop),
    'xlate_src_addr_ipv6': ('PostNatSrcAddr', _addr), 'xlate_dst_addr_ipv6': ('PostNatDstAddr', _addr),
    'xlate_src_port': ('PostNatSrcPort', _int), 'xlate_dst_port': ('PostNatDstPort', _int),
    'postNATSourceIPv4Address': ('PostNatSrcAddr', _hop),
    'postNATDestinationIPv4Address': ('PostNatDstAddr', _hop),
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
# sFlow v5
# ---------------------------------------------------------------------------
# References: CATALOG.md counts ("N flow smpl", "N ctr smpl"), tshark's
# decode (sflow_245.* fields; tshark 4.0 has no dissector for discarded-
# packet samples, format 5) and, for the tcpdump captures, tcpdump's -v text
# in tcpdump/tcpdump-out/. A small reading of the sample headers straight
# from the sFlow v5 spec (sf_spec_walk) orders tshark's samples (its JSON
# merges samples of the same name, e.g. two "Expanded counters sample, seq
# 87096" of different ports, into one list and so loses the wire order) and
# is the reference for discarded-packet samples, for counter records tshark
# never reaches and for the decoder's structure counters.

SF_TYPE, SF_CTR_TYPE = 'SFLOW_5', 'SFLOW_5_COUNTERS'


def _sf_source_shift():
    """How SamplerId / SourceId pack a data source (type, index): the wire
    contract, proto/flow.proto, states it in its comment on
    InterfaceCounters.SourceId ("type << 24 | index" or "type << 32 |
    index"); the test follows the contract, so a decoder that packs
    differently from what it documents fails here."""
    path = os.path.join(HERE, '..', '..', 'proto', 'flow.proto')
    try:
        text = open(path, encoding='utf-8').read()
    except OSError:
        return 24
    m = re.search(r'SourceId = 7;.*?<<\s*(\d+)', text)
    return int(m.group(1)) if m else 24


SF_SOURCE_SHIFT = _sf_source_shift()


def sf_source_id(stype, index):
    """data source (sFlow v5: compact type 8 bits | index 24 bits, or
    expanded 32 + 32) as our records carry it"""
    if SF_SOURCE_SHIFT == 24:
        return stype << 24 | (index & 0xffffff)
    return stype << SF_SOURCE_SHIFT | index


SF_FLOW_KINDS = (1, 3, 5)   # flow, expanded flow, discarded packet
SF_CTR_KINDS = (2, 4)       # counters, expanded counters


def sf_spec_walk(b):
    """sFlow v5 datagram -> {'agent', 'sub', 'seq', 'nsamples', 'samples':
    [{'off', 'fmt', 'kind', 'len', 'seq', 'source_id', 'records': [(fmt,
    len)], 'rec_error'}], 'error', 'overrun', 'trailing'}. sFlow v5 spec,
    "sFlow Datagram Format" (XDR, big-endian 32-bit words) and the dropped-
    packet extension (format 5: seq, source_id (expanded), drops, input,
    output, reason, records). Record contents only for format 5's fixed
    part and the generic (1) / Ethernet (2) interface counter records
    ('generic', 'ethernet'), for records tshark 4.0 does not reach."""
    out = {'samples': [], 'error': None, 'overrun': 0, 'trailing': 0}

    def u32(o):
        if o + 4 > len(b):
            raise IndexError(o)
        return int.from_bytes(b[o:o + 4], 'big')
    try:
        if u32(0) != 5:
            out['error'] = 'version %d' % u32(0)
            return out
        at = u32(4)
        if at not in (1, 2):
            out['error'] = 'agent address type %d' % at
            return out
        o = 8 + (4 if at == 1 else 16)
        if o > len(b):
            raise IndexError(8)
        out['agent'] = str(ipaddress.ip_address(bytes(b[8:o])))
        out['sub'], out['seq'], out['nsamples'] = u32(o), u32(o + 4), u32(o + 12)
        o += 16
        for i in range(out['nsamples']):
            fmt, ln = u32(o), u32(o + 4)
            body = o + 8
            if body + ln > len(b):
                out['error'] = ('sample %d at %#x: length %d runs %d bytes past the datagram (%d bytes)'
                                % (i, o, ln, body + ln - len(b), len(b)))
                out['overrun'] = body + ln - len(b)
                return out
            s = {'off': o, 'fmt': fmt, 'len': ln, 'kind': fmt if fmt >> 12 == 0 else None,
                 'records': [], 'rec_error': None}
            k = s['kind']
            if k in (1, 2):
                s['seq'], s['source_id'] = u32(body), sf_source_id(u32(body + 4) >> 24, u32(body + 4) & 0xffffff)
            elif k in (3, 4, 5):
                s['seq'] = u32(body)
                s['source_id'] = sf_source_id(u32(body + 4), u32(body + 8))
            fixed = {1: 28, 2: 8, 3: 40, 4: 12, 5: 28}.get(k)
            if k == 5:
                s['drops'], s['input'], s['output'], s['reason'] = (u32(body + 12 + 4 * j) for j in range(4))
            if fixed is not None:
                end = body + ln
                nrec = u32(body + fixed)
                ro = body + fixed + 4
                for _ in range(nrec):
                    if ro + 8 > end:
                        s['rec_error'] = 'record header at %#x past the sample end %#x' % (ro, end)
                        break
                    rf, rl = u32(ro), u32(ro + 4)
                    if ro + 8 + rl > end:
                        s['rec_error'] = ('record %d/%d at %#x: length %d runs %d bytes past the sample end %#x'
                                          % (rf >> 12, rf & 0xfff, ro, rl, ro + 8 + rl - end, end))
                        break
                    s['records'].append((rf, rl))
                    if k in (2, 4) and rf == 1 and rl >= 88:
                        s['generic'] = _sf_spec_generic(b, ro + 8)
                    elif k in (2, 4) and rf == 2 and rl >= 52:
                        s['ethernet'] = {'Dot3' + n: u32(ro + 8 + 4 * j) for j, n in enumerate(SF_DOT3)}
                    ro += 8 + rl
            out['samples'].append(s)
            o = body + ln
        out['trailing'] = len(b) - o
    except IndexError as e:
        out['error'] = 'truncated: a 4-byte field at %#x of a %d-byte datagram' % (e.args[0], len(b))
    return out


# sFlow v5 counters_sample record 1 (generic interface counters), in order
SF_GENERIC_LAYOUT = [('IfIndex', 4), ('IfType', 4), ('IfSpeed', 8), ('IfDirection', 4), ('IfStatus', 4),
                     ('InOctets', 8), ('InUcastPkts', 4), ('InMulticastPkts', 4), ('InBroadcastPkts', 4),
                     ('InDiscards', 4), ('InErrors', 4), ('InUnknownProtos', 4), ('OutOctets', 8),
                     ('OutUcastPkts', 4), ('OutMulticastPkts', 4), ('OutBroadcastPkts', 4),
                     ('OutDiscards', 4), ('OutErrors', 4), ('PromiscuousMode', 4)]


def _sf_spec_generic(b, o):
    out = {}
    for name, w in SF_GENERIC_LAYOUT:
        out[name] = int.from_bytes(b[o:o + w], 'big')
        o += w
    return out


def _items(v):
    """a tshark JSON value as a list: tshark gathers repeated names into a
    JSON array (an Obj is itself a list of pairs, so test it first)"""
    if isinstance(v, Obj):
        return [v]
    return v if isinstance(v, list) else [] if v is None else [v]


def _sf_has_if_counters(s):
    """the decoder emits a counter object when the sample carries a generic
    (1, 88 bytes) or Ethernet (2, 52 bytes) interface counter record"""
    return any((f == 1 and l >= 88) or (f == 2 and l >= 52) for f, l in s['records'])


def _sf_records(o):
    """records of one tshark sample -> {record name: [Obj, ...]} (tshark
    gathers repeated names into a list)"""
    recs = {}
    for k, v in o:
        for it in _items(v):
            if isinstance(it, Obj) and not k.endswith('_tree'):
                recs.setdefault(k, []).append(it)
    return recs


_SF_SAMPLE_NAME = re.compile(r'(Flow sample|Expanded flow sample|Counters sample|Expanded counters sample), seq \d+$')


def _sf_tshark_sample(o):
    kind = int(o.get('sflow_245.sampletype', '0'))
    ent = int(o.get('sflow.enterprise', '0'))
    s = {'kind': kind if ent == 0 else None, 'obj': o, 'records': _sf_records(o), 'seq': None, 'source_id': None}
    if kind == 1 and ent == 0:
        s['seq'] = int(o.get('sflow.flow_sample.sequence_number'))
        s['source_id'] = sf_source_id(int(o.get('sflow.flow_sample.source_id_class')),
                                      int(o.get('sflow.flow_sample.index')))
    elif kind == 3 and ent == 0:
        s['seq'] = int(o.get('sflow.flow_sample.sequence_number'))
        s['source_id'] = sf_source_id(int(o.get('sflow.flow_sample.source_id_type')),
                                      int(o.get('sflow.flow_sample.source_id_index')))
    elif kind in (2, 4) and ent == 0:
        s['seq'] = int(o.get('sflow.counters_sample.sequence_number'))
        s['source_id'] = sf_source_id(int(o.get('sflow.counters_sample.source_id_type')),
                                      int(o.get('sflow.counters_sample.source_id_index')))
    return s


def sf_load_tshark(path):
    """-> list of sFlow frames {'no', 't_ns', 'agent', 'sub', 'seq',
    'samples' (wire order), 'walk', 'malformed'}"""
    with gzip.open(path, 'rt', encoding='utf-8') as f:
        data = json.load(f, object_pairs_hook=Obj)
    frames = []
    for pkt in data:
        layers = pkt.get('_source').get('layers')
        sf = layers.get('sflow')
        if not isinstance(sf, Obj):
            continue
        fr = layers.get('frame')
        sec, _, frac = fr.get('frame.time_epoch').partition('.')
        udp = layers.get('udp')
        payload = bytes.fromhex(udp.get('udp.payload', '').replace(':', ''))
        payload = payload[:max(0, int(udp.get('udp.length')) - 8)]
        tsamples = []
        for k, v in sf:
            if not (_SF_SAMPLE_NAME.match(k) or k == 'Unknown sample format'):
                continue
            for it in _items(v):
                if isinstance(it, Obj):
                    tsamples.append(_sf_tshark_sample(it))
        walk = sf_spec_walk(payload)
        # wire order from the datagram; tshark samples the walk does not
        # reach keep tshark's order at the end
        ordered, used = [], set()
        for ws in walk['samples']:
            for i, ts in enumerate(tsamples):
                if i in used or ts['kind'] != ws['kind']:
                    continue
                if ts['seq'] is not None and (ts['seq'], ts['source_id']) != (ws.get('seq'), ws.get('source_id')):
                    continue
                used.add(i)
                ts['walk'] = ws
                ordered.append(ts)
                break
        ordered += [ts for i, ts in enumerate(tsamples) if i not in used]
        agent = sf.get('sflow_245.agent') or sf.get('sflow_245.agent.v6')
        frames.append({'no': int(fr.get('frame.number')),
                       't_ns': int(sec) * 10**9 + int((frac + '000000000')[:9]),
                       'agent': norm_addr(agent) if agent else None,
                       'sub': int(sf.get('sflow_245.sub_agent_id', '-1')),
                       'seq': int(sf.get('sflow_245.sequence_number', '-1')),
                       'samples': ordered, 'walk': walk,
                       'malformed': layers.get('_ws.malformed') is not None})
    return frames


def _sf_header_expect(rec, add):
    """tshark's dissection of a sampled header (record 1) -> expectations.
    Returns (had a VLAN tag, had an Ethernet layer)."""
    add('Bytes', as_int(rec.get('sflow_245.header.frame_length')), 'sflow_245.header.frame_length')
    tree = rec.get('sflow_245.header_tree')
    if not isinstance(tree, Obj):
        return False, False
    layers = [(k, v) for k, v in tree if isinstance(v, Obj)]
    vlan = eth = False
    for k, v in layers:
        if k == 'eth' and not eth:
            eth = True
            add('SrcMac', norm_mac(v.get('eth.src')), 'eth.src')
            add('DstMac', norm_mac(v.get('eth.dst')), 'eth.dst')
        elif k == 'vlan' and not vlan:
            vlan = True
            add('VlanId', as_int(v.get('vlan.id')), 'vlan.id')
    ips = [i for i, (k, v) in enumerate(layers) if k in ('ip', 'ipv6')]
    if not ips:
        return vlan, eth
    last = ips[-1]

    def ip_fields(v, k, sfx, t):
        if k == 'ip':
            add('SrcAddr' + sfx, norm_addr(v.get('ip.src')), t + 'ip.src')
            add('DstAddr' + sfx, norm_addr(v.get('ip.dst')), t + 'ip.dst')
            add('Proto' + sfx, as_int(v.get('ip.proto')), t + 'ip.proto')
            add('IPTTL' + sfx, as_int(v.get('ip.ttl')), t + 'ip.ttl')
            add('IPTos' + sfx, as_int(v.get('ip.dsfield')), t + 'ip.dsfield')
            add('FragmentId' + sfx, as_int(v.get('ip.id')), t + 'ip.id')
            # tshark shows the offset in bytes, the wire field counts 8 bytes
            add('FragmentOffset' + sfx, as_int(v.get('ip.frag_offset')) // 8, t + 'ip.frag_offset')
            add('Etype' + sfx, 0x0800, t + 'ip.version')
        else:
            add('SrcAddr' + sfx, norm_addr(v.get('ipv6.src')), t + 'ipv6.src')
            add('DstAddr' + sfx, norm_addr(v.get('ipv6.dst')), t + 'ipv6.dst')
            add('IPTTL' + sfx, as_int(v.get('ipv6.hlim')), t + 'ipv6.hlim')
            if v.get('ipv6.tclass') is not None:
                add('IPTos' + sfx, as_int(v.get('ipv6.tclass')), t + 'ipv6.tclass')
            if v.get('ipv6.flow') is not None:
                add('IPv6FlowLabel' + sfx, as_int(v.get('ipv6.flow')), t + 'ipv6.flow')
            add('Etype' + sfx, 0x86dd, t + 'ipv6.version')
    ip_fields(layers[last][1], layers[last][0], '', '')
    if len(ips) > 1:
        k, v = layers[ips[0]]
        ip_fields(v, k, 'Encap', 'outer ')
    for k, v in layers[last + 1:]:
        if k in ('tcp', 'udp'):
            add('SrcPort', as_int(v.get(k + '.srcport')), k + '.srcport')
            add('DstPort', as_int(v.get(k + '.dstport')), k + '.dstport')
            if k == 'tcp' and v.get('tcp.flags') is not None:
                add('TCPFlags', as_int(v.get('tcp.flags')) & 0xff, 'tcp.flags')
            break
        if k in ('icmp', 'icmpv6'):
            add('IcmpType', as_int(v.get(k + '.type')), k + '.type')
            add('IcmpCode', as_int(v.get(k + '.code')), k + '.code')
            break
    return vlan, eth


def _sf_dst_path(g):
    path = []
    for tree in _items(g.get('sflow.as_type_tree')):
        if isinstance(tree, Obj):
            path += [as_int(x) for x in _items(tree.get('sflow_245.dstAS'))]
    return path


def sf_flow_expect(s):
    """[(our key, acceptable values, reference field)] for one tshark flow
    sample (formats 1 and 3)"""
    o, out = s['obj'], []

    def add(our, val, tkey):
        out.append((our, val if isinstance(val, set) else {val}, tkey))
    add('SamplerId', s['source_id'], 'source_id')
    add('Packets', 1, '(one sampled packet)')
    add('SamplingRate', as_int(o.get('sflow.flow_sample.sampling_rate')), 'sflow.flow_sample.sampling_rate')
    if s['kind'] == 1:
        raw = as_int(o.get('sflow.flow_sample.input_interface'))
        add('InIf', raw & 0x3fffffff if raw >> 30 == 0 else 0, 'sflow.flow_sample.input_interface')
        ofmt = as_int(o.get('sflow.flow_sample.output_interface_tree').get('sflow.flow_sample.output_interface_format'))
        oval = as_int(o.get('sflow.flow_sample.output_interface_tree').get('sflow.flow_sample.output_interface_value'))
        otk = 'sflow.flow_sample.output_interface'
    else:
        ifmt = as_int(o.get('sflow.flow_sample.input_interface_format'))
        ival = as_int(o.get('sflow.flow_sample.input_interface_value'))
        add('InIf', ival if ifmt == 0 else 0, 'sflow.flow_sample.input_interface_value')
        ofmt = as_int(o.get('sflow.flow_sample.output_interface.format'))
        oval = as_int(o.get('sflow.flow_sample.output_interface_value'))
        otk = 'sflow.flow_sample.output_interface_value'
    _sf_output_expect(ofmt, oval, add, otk)
    recs = s['records']
    vlan = eth = False
    hdr = recs.get('Raw packet header', [None])[0]
    if hdr is not None:
        vlan, eth = _sf_header_expect(hdr, add)
    e = recs.get('Ethernet frame data', [None])[0]
    if e is not None:
        if not eth:
            add('SrcMac', norm_mac(e.get('sflow_245.ethernet.source_mac_address')), 'sflow_245.ethernet.source_mac_address')
            add('DstMac', norm_mac(e.get('sflow_245.ethernet.destination_mac_address')), 'sflow_245.ethernet.destination_mac_address')
        if hdr is None:
            add('Bytes', as_int(e.get('sflow_245.ethernet.length')), 'sflow_245.ethernet.length')
            add('Etype', as_int(e.get('sflow_245.ethernet.packet_type')), 'sflow_245.ethernet.packet_type')
    sw = recs.get('Extended switch data', [None])[0]
    if sw is not None:
        add('SrcVlan', as_int(sw.get('sflow_245.vlan.in')), 'sflow_245.vlan.in')
        add('DstVlan', as_int(sw.get('sflow_245.vlan.out')), 'sflow_245.vlan.out')
        if not vlan:
            add('VlanId', as_int(sw.get('sflow_245.vlan.in')), 'sflow_245.vlan.in (no tag in the header)')
    rt = recs.get('Extended router data', [None])[0]
    if rt is not None:
        nh = rt.get('sflow_245.nexthop') or rt.get('sflow_245.nexthop.v6')
        add('NextHop', norm_addr(nh), 'sflow_245.nexthop')
        add('SrcNet', as_int(rt.get('sflow_245.nexthop.src_mask')), 'sflow_245.nexthop.src_mask')
        add('DstNet', as_int(rt.get('sflow_245.nexthop.dst_mask')), 'sflow_245.nexthop.dst_mask')
    gw = recs.get('Extended gateway data', [None])[0]
    if gw is not None:
        nh = gw.get('sflow_245.nexthop') or gw.get('sflow_245.nexthop.v6')
        add('BgpNextHop', norm_addr(nh), 'sflow_245.nexthop (gateway)')
        add('SrcAS', as_int(gw.get('sflow_245.srcAS')), 'sflow_245.srcAS')
        path = _sf_dst_path(gw)
        add('AsPath', tuple(path[:10]), 'sflow_245.dstAS (path)')
        add('NextHopAS', path[0] if path else 0, 'sflow_245.dstAS (first)')
        add('DstAS', path[-1] if path else as_int(gw.get('sflow_245.as')),
            'sflow_245.dstAS (last)' if path else 'sflow_245.as (empty path)')
        ct = gw.get('sflow_245.communityEntries_tree')
        com = []
        if isinstance(ct, Obj):
            # tshark files the communities under the name sflow_245.dstAS
            com = [as_int(x) for x in _items(ct.get('sflow_245.dstAS'))]
        add('Communities', tuple(com[:10]), 'sflow_245.communityEntries')
        add('BgpLocalPref', as_int(gw.get('sflow_245.localpref')), 'sflow_245.localpref')
    return out


def _sf_output_expect(ofmt, oval, add, tkey):
    """sFlow v5 "interface": format 0 ifIndex (0x3FFFFFFF: local), 1 discarded
    (value = reason), 2 several interfaces (value = count)"""
    if ofmt == 0:
        add('OutIf', oval, tkey)
        add('DropReason', 0, tkey + ' (format 0)')
    elif ofmt == 1:
        add('OutIf', 0, tkey + ' (format 1: discarded)')
        add('DropReason', oval, tkey + ' (format 1: reason)')
    else:
        add('OutIf', 0, tkey + ' (format 2: %d interfaces)' % oval)


def sf_drop_expect(ws):
    """discarded-packet sample (format 5) read by sf_spec_walk"""
    out = []

    def add(our, val, tkey):
        out.append((our, {val}, tkey))
    add('SamplerId', ws['source_id'], 'source_id')
    add('SamplingRate', 1, '(one reported packet)')
    add('Packets', 1, '(one reported packet)')
    add('InIf', ws['input'], 'input')
    add('OutIf', ws['output'], 'output')
    add('DropReason', ws['reason'], 'reason')
    return out


SF_GENERIC = {
    'sflow_245.ifindex': 'IfIndex', 'sflow_245.iftype': 'IfType', 'sflow_245.ifspeed': 'IfSpeed',
    'sflow_245.ifdirection': 'IfDirection', 'sflow_245.ifinoct': 'InOctets',
    'sflow_245.ifinpkt': 'InUcastPkts', 'sflow_245.ifinmcast': 'InMulticastPkts',
    'sflow_245.ifinbcast': 'InBroadcastPkts', 'sflow_245.ifindisc': 'InDiscards',
    'sflow_245.ifinerr': 'InErrors', 'sflow_245.ifinunk': 'InUnknownProtos',
    'sflow_245.ifoutoct': 'OutOctets', 'sflow_245.ifoutpkt': 'OutUcastPkts',
    'sflow_245.ifoutmcast': 'OutMulticastPkts', 'sflow_245.ifoutbcast': 'OutBroadcastPkts',
    'sflow_245.ifoutdisc': 'OutDiscards', 'sflow_245.ifouterr': 'OutErrors',
    'sflow_245.ifpromisc': 'PromiscuousMode',
}
SF_DOT3 = ['AlignmentErrors', 'FCSErrors', 'SingleCollisionFrames', 'MultipleCollisionFrames',
           'SQETestErrors', 'DeferredTransmissions', 'LateCollisions', 'ExcessiveCollisions',
           'InternalMacTransmitErrors', 'CarrierSenseErrors', 'FrameTooLongs',
           'InternalMacReceiveErrors', 'SymbolErrors']


def sf_ctr_expect(s):
    out = []

    def add(our, val, tkey):
        out.append((our, {val}, tkey))
    add('SampleSequenceNum', s['seq'], 'sflow.counters_sample.sequence_number')
    add('SourceId', s['source_id'], 'source_id')
    recs = s['records']
    g = recs.get('Generic interface counters', [None])[0]
    if g is not None:
        for tk, our in SF_GENERIC.items():
            add(our, as_int(g.get(tk)), tk)
        # sFlow v5 generic counters: ifStatus bit 0 admin, bit 1 oper
        add('IfStatus', as_int(g.get('sflow_245.ifadmin_status')) | as_int(g.get('sflow_245.ifoper_status')) << 1,
            'sflow_245.ifadmin_status/ifoper_status')
    e = recs.get('Ethernet interface counters', [None])[0]
    if e is not None:
        for x in SF_DOT3:
            add('Dot3' + x, as_int(e.get('sflow_245.dot3Stats' + x)), 'sflow_245.dot3Stats' + x)
    return out


def sf_get(r, our):
    v = r[our]
    if our in ('SrcAddr', 'DstAddr', 'NextHop', 'BgpNextHop', 'SrcAddrEncap', 'DstAddrEncap'):
        return norm_addr(v)
    if our in ('SrcMac', 'DstMac'):
        return norm_mac(v)
    if isinstance(v, list):
        return tuple(v)
    return v


def sf_key_flow(r):
    return (r['TimeReceivedNs'], norm_addr(r['SamplerAddress']), r['ObservationDomainId'], r['SequenceNum'])


def sf_key_ctr(c):
    return (c['TimeReceivedNs'], norm_addr(c['AgentAddress']), c['SubAgentId'], c['SequenceNum'])


def _sf_compare(ref, where, r, exp, fail, stats, extra=None):
    for our, vals, tkey in exp:
        got = sf_get(r, our)
        stats['fields'] += 1
        stats['by_ref'][ref] = stats['by_ref'].get(ref, 0) + 1
        bf = stats.setdefault('by_field', {}).setdefault(ref, {})
        bf[our] = bf.get(our, 0) + 1
        if got not in vals:
            data = {'ours': got, 'ref': vals, 'record': r, 'tkey': tkey}
            if extra:
                data.update(extra)
            fail('%s:%s:%s' % (ref, where, our), 'ours %s=%r, %s %s=%s' % (our, got, ref, tkey, _show(vals)), data)


def _sf_group(objs, keyf):
    g = {}
    for o in objs:
        g.setdefault(keyf(o), []).append(o)
    return g


def compare_sflow_tshark(flows, ctrs, frames, fail, stats):
    fl_by = _sf_group(flows, sf_key_flow)
    ct_by = _sf_group(ctrs, sf_key_ctr)
    seen = set()
    for fr in frames:
        k = (fr['t_ns'], fr['agent'], fr['sub'], fr['seq'])
        seen.add(k)
        where = 'frame %d' % fr['no']
        tflow = [s for s in fr['samples'] if s['kind'] in SF_FLOW_KINDS]
        mine = fl_by.get(k, [])
        if len(tflow) != len(mine):
            fail('tshark:%s:flow samples' % where, 'tshark %d flow/discard samples, ours %d records'
                 % (len(tflow), len(mine)), {'ours': len(mine), 'ref': len(tflow), 'frame': fr})
        for i, (s, r) in enumerate(zip(tflow, mine)):
            if s['kind'] == 5:
                ws = s.get('walk')
                if ws is None or 'reason' not in ws:
                    fail('spec:%s:sample %d' % (where, i), 'discarded-packet sample not readable')
                    continue
                _sf_compare('spec', '%s:sample %d' % (where, i), r, sf_drop_expect(ws), fail, stats)
            else:
                _sf_compare('tshark', '%s:sample %d' % (where, i), r, sf_flow_expect(s), fail, stats,
                            {'frame': fr, 'sample': s})
            stats['flows'] += 1
        # counters: one object per sample with generic or Ethernet counters
        # (by the datagram's bytes: tshark 4.0 gives up on some records)
        mine_c = {}
        for c in ct_by.get(k, []):
            mine_c.setdefault((c['SampleSequenceNum'], c['SourceId']), []).append(c)
        for s in fr['samples']:
            if s['kind'] not in SF_CTR_KINDS:
                continue
            ws = s.get('walk')
            want = _sf_has_if_counters(ws) if ws else bool(
                {'Generic interface counters', 'Ethernet interface counters'} & set(s['records']))
            got = mine_c.get((s['seq'], s['source_id']), [])
            sw = '%s:counters seq %d source %d' % (where, s['seq'], s['source_id'])
            if not want:
                continue
            if not got:
                fail('tshark:%s:missing' % sw, 'no counter object for this sample', {'frame': fr, 'sample': s})
                continue
            c = got.pop(0)
            exp = sf_ctr_expect(s)
            if ws:
                has = {f for f, l in ws['records']}
                exp.append(('HasGeneric', {1 in has}, 'record 1 in the datagram'))
                exp.append(('HasEthernet', {2 in has}, 'record 2 in the datagram'))
            _sf_compare('tshark', sw, c, exp, fail, stats, {'frame': fr, 'sample': s})
            # records tshark 4.0 did not reach (it does not step over unknown
            # counter records by their length): the spec reading of the bytes
            spec = []
            if ws and 'generic' in ws and 'Generic interface counters' not in s['records']:
                spec += [(k2, {v2}, 'generic record (bytes)') for k2, v2 in ws['generic'].items()]
            if ws and 'ethernet' in ws and 'Ethernet interface counters' not in s['records']:
                spec += [(k2, {v2}, 'Ethernet record (bytes)') for k2, v2 in ws['ethernet'].items()]
            if spec:
                _sf_compare('spec', sw, c, spec, fail, stats)
            stats['ctrs'] += 1
        left = sum(len(v) for v in mine_c.values())
        if left:
            fail('tshark:%s:unmatched counters %d' % (where, left), '%d counter object(s) with no '
                 'counter sample of that sequence number and source in the datagram' % left)
    for k in set(fl_by) | set(ct_by):
        if k not in seen:
            fail('tshark:no frame:%d flows %d counters' % (len(fl_by.get(k, [])), len(ct_by.get(k, []))),
                 'no sFlow frame in the tshark reference for datagram %r' % (k,))


def check_sflow_structure(frames, st, fail):
    """What the spec reading of the datagrams says about their structure
    against the decoder's counters: datagrams with bytes after the last
    declared sample (accepted, ev_SFLOW_TRAILING_BYTES), samples running past
    the datagram (datagram rejected, err_SFLOW_SAMPLE_LENGTH), records
    running past their sample (record skipped, err_SFLOW_RECORD_LENGTH)."""
    walks = [fr['walk'] for fr in frames]
    n_trail = sum(1 for w in walks if w['error'] is None and w['trailing'] > 0)
    n_over = sum(1 for w in walks if w['overrun'])
    n_rec = sum(1 for w in walks for s in w['samples'] if s['rec_error'])
    where = '; '.join('frame %d: %s' % (fr['no'], fr['walk']['error'] or 'trailing %d' % fr['walk']['trailing'])
                      for fr in frames if fr['walk']['error'] or fr['walk']['trailing'])
    for fid, want, key in (('spec:trailing bytes', n_trail, 'ev_SFLOW_TRAILING_BYTES'),
                           ('spec:sample past datagram', n_over, 'err_SFLOW_SAMPLE_LENGTH'),
                           ('spec:record past sample', n_rec, 'err_SFLOW_RECORD_LENGTH')):
        if st.get(key, 0) != want:
            fail(fid, 'the datagrams show %d, the decoder counted %s=%d (%s)' % (want, key, st.get(key, 0), where))


# ---- tcpdump -v text -------------------------------------------------------

_TD_FRAME = re.compile(r'\s*(\d+)\s+(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{6}) ')
_TD_HDR = re.compile(r'sFlowv5, IPv[46] agent (\S+), agent-id (\d+), seqnum (\d+), uptime (\d+), '
                     r'samples (\d+), length (\d+)')
_TD_SAMPLE = re.compile(r'\t(expanded )?(flow|counter) sample \((\d+)\), length (\d+), seqnum (\d+), '
                        r'type (\d+), idx (\d+)(.*)$')
_TD_FLOW_C = re.compile(r', rate (\d+), pool (\d+), drops (\d+), input (\d+) output (\d+) records (\d+)')
_TD_FLOW_X = re.compile(r', rate (\d+), pool (\d+), drops (\d+), input (\d+) \((\d+)\), output (\d+) '
                        r'\((\d+)\), records (\d+)')
_TD_REC = re.compile(r'\t    enterprise (\d+),? (.*?) \((\d+)\) length (\d+)')

TD_GENERIC = {
    'ifindex': 'IfIndex', 'iftype': 'IfType', 'ifspeed': 'IfSpeed', 'ifdirection': 'IfDirection',
    'ifstatus': 'IfStatus', 'In octets': 'InOctets', 'In unicast pkts': 'InUcastPkts',
    'In multicast pkts': 'InMulticastPkts', 'In broadcast pkts': 'InBroadcastPkts',
    'In discards': 'InDiscards', 'In errors': 'InErrors', 'In unknown protos': 'InUnknownProtos',
    'Out octets': 'OutOctets', 'Out unicast pkts': 'OutUcastPkts',
    'Out multicast pkts': 'OutMulticastPkts', 'Out broadcast pkts': 'OutBroadcastPkts',
    'Out discards': 'OutDiscards', 'Out errors': 'OutErrors', 'Out promisc mode': 'PromiscuousMode',
}
TD_ETHER = {
    'align errors': 'AlignmentErrors', 'fcs errors': 'FCSErrors', 'single collision': 'SingleCollisionFrames',
    'multiple collision': 'MultipleCollisionFrames', 'test error': 'SQETestErrors',
    'deferred': 'DeferredTransmissions', 'late collision': 'LateCollisions',
    'excessive collision': 'ExcessiveCollisions', 'mac trans error': 'InternalMacTransmitErrors',
    'carrier error': 'CarrierSenseErrors', 'frames too long': 'FrameTooLongs',
    'mac receive errors': 'InternalMacReceiveErrors', 'symbol errors': 'SymbolErrors',
}


def _td_detail(line, into):
    """'In octets 0, unicast pkts 0, ...' -> into['In octets'] = 0,
    into['In unicast pkts'] = 0 (the line's In/Out applies to all items)"""
    items = [x.strip() for x in line.strip().split(',')]
    prefix = ''
    if items and items[0].split(' ')[0] in ('In', 'Out'):
        prefix = items[0].split(' ')[0] + ' '
    for it in items:
        m = re.match(r'([A-Za-z][A-Za-z ]*?):? (\d+)(?: \(.*\))?$', it)
        if not m:
            continue
        key = m.group(1)
        if prefix and not key.startswith(prefix.strip()):
            key = prefix + key
        into[key] = int(m.group(2))


def sf_load_tcpdump(path):
    """tcpdump -v text -> list of frames {'no', 't_us', 'agent', 'sub', 'seq',
    'nsamples', 'samples', 'other', 'invalid'}"""
    frames, cur, smp, rec = [], None, None, None
    with open(path, encoding='utf-8', errors='replace') as f:
        for line in f:
            line = line.rstrip('\n')
            m = _TD_FRAME.match(line)
            if m:
                dt = datetime.datetime(*(int(m.group(i)) for i in range(2, 8)))
                t_us = ((dt - _EPOCH).days * 86400 + (dt - _EPOCH).seconds) * 10**6 + int(m.group(8))
                cur = {'no': int(m.group(1)), 't_us': t_us, 'samples': [], 'agent': None,
                       'other': None, 'invalid': None}
                frames.append(cur)
                smp = rec = None
            if cur is None:
                continue
            h = _TD_HDR.search(line)
            if h:
                cur.update(agent=norm_addr(h.group(1)), sub=int(h.group(2)), seq=int(h.group(3)),
                           nsamples=int(h.group(5)), length=int(h.group(6)))
                continue
            v = re.search(r'sFlow version (\d+) packet not supported', line)
            if v:
                cur['other'] = int(v.group(1))
                continue
            v = re.search(r'sFlowv5 \[length (\d+) < (\d+)\] \(invalid\)', line)
            if v:
                cur['invalid'] = (int(v.group(1)), int(v.group(2)))
                continue
            s = _TD_SAMPLE.match(line)
            if s:
                kind = int(s.group(3))
                smp = {'kind': kind, 'len': int(s.group(4)), 'seq': int(s.group(5)),
                       'source_id': sf_source_id(int(s.group(6)), int(s.group(7))), 'records': []}
                rest = s.group(8)
                c, x = _TD_FLOW_C.match(rest), _TD_FLOW_X.match(rest)
                if kind == 1 and c:
                    smp.update(rate=int(c.group(1)), input=int(c.group(4)), output=int(c.group(5)))
                elif kind == 3 and x:
                    smp.update(rate=int(x.group(1)), in_val=int(x.group(4)), in_fmt=int(x.group(5)),
                               out_val=int(x.group(6)), out_fmt=int(x.group(7)))
                elif kind in (1, 3):
                    smp['unparsed'] = line.strip()
                cur['samples'].append(smp)
                rec = None
                continue
            r = _TD_REC.match(line)
            if r and smp is not None:
                rec = {'ent': int(r.group(1)), 'name': r.group(2), 'fmt': int(r.group(3)),
                       'len': int(r.group(4)), 'f': {}}
                smp['records'].append(rec)
                continue
            if rec is not None and line.startswith('\t      '):
                _td_detail(line, rec['f'])
    return frames


def _td_complete(r, keys):
    """tcpdump printed every field of a generic / Ethernet counter record"""
    missing = [k for k in keys if k not in r['f']]
    if missing:
        raise ValueError('tcpdump %s record without %s' % (r['name'], ', '.join(missing)))


def sf_td_flow_expect(s):
    if 'unparsed' in s:
        raise ValueError('tcpdump sample line not understood: %s' % s['unparsed'])
    out = []

    def add(our, val, tkey):
        out.append((our, {val}, tkey))
    add('SamplerId', s['source_id'], 'type/idx')
    if 'rate' in s:
        add('SamplingRate', s['rate'], 'rate')
    if s['kind'] == 1 and 'input' in s:
        add('InIf', s['input'] & 0x3fffffff if s['input'] >> 30 == 0 else 0, 'input')
        _sf_output_expect(s['output'] >> 30, s['output'] & 0x3fffffff, add, 'output')
    elif s['kind'] == 3 and 'in_val' in s:
        add('InIf', s['in_val'] if s['in_fmt'] == 0 else 0, 'input')
        _sf_output_expect(s['out_fmt'], s['out_val'], add, 'output')
    hdr = False
    for r in s['records']:
        if r['ent'] != 0:
            continue
        if r['fmt'] == 1 and 'length' in r['f']:
            add('Bytes', r['f']['length'], 'Raw packet length')
            hdr = True
        elif r['fmt'] == 1001 and 'src vlan' in r['f']:
            add('SrcVlan', r['f']['src vlan'], 'src vlan')
            add('DstVlan', r['f']['dst vlan'], 'dst vlan')
    return out


def sf_td_ctr_expect(s):
    out = [('SampleSequenceNum', {s['seq']}, 'seqnum'), ('SourceId', {s['source_id']}, 'type/idx')]
    for r in s['records']:
        if r['ent'] != 0:
            continue
        if r['fmt'] == 1:
            _td_complete(r, TD_GENERIC)
            for tk, our in TD_GENERIC.items():
                out.append((our, {r['f'][tk]}, 'Generic counter ' + tk))
        elif r['fmt'] == 2:
            _td_complete(r, TD_ETHER)
            for tk, our in TD_ETHER.items():
                out.append(('Dot3' + our, {r['f'][tk]}, 'Ethernet counter ' + tk))
    return out


def compare_sflow_tcpdump(flows, ctrs, nf_recs, frames, fail, stats):
    fl_by = _sf_group(flows, lambda r: (r['TimeReceivedNs'] // 1000,) + sf_key_flow(r)[1:])
    ct_by = _sf_group(ctrs, lambda c: (c['TimeReceivedNs'] // 1000,) + sf_key_ctr(c)[1:])
    nf_times = {r['TimeReceivedNs'] // 1000 for r in nf_recs}
    seen = set()
    stats['td_frames'] = stats.get('td_frames', 0) + len(frames)
    for fr in frames:
        where = 'frame %d' % fr['no']
        if fr['agent'] is None:
            stats['td_other'] = stats.get('td_other', 0) + 1
            # not a v5 datagram for tcpdump: ours must not print sFlow for it
            ours_here = [k for k in set(fl_by) | set(ct_by) if k[0] == fr['t_us']]
            if ours_here:
                fail('tcpdump:%s:not sFlow v5' % where, 'tcpdump: %s; ours printed sFlow objects'
                     % ('version %s' % fr['other'] if fr['other'] else 'invalid %r' % (fr['invalid'],)))
            if fr['other'] is not None and fr['t_us'] not in nf_times:
                fail('tcpdump:%s:other version' % where, 'tcpdump: sFlow version %d (a NetFlow v5 '
                     'header read as sFlow); ours decoded no NetFlow datagram at that time' % fr['other'])
            continue
        k = (fr['t_us'], fr['agent'], fr['sub'], fr['seq'])
        seen.add(k)
        tflow = [s for s in fr['samples'] if s['kind'] in SF_FLOW_KINDS]
        mine = fl_by.get(k, [])
        if len(tflow) != len(mine):
            fail('tcpdump:%s:flow samples' % where, 'tcpdump %d flow samples, ours %d records'
                 % (len(tflow), len(mine)))
        for i, (s, r) in enumerate(zip(tflow, mine)):
            try:
                exp = sf_td_flow_expect(s)
            except ValueError as e:
                fail('tcpdump:%s:sample %d:parse' % (where, i), str(e))
                continue
            _sf_compare('tcpdump', '%s:sample %d' % (where, i), r, exp, fail, stats)
        mine_c = {}
        for c in ct_by.get(k, []):
            mine_c.setdefault((c['SampleSequenceNum'], c['SourceId']), []).append(c)
        for s in fr['samples']:
            if s['kind'] not in SF_CTR_KINDS:
                continue
            if not any(r['ent'] == 0 and r['fmt'] in (1, 2) for r in s['records']):
                continue
            sw = '%s:counters seq %d source %d' % (where, s['seq'], s['source_id'])
            got = mine_c.get((s['seq'], s['source_id']), [])
            if not got:
                fail('tcpdump:%s:missing' % sw, 'no counter object for this sample')
                continue
            try:
                exp = sf_td_ctr_expect(s)
            except ValueError as e:
                fail('tcpdump:%s:parse' % sw, str(e))
                continue
            _sf_compare('tcpdump', sw, got.pop(0), exp, fail, stats)
        left = sum(len(v) for v in mine_c.values())
        if left:
            fail('tcpdump:%s:unmatched counters %d' % (where, left), '%d counter object(s) tcpdump does not show' % left)
    for k in set(fl_by) | set(ct_by):
        if k not in seen:
            fail('tcpdump:no frame', 'no tcpdump frame for our datagram %r' % (k,))


def catalog_sflow(row):
    """-> (flow samples, counter samples, sFlow datagrams or None)"""
    rec = row['records']
    fs = re.search(r'(\d+) flow smpl', rec)
    cs = re.search(r'(\d+) ctr smpl', rec)
    dg = re.search(r'sFlow v5\((\d+)\)', row['protocol'])
    return (int(fs.group(1)) if fs else 0, int(cs.group(1)) if cs else 0,
            int(dg.group(1)) if dg else None)


def check_sflow(row, kind, objs, st, corpus, fail, stats):
    """-> (flow records, counter objects) of the capture; failures through fail"""
    cap = row['capture']
    flows = [o for o in objs if o.get('Type') == SF_TYPE]
    ctrs = [o for o in objs if o.get('Type') == SF_CTR_TYPE]
    nf = [o for o in objs if o.get('Type') in NF_TYPES]
    want_f, want_c, want_dg = catalog_sflow(row)
    no_if = st.get('ev_SFLOW_COUNTERS_NO_IF', 0)
    if len(flows) != want_f:
        fail('catalog:flow samples', 'catalog %d flow samples, ours %d SFLOW_5 records' % (want_f, len(flows)),
             {'ours': len(flows), 'ref': want_f, 'stats': st})
    if len(ctrs) + no_if != want_c:
        fail('catalog:counter samples', 'catalog %d counter samples, ours %d objects + %d without '
             'interface counters' % (want_c, len(ctrs), no_if),
             {'ours': len(ctrs) + no_if, 'ref': want_c, 'stats': st})
    sf_dg = st.get('datagrams_SFLOW_5', 0)
    if kind == 'sflow':
        m = re.match(r'(\d+)/(\d+)', row['packets'])
        if m:
            if sf_dg != int(m.group(1)):
                fail('catalog:datagrams', 'catalog %s sFlow datagrams, ours %d' % (m.group(1), sf_dg))
            if st.get('pcap_packets') != int(m.group(2)):
                fail('catalog:packets', 'catalog %s packets, pcap_packets %s' % (m.group(2), st.get('pcap_packets')))
    elif want_dg is not None and sf_dg != want_dg:
        fail('catalog:datagrams', 'catalog %d sFlow datagrams, ours %d' % (want_dg, sf_dg))
    # every datagram decoded (a rejected one is a disagreement to explain)
    ok, total = st.get('datagrams_ok', 0), st.get('datagrams', 0)
    if ok != total:
        errs = ' '.join('%s=%d' % (k, v) for k, v in st.items() if k.startswith('err_'))
        fail('decoder:datagrams_ok', '%d of %d datagrams rejected (%s)' % (total - ok, total, errs),
             {'stats': st, 'ours': len(flows) + len(ctrs)})
    if st.get('counter_records', len(ctrs)) != len(ctrs):
        fail('decoder:counter_records', 'counter_records %s, printed %d' % (st.get('counter_records'), len(ctrs)))
    for i, r in enumerate(flows):
        if r['Packets'] != 1:
            fail('invariant:record %d:Packets' % i, 'Packets %r, one sampled packet per record' % r['Packets'])
        fams = {nm_family(r[a]) for a in ('SrcAddr', 'DstAddr') if not _is_zero_addr(norm_addr(r[a]))}
        if len(fams) == 1 and r['Etype'] != {4: 0x0800, 6: 0x86dd}[fams.pop()]:
            fail('invariant:record %d:Etype' % i, 'Etype 0x%04x does not match the address family' % r['Etype'])
        if r['TimeFlowStartNs'] != r['TimeReceivedNs'] or r['TimeFlowEndNs'] != r['TimeReceivedNs']:
            fail('invariant:record %d:time' % i, 'flow start/end differ from the receive time (sFlow has no sample time)')
    base = os.path.join(corpus, cap[:-5])
    if os.path.isfile(base + '.tshark.json.gz'):
        frames = sf_load_tshark(base + '.tshark.json.gz')
        compare_sflow_tshark(flows, ctrs, frames, fail, stats)
        check_sflow_structure(frames, st, fail)
    td = os.path.join(corpus, 'tcpdump', 'tcpdump-out', os.path.basename(cap)[:-5] + '.txt')
    if cap.startswith('tcpdump/') and os.path.isfile(td):
        compare_sflow_tcpdump(flows, ctrs, nf, sf_load_tcpdump(td), fail, stats)
    return flows, ctrs


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
            jobs[row['capture']] = pool.submit(run_decoder, exe, os.path.join(corpus, row['capture']))
        results = {c: j.result() for c, j in jobs.items()}

    summary = []
    sf_summary = []
    total = {'fields': 0, 'tshark_flows': 0, 'matched': 0, 'by_field': {}, 'records': 0}
    sf_stats = {'fields': 0, 'by_ref': {}, 'flows': 0, 'ctrs': 0}
    for row in rows:
        cap = row['capture']
        kind = catalog_kind(row['protocol'])
        fail = make_fail(cap)
        rc, recs, st, err, nflow, objs = results[cap]
        if kind in ('sflow', 'mixed'):
            # ---- sFlow (and the sFlow part of a mixed capture) ----
            nfail0, nexc0 = len(failures), len(excused)
            if rc != 0 and kind == 'sflow':
                fail('decoder:exit', 'netmeta-decode exited %d: %s' % (rc, err.strip()[-300:]))
            if kind == 'sflow' and st.get('records', nflow) != nflow:
                fail('decoder:records-counter', 'records counter %s, printed %d' % (st.get('records'), nflow))
            flows, ctrs = check_sflow(row, kind, objs, st, corpus, fail, sf_stats)
            nf_, ne_ = len(failures) - nfail0, len(excused) - nexc0
            status = 'FAIL' if nf_ else ('PASS (%d excused)' % ne_ if ne_ else 'PASS')
            sf_summary.append((cap, len(flows), len(ctrs), st.get('ev_SFLOW_COUNTERS_NO_IF', 0),
                               catalog_sflow(row), status))
            if kind == 'sflow':
                continue
        nfail0, nexc0 = len(failures), len(excused)
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
            extra = '  [NetFlow part; sFlow part below]'
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
    print('%-62s %13s %17s  %s' % ('sFlow capture', 'flow ours/cat', 'ctr ours+noif/cat', 'status'))
    for cap, nfl, nct, noif, (wf, wc, _), status in sf_summary:
        print('%-62s %6d/%-6d %6d+%d/%-6d  %s' % (cap[-62:], nfl, wf, nct, noif, wc, status))
    print()
    print('tshark: %d of our %d records paired with tshark\'s %d flow records; %d field comparisons'
          % (total['matched'], total['records'], total['tshark_flows'], total['fields']))
    if verbose:
        print('  by tshark field: ' + ', '.join('%s %d' % kv for kv in sorted(total['by_field'].items())))
    print('sFlow: %d flow records and %d counter objects compared; %d field comparisons (%s)'
          % (sf_stats['flows'], sf_stats['ctrs'], sf_stats['fields'],
             ', '.join('%s %d' % kv for kv in sorted(sf_stats['by_ref'].items()))))
    print('  tcpdump: %d frames read, %d of them not sFlow v5 for tcpdump'
          % (sf_stats.get('td_frames', 0), sf_stats.get('td_other', 0)))
    if verbose:
        for ref, bf in sorted(sf_stats.get('by_field', {}).items()):
            print('  %s, by our field: %s' % (ref, ', '.join('%s %d' % kv for kv in sorted(bf.items()))))
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
