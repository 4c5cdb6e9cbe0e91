#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
DPDK pcap replay: captures replayed through a net_pcap vdev into the daemon
must yield exactly the records `netmeta-decode --json` gives for them
(multisets of JSON objects, receive-time fields left out).

  test_pcap_replay.py gen    NETMETA NETMETA_DECODE NETMETA_GEN
      netmeta-gen --proto all (3 exporters): once with every port of the
      right kind (sflow / netflow / ipfix), once with every port 'auto'.
  test_pcap_replay.py corpus NETMETA NETMETA_DECODE SHARED_DIR [SUBSTRING...]
      every capture listed in SHARED_DIR/corpus/CATALOG.md, all in one run
      (ports 'auto'), then the single-protocol ones again with each port of
      its kind. Captures are concatenated into one pcap; captures that use
      an exporter address/port already used by an earlier one (the
      synthetic wrappers all send from 192.0.2.1:50000) get another UDP
      source port, so template state never mixes; their expected records
      get the same ExporterPort. Linux cooked captures are rewritten to
      Ethernet (what a NIC gives). That the batch pcap decodes to the union
      of the per-capture decodes is checked too, so the batching is known
      to be transparent.

Exit: 0 pass, 1 failure, 77 skipped (no DPDK backend; corpus absent).
"""

import collections
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dplib  # noqa: E402
from dplib import log  # noqa: E402


def dpdk_replay(netmeta, work, pcap, listen, tag):
    # Admission off: the replay sends a hundred captures' exporters from a few addresses
    # within a second, on the wall clock, where netmeta-decode's clock follows the captures'
    # own times; this test is about decoding the same records (admission: test 'flood').
    cfg = {'backend': 'dpdk', 'workers': 1,
           'ports': [{'device': 'net_pcap0,rx_pcap=' + pcap, 'accept_any_destination': True}],
           'listen': listen,
           'templates': {'admit_source_rate': 0, 'admit_global_rate': 0}}
    nm = dplib.Netmeta(netmeta, work, cfg, eal=dplib.eal_args('0-1'), exit_idle=1, tag=tag)
    nm.run(timeout=60)
    return nm


def check_run(ck, nm, want_recs, want_dec, label, frames, udp_dgrams):
    """Compares one daemon run with the netmeta-decode reference."""
    c = nm.counters
    log('%s: netmeta exit %s in %.1f s; %s' % (label, nm.rc, nm.elapsed, nm.summary(
        ['RX_PACKETS', 'UDP_DATAGRAMS', 'PORT_UNKNOWN', 'MALFORMED', 'decode_datagrams',
         'decode_datagrams_ok', 'decode_records', 'decode_counter_records', 'RECORDS_SENT',
         'RECORDS_RING_FULL', 'RECORDS_NO_BATCH', 'sink_records_written', 'port0 ipackets'])))
    if not ck.check(nm.rc == 0, '%s: netmeta exits 0' % label, nm.err[-1500:]):
        return
    ok, diff = dplib.compare(want_recs, nm.records)
    ck.check(ok, '%s: records == netmeta-decode (%d objects)' % (label, len(want_recs)), diff)
    ck.eq(c.get('RX_PACKETS'), frames, '%s: RX_PACKETS = frames in the pcap' % label)
    ck.eq(c.get('UDP_DATAGRAMS'), udp_dgrams, '%s: UDP_DATAGRAMS = UDP datagrams in the pcap' % label)
    ck.eq(c.get('PORT_UNKNOWN', 0), 0, '%s: PORT_UNKNOWN' % label)
    ck.eq(c.get('port0 ipackets'), frames, '%s: port0 ipackets' % label)
    got, rx = dplib.rx_invariant(c)
    ck.eq(got, rx, '%s: every packet counted once (sum of the packet counters = RX_PACKETS)' % label)
    for k in ('datagrams', 'datagrams_ok', 'records', 'counter_records'):
        ck.eq(c.get('decode_' + k), want_dec.get(k, 0), '%s: decode_%s = netmeta-decode %s' % (label, k, k))
    errs_d = {k: v for k, v in c.items() if k.startswith('err_')}
    errs_t = {k: v for k, v in want_dec.items() if k.startswith('err_')}
    ck.eq(errs_d, errs_t, '%s: err_* counters = netmeta-decode\'s' % label)
    nflows = sum(1 for r in nm.records if r.get('Type') != 'SFLOW_5_COUNTERS')
    nctrs = len(nm.records) - nflows
    ck.eq(c.get('RECORDS_SENT'), nflows, '%s: RECORDS_SENT = flow records written' % label)
    ck.eq(c.get('sink_records_written'), nflows, '%s: sink_records_written' % label)
    ck.eq(c.get('sink_counters_written'), nctrs, '%s: sink_counters_written' % label)
    ck.eq((c.get('RECORDS_RING_FULL', 0), c.get('RECORDS_NO_BATCH', 0), c.get('COUNTERS_DROPPED', 0)),
          (0, 0, 0), '%s: nothing dropped on the way to the sink' % label)


def count_udp(frames):
    n = 0
    for _, f in frames:
        p = dplib.parse_frame(f)
        if p and p['proto'] == 17 and (not p['fragmented'] or p['frag_first']):
            n += 1
    return n


# ---------------------------------------------------------------------------


def main_gen(netmeta, decode, gen, work, ck):
    pcap = os.path.join(work, 'gen.pcap')
    p = subprocess.run([gen, '--proto', 'all', '--exporters', '3', '--datagrams', '600',
                        '-o', pcap], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        ck.check(False, 'netmeta-gen runs', p.stderr)
        return
    generated = sum(int(m.group(1)) for m in re.finditer(r'records (\d+)', p.stderr))
    want, dec = dplib.decode(decode, [pcap])
    lt, frames = dplib.read_pcap(pcap)
    nflows = sum(1 for r in want if r.get('Type') != 'SFLOW_5_COUNTERS')
    log('netmeta-gen: %s; netmeta-decode: %d flow records, %d counter objects'
        % (p.stderr.strip().replace('\n', '; '), nflows, len(want) - nflows))
    ck.eq(nflows, generated, 'netmeta-decode gives every generated record')
    for label, listen in (('gen/kinds', {'sflow': [6343], 'netflow': [2055], 'ipfix': [4739]}),
                          ('gen/auto', {'auto': [6343, 2055, 4739]})):
        nm = dpdk_replay(netmeta, work, pcap, listen, label.replace('/', '_'))
        check_run(ck, nm, want, dec, label, len(frames), count_udp(frames))
        ck.check(re.search(r'port 0 \(net_pcap0\): [0-9a-f:]+, 1 rx queue', nm.err) is not None,
                 '%s: the port summary line is printed' % label)


# ---------------------------------------------------------------------------


def parse_catalog(path):
    rows = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            c = [x.strip() for x in line.strip().strip('|').split('|')]
            if line.startswith('| ') and len(c) >= 9 and c[0].endswith('.pcap'):
                rows.append({'capture': c[0], 'protocol': c[2]})
    return rows


def kind_of(proto):
    sf = 'sFlow' in proto
    ipfix = 'IPFIX' in proto
    nf = bool(re.search(r'NetFlow v\d', proto))
    if sf and not (ipfix or nf):
        return 'sflow'
    if ipfix and not (sf or nf):
        return 'ipfix'
    if nf and not (sf or ipfix):
        return 'netflow'
    return 'mixed' if (sf or ipfix or nf) else 'none'


def build_batch(caps, info, path):
    """Concatenates captures (Ethernet frames) into one pcap, giving a new
    UDP source port to every exporter address/port an earlier capture used.
    -> (expected records, frames, {capture: {old sport: new sport}})."""
    used_keys, used_ports, next_port = set(), set(), [21000]
    for c in caps:
        used_ports |= {k[1] for k in info[c]['keys']}

    def fresh():
        while next_port[0] in used_ports:
            next_port[0] += 1
        used_ports.add(next_port[0])
        return next_port[0]

    out, want, remaps = [], [], {}
    for c in caps:
        inf = info[c]
        remap = {}
        for sport in sorted({k[1] for k in inf['keys']}):
            if any((src, sp) in used_keys for src, sp in inf['keys'] if sp == sport):
                remap[sport] = fresh()
        for src, sp in inf['keys']:
            used_keys.add((src, remap.get(sp, sp)))
        remaps[c] = remap
        for t, f in inf['frames']:
            p = dplib.parse_frame(f)
            if remap and p and p['sport'] in remap and p['proto'] == 17:
                f = dplib.rewrite_udp_sport(f, remap[p['sport']])
            out.append((t, f))
        for r in inf['records']:
            if remap and r.get('ExporterPort') in remap:
                r = dict(r, ExporterPort=remap[r['ExporterPort']])
            want.append(r)
    dplib.write_pcap(path, out)
    return want, out, remaps


def main_corpus(netmeta, decode, shared, work, ck, only):
    corpus = os.path.join(shared, 'corpus')
    cat = os.path.join(corpus, 'CATALOG.md')
    if not os.path.isfile(cat):
        dplib.skip('%s not found: corpus replay skipped' % os.path.normpath(cat))
    rows = [r for r in parse_catalog(cat) if not only or any(o in r['capture'] for o in only)]
    info = {}
    for r in rows:
        lt, frames = dplib.read_pcap(os.path.join(corpus, r['capture']))
        info[r['capture']] = {'kind': kind_of(r['protocol']), 'linktype': lt,
                              'frames': dplib.to_ethernet(lt, frames)}
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        jobs = {c: pool.submit(dplib.decode, decode, [os.path.join(corpus, c)]) for c in info}
        for c, j in jobs.items():
            info[c]['records'], info[c]['dec'] = j.result()
    for c, inf in info.items():
        keys, ports = set(), set()
        for _, f in inf['frames']:
            p = dplib.parse_frame(f)
            if p and p['sport'] is not None:
                keys.add((p['src'], p['sport']))
                ports.add(p['dport'])
        inf['keys'], inf['ports'] = keys, ports
    caps = list(info)
    conv = [c for c in caps if info[c]['linktype'] != dplib.LINK_ETHERNET]
    log('corpus: %d captures (%s), %d flow objects by netmeta-decode; rewritten to Ethernet: %s'
        % (len(caps), ', '.join('%s %d' % kv for kv in sorted(collections.Counter(
            info[c]['kind'] for c in caps).items())),
           sum(len(info[c]['records']) for c in caps), ', '.join(conv) or 'none'))

    # ports of their kind: a port whose captures are all sFlow (or all
    # IPFIX) listens as sflow (ipfix); mixed captures only in the auto run
    port_kinds = collections.defaultdict(set)
    for c in caps:
        for p in info[c]['ports']:
            port_kinds[p].add(info[c]['kind'])
    runs = [('corpus/auto', caps, {'auto': sorted(port_kinds)})]
    kcaps = [c for c in caps if info[c]['kind'] != 'mixed']
    listen = collections.defaultdict(list)
    for p, ks in sorted(port_kinds.items()):
        ks = ks - {'mixed'}
        k = ks.pop() if len(ks) == 1 and ks <= {'sflow', 'ipfix'} else 'netflow'
        listen[k].append(p)
    runs.append(('corpus/kinds', kcaps, dict(listen)))

    for label, rcaps, listen in runs:
        pcap = os.path.join(work, label.replace('/', '_') + '.pcap')
        want, frames, remaps = build_batch(rcaps, info, pcap)
        nre = sum(1 for c in rcaps if remaps[c])
        log('')
        log('%s: %d captures, %d frames, %d objects expected; %d captures moved to another '
            'source port; listen %s' % (label, len(rcaps), len(frames), len(want), nre, listen))
        # the batch must decode as its parts do
        bat, bdec = dplib.decode(decode, [pcap])
        ok, diff = dplib.compare(want, bat)
        ck.check(ok, '%s: batch pcap decodes to the union of the per-capture decodes '
                 '(batching is transparent)' % label, diff)
        nm = dpdk_replay(netmeta, work, pcap, listen, label.replace('/', '_'))
        check_run(ck, nm, bat, bdec, label, len(frames), count_udp(frames))
        # per capture: which captures' records differ
        by_port = collections.defaultdict(list)
        for c in rcaps:
            for src, sp in info[c]['keys']:
                by_port[remaps[c].get(sp, sp)].append(c)
        want_by, got_by = collections.defaultdict(list), collections.defaultdict(list)
        for r in want:
            want_by[tuple(by_port.get(r.get('ExporterPort'), ['?']))].append(r)
        for r in nm.records:
            got_by[tuple(by_port.get(r.get('ExporterPort'), ['?']))].append(r)
        bad = []
        for k in set(want_by) | set(got_by):
            ok, diff = dplib.compare(want_by[k], got_by[k], show=1)
            if not ok:
                bad.append('%s: %s' % (' / '.join(k), diff))
        ck.check(not bad, '%s: every capture yields its own records' % label, '\n'.join(bad[:10]))


def main(argv):
    if len(argv) < 2 or argv[1] not in ('gen', 'corpus'):
        print(__doc__)
        return 2
    mode = argv[1]
    names = ['NETMETA', 'NETMETA_DECODE', 'NETMETA_GEN' if mode == 'gen' else 'SHARED_DIR']
    args = dplib.args_or_usage(argv[1:], names)
    netmeta, decode, third = args
    if mode == 'corpus' and not os.path.isfile(os.path.join(third, 'corpus', 'CATALOG.md')):
        dplib.skip('%s not found: corpus replay skipped'
                   % os.path.normpath(os.path.join(third, 'corpus', 'CATALOG.md')))
    why = dplib.dpdk_usable(netmeta)
    if why:
        dplib.skip('netmeta has no DPDK backend: ' + why)
    work = tempfile.mkdtemp(prefix='nm-replay-')
    ck = dplib.Checks()
    if mode == 'gen':
        main_gen(netmeta, decode, third, work, ck)
    else:
        main_corpus(netmeta, decode, third, work, ck, argv[5:])
    rc = ck.finish()
    if rc:
        log('work files kept in ' + work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv))
