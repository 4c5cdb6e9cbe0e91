#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
Two workers, several exporters sending templates and data.

  test_workers.py NETMETA NETMETA_DECODE NETMETA_GEN

socket: `netmeta-gen --udp 127.0.0.1 --exporters 8 --proto all` (each
  exporter from its own 127.0.0.N) into the socket backend with workers: 2.
  The records must be those netmeta-gen writes into a pcap with the same
  arguments (decoded by netmeta-decode; exporter 127.0.0.N there is
  192.0.2.N and the exporter's UDP source port differs, so SamplerAddress
  is mapped and ExporterPort left out, then checked to be one port per
  exporter), no template may be missed (err_DATA_NO_TEMPLATE 0), both
  workers get datagrams, every exporter stays on one worker (the reuseport
  program steers by address: 127.0.0.N goes to worker N mod 2) and the
  per-worker exporter counts add up to netmeta-decode's.
dpdk: the same pcap through a net_pcap vdev with 2 worker lcores on 2 CPUs:
  net_pcap has no RSS, so one queue polled by worker 0; the summary must
  say so, and the records be netmeta-decode's.

Exit: 0 pass, 1 failure, 77 skipped.
"""

import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dplib  # noqa: E402
from dplib import log  # noqa: E402

EXPORTERS = 8
DATAGRAMS = 800  # 25 per exporter and protocol


def gen_args(extra):
    return ['--proto', 'all', '--exporters', str(EXPORTERS), '--datagrams', str(DATAGRAMS)] + extra


def exporter_of(rec):
    """Exporter number N (1..8) of a record: NetFlow/IPFIX by SamplerAddress
    (192.0.2.N in the pcap, 127.0.0.N over UDP), sFlow by its agent address
    (192.0.2.N either way)."""
    m = re.fullmatch(r'(?:192\.0\.2|127\.0\.0)\.(\d+)', rec.get('SamplerAddress', rec.get('AgentAddress', '')))
    return int(m.group(1)) if m else None


def to_pcap_view(rec):
    r = dict(rec)
    for k in ('SamplerAddress', 'AgentAddress'):
        if k in r and r[k].startswith('127.0.0.'):
            r[k] = '192.0.2.' + r[k].rsplit('.', 1)[1]
    return r


def socket_part(netmeta, gen, want, dec, generated, work, ck):
    log('--- socket backend, workers: 2, %d exporters over UDP' % EXPORTERS)
    while True:
        off = dplib.free_udp_ports(1)[0] - 2055
        ports = [6343 + off, 2055 + off, 4739 + off]
        if 0 < off < 60000 and 4739 + off < 65536 and all(dplib.udp_sockets_on(p)[0] == 0 for p in ports):
            break
    cfg = {'backend': 'socket', 'workers': 2, 'bind': '127.0.0.1', 'stats_interval': 1,
           'listen': {'sflow': [ports[0]], 'netflow': [ports[1]], 'ipfix': [ports[2]]}}
    nm = dplib.Netmeta(netmeta, work, cfg, tag='sock2').start()
    if not ck.check(dplib.wait_bound(nm, ports, 2), 'two sockets bound on each port (SO_REUSEPORT)',
                    nm.stderr()[-1000:]):
        nm.stop()
        return
    p = subprocess.run([gen, '--udp', '127.0.0.1', '--port-offset', str(off), '--pps', '8000']
                       + gen_args([]), capture_output=True, text=True, timeout=60)
    ck.check(p.returncode == 0, 'netmeta-gen --udp sends', p.stderr)
    rx = dplib.wait_rx(nm, DATAGRAMS, timeout=90)
    drops = sum(dplib.udp_sockets_on(pt)[1] for pt in ports)
    nm.stop()
    c = nm.counters
    log('netmeta exit %s; rx seen %d; %s' % (nm.rc, rx, nm.summary()))
    for w in ('worker0', 'worker1'):
        log('  %s: %s' % (w, c.get(w)))
    ck.eq(nm.rc, 0, 'netmeta exits 0 on SIGTERM')
    ck.check('reuseport steering program refused' not in nm.err, 'reuseport program attached',
             nm.err[-800:])
    ck.eq((c.get('KERNEL_DROPS', 0), drops), (0, 0), 'no datagram dropped by the kernel '
          '(KERNEL_DROPS, /proc/net/udp drops)')
    ck.eq(c.get('RX_PACKETS'), DATAGRAMS, 'RX_PACKETS = datagrams sent')
    ck.eq(c.get('UDP_DATAGRAMS'), DATAGRAMS, 'UDP_DATAGRAMS = datagrams sent')
    ck.eq(c.get('err_DATA_NO_TEMPLATE', 0), 0, 'err_DATA_NO_TEMPLATE (no template missed)')
    ck.eq({k: v for k, v in c.items() if k.startswith('err_')}, {}, 'no decode error at all')
    ck.eq((c.get('RECORDS_RING_FULL', 0), c.get('RECORDS_NO_BATCH', 0)), (0, 0),
          'no record dropped on the way to the sink (RING_FULL, NO_BATCH)')
    nflows = sum(1 for r in nm.records if r.get('Type') != 'SFLOW_5_COUNTERS')
    ck.eq(nflows, generated, 'flow records = what netmeta-gen generated')
    ck.eq(c.get('decode_records'), generated, 'decode_records = generated')
    ok, diff = dplib.compare(want, [to_pcap_view(r) for r in nm.records], drop=('ExporterPort',))
    ck.check(ok, 'records == netmeta-decode of the same exports written to a pcap '
             '(SamplerAddress 127.0.0.N -> 192.0.2.N, ExporterPort left out)', diff)
    ports_of = collections.defaultdict(set)
    for r in nm.records:
        if 'ExporterPort' in r:
            ports_of[exporter_of(r)].add(r['ExporterPort'])
    ck.check(len(ports_of) == EXPORTERS and all(len(v) == 1 for v in ports_of.values()),
             'one UDP source port per exporter: %s' % dict(ports_of))
    # worker split: 127.0.0.N -> worker N mod 2 (address as a number mod 2)
    w0, w1 = c.get('worker0', {}), c.get('worker1', {})
    ck.check(w0.get('datagrams', 0) > 0 and w1.get('datagrams', 0) > 0,
             'both workers got datagrams (%s / %s)' % (w0.get('datagrams'), w1.get('datagrams')))
    per_exp = collections.Counter(exporter_of(r) for r in want if r.get('Type') != 'SFLOW_5_COUNTERS')
    want_w = [sum(n for e, n in per_exp.items() if e % 2 == k) for k in (0, 1)]
    ck.eq([w0.get('records'), w1.get('records')], want_w,
          'records per worker = records of the exporters steered to it (127.0.0.N -> N mod 2)')
    ck.eq([w0.get('datagrams'), w1.get('datagrams')], [DATAGRAMS // 2, DATAGRAMS // 2],
          'datagrams per worker (4 exporters each)')
    ck.eq(w0.get('exporters', 0) + w1.get('exporters', 0), dec.get('exporters'),
          'per-worker exporter counts add up to netmeta-decode\'s (no exporter on both workers)')


def dpdk_part(netmeta, pcap, want, dec, generated, work, ck):
    log('--- dpdk backend, 2 worker lcores on 2 CPUs, net_pcap vdev')
    why = dplib.dpdk_usable(netmeta)
    if why:
        log('dpdk part skipped: ' + why)
        return 'skipped'
    cfg = {'backend': 'dpdk', 'workers': 2,
           'ports': [{'device': 'net_pcap0,rx_pcap=' + pcap, 'accept_any_destination': True}],
           'listen': {'sflow': [6343], 'netflow': [2055], 'ipfix': [4739]}}
    nm = dplib.Netmeta(netmeta, work, cfg, eal=dplib.eal_args('0@0,1@1,2@1'), exit_idle=1,
                       tag='dpdk2').run(timeout=60)
    c = nm.counters
    log('netmeta exit %s in %.1f s; %s' % (nm.rc, nm.elapsed, nm.summary()))
    if not ck.eq(nm.rc, 0, 'netmeta exits 0'):
        log(nm.err[-1500:])
        return
    ck.check(re.search(r'netmeta: backend dpdk, 2 workers', nm.err) is not None, 'summary: 2 workers')
    ck.check(re.search(r'port \d+ \(net_pcap0\): \S+, 1 rx queue \(no RSS: worker 0 polls it\)',
                       nm.err) is not None,
             'summary says: 1 rx queue (no RSS: worker 0 polls it)',
             '\n'.join(l for l in nm.err.splitlines() if 'port' in l))
    ok, diff = dplib.compare(want, nm.records)
    ck.check(ok, 'records == netmeta-decode', diff)
    ck.eq(c.get('decode_records'), generated, 'decode_records = generated')
    ck.eq(c.get('err_DATA_NO_TEMPLATE', 0), 0, 'err_DATA_NO_TEMPLATE')
    ck.eq((c.get('RECORDS_RING_FULL', 0), c.get('RECORDS_NO_BATCH', 0)), (0, 0),
          'no record dropped on the way to the sink (RING_FULL, NO_BATCH)')
    w0, w1 = c.get('worker0', {}), c.get('worker1', {})
    ck.eq((w0.get('datagrams'), w1.get('datagrams')), (DATAGRAMS, 0),
          'worker 0 got every datagram, worker 1 none')
    got, rx = dplib.rx_invariant(c)
    ck.eq(got, rx, 'every packet counted once')


def main(argv):
    netmeta, decode, gen = dplib.args_or_usage(argv, ['NETMETA', 'NETMETA_DECODE', 'NETMETA_GEN'])
    work = tempfile.mkdtemp(prefix='nm-workers-')
    ck = dplib.Checks()
    pcap = os.path.join(work, 'gen8.pcap')
    p = subprocess.run([gen] + gen_args(['-o', pcap]), capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        log(p.stderr)
        return 1
    generated = sum(int(m.group(1)) for m in re.finditer(r'records (\d+)', p.stderr))
    want, dec = dplib.decode(decode, [pcap])
    log('netmeta-gen: %s' % p.stderr.strip().replace('\n', '; '))
    log('netmeta-decode: %d objects, exporters %s' % (len(want), dec.get('exporters')))
    socket_part(netmeta, gen, want, dec, generated, work, ck)
    d = dpdk_part(netmeta, pcap, want, dec, generated, work, ck)
    rc = ck.finish()
    if d == 'skipped':
        log('(dpdk part skipped: no DPDK backend)')
    if rc:
        log('work files kept in ' + work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv))
