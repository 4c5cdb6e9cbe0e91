#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
A template flood must not cost well-behaved exporters their records (issue
17, item 1; DESIGN-NOTES.md, "Template floods").

  test_flood.py NETMETA NETMETA_GEN

The socket backend on loopback, 2 workers, the default `allow: []` (every
exporter accepted) and small tables (512 exporters, 256 templates per
worker) so that the flood fills them within seconds:

 1. `netmeta-gen --flood both`: ~3,000 template-only datagrams/s (NetFlow v9
    and IPFIX, 8 templates each, IDs cycling 256..65535) from 256 sockets
    on 16 addresses (127.0.0.101-116), each socket cycling through 4,096
    observation domains, for FLOOD_S seconds;
 2. once the flood is under way (its datagrams seen by the collector), two
    well-behaved exporters start: NetFlow v9 and IPFIX from 127.0.0.1, 100
    datagrams/s each, templates and options re-sent every 20 datagrams (a
    Cisco default), and finish while the flood still runs.

Checks: the well-behaved exporters' flow records are >= 99 % delivered
(expected: all), every record comes from them (the flood has no data), the
flood was refused and evicted by named reasons, no exporter or template that
had decoded data was evicted, the tables' caps held on each worker, and the
collector's resident memory stayed within a bound while the flood ran.
Waits are on conditions; the only timing assumption, that the flood
outlasts the exporters, is checked and reported.

Exit: 0 pass, 1 failure, 77 skipped.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dplib  # noqa: E402
from dplib import log  # noqa: E402

FLOOD_S = 25
FLOOD_PPS = 3000
GOOD_PPS = 100
GOOD_DGRAMS = 1000  # 10 s per exporter
MAX_EXP, MAX_TMPL = 512, 256
RSS_SLACK_KIB = 64 * 1024  # sink buffers, JSON writer, allocator: far above the decoders


def rss_kib(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def gen_records(stderr):
    return {m.group(1): (int(m.group(2)), int(m.group(3)))
            for m in re.finditer(r'generated (\S+) datagrams (\d+) records (\d+)', stderr)}


def main(argv):
    netmeta, gen = dplib.args_or_usage(argv, ['NETMETA', 'NETMETA_GEN'])
    work = tempfile.mkdtemp(prefix='nm-flood-')
    ck = dplib.Checks()
    # the admission keys: checked, and said at start
    for body, want, msg in (
            ('templates:\n  admit_source_burst: 0\n', 1,
             "templates.admit_source_burst: '0' is out of range"),
            ('templates:\n  admit_source_rate: 5\n  admit_global_rate: 0\n', 0,
             'new exporters and templates of exporters without decoded data: 5/s per source '
             'address (burst 64), 0/s per worker (burst 4096)')):
        path = os.path.join(work, 'check.yaml')
        with open(path, 'w') as f:
            f.write(body)
        p = subprocess.run([netmeta, '--config', path, '--check'], capture_output=True, text=True,
                           timeout=60)
        ck.check(p.returncode == want and msg in p.stderr, '--check: %s' % msg, p.stderr[-800:])
    while True:
        off = dplib.free_udp_ports(1)[0] - 2055
        ports = [2055 + off, 4739 + off]
        if 0 < off < 60000 and 4739 + off < 65536 and all(dplib.udp_sockets_on(p)[0] == 0 for p in ports):
            break
    cfg = {'backend': 'socket', 'workers': 2, 'bind': '127.0.0.1', 'stats_interval': 1,
           'listen': {'netflow': [ports[0]], 'ipfix': [ports[1]]},
           'templates': {'max_exporters': MAX_EXP, 'max_templates': MAX_TMPL}}
    nm = dplib.Netmeta(netmeta, work, cfg, tag='flood').start()
    procs = []
    try:
        if not ck.check(dplib.wait_bound(nm, ports, 2), 'two sockets bound on each port',
                        nm.stderr()[-1000:]):
            nm.stop()
            return ck.finish()
        rss0 = rss_kib(nm.proc.pid)
        log('collector up, VmRSS %s KiB; flood: %d datagrams/s for %d s' % (rss0, FLOOD_PPS, FLOOD_S))
        t_flood = time.time()
        flood = subprocess.Popen([gen, '--flood', 'both', '--udp', '127.0.0.1', '--port-offset', str(off),
                                  '--pps', str(FLOOD_PPS), '--seconds', str(FLOOD_S),
                                  '--flood-addresses', '16', '--flood-sockets', '256',
                                  '--flood-domains', '4096', '--flood-templates', '8'],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        procs.append(flood)
        seen = dplib.wait_rx(nm, FLOOD_PPS, timeout=60, settle=0)
        ck.check(seen >= FLOOD_PPS, 'the flood reaches the collector (%d datagrams seen)' % seen)
        t_good = time.time()
        good = []
        for proto, seed in (('v9', 11), ('ipfix', 12)):
            p = subprocess.Popen([gen, '--proto', proto, '--udp', '127.0.0.1', '--port-offset', str(off),
                                  '--pps', str(GOOD_PPS), '--datagrams', str(GOOD_DGRAMS),
                                  '--template-every', '20', '--seed', str(seed)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            procs.append(p)
            good.append(p)
        rss_max = rss0 or 0
        while any(p.poll() is None for p in good) and time.time() - t_good < 120:
            r = rss_kib(nm.proc.pid)
            rss_max = max(rss_max, r or 0)
            time.sleep(0.5)
        flood_running = flood.poll() is None
        good_err = ''
        for p in good:
            _, e = p.communicate(timeout=60)
            good_err += e
            ck.eq(p.returncode, 0, 'well-behaved exporter exits 0')
        log('well-behaved exporters done after %.1f s: %s' % (time.time() - t_good,
                                                              good_err.strip().replace('\n', '; ')))
        ck.check(flood_running, 'the flood still ran when the well-behaved exporters finished '
                 '(every one of their datagrams was sent during the flood)')
        while flood.poll() is None:
            rss_max = max(rss_max, rss_kib(nm.proc.pid) or 0)
            time.sleep(0.5)
        _, flood_err = flood.communicate(timeout=60)
        ck.eq(flood.returncode, 0, 'flood generator exits 0')
        log(flood_err.strip().replace('\n', '; '))
        m = re.search(r'flood sent (\d+) datagrams \((\d+) templates\)', flood_err)
        nflood = int(m.group(1)) if m else 0
        want = gen_records(good_err)
        sent = sum(d for d, _ in want.values()) + nflood
        rx = dplib.wait_rx(nm, sent, timeout=90, settle=0.5)
        t_end = time.time()
        rss_end = rss_kib(nm.proc.pid)
        rss_max = max(rss_max, rss_end or 0)
        drops = sum(dplib.udp_sockets_on(pt)[1] for pt in ports)
        nm.stop()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if nm.proc.poll() is None:
            nm.stop()
    c = nm.counters
    log('netmeta exit %s; rx seen %d of %d sent; kernel drops %s (/proc/net/udp %d)'
        % (nm.rc, rx, sent, c.get('KERNEL_DROPS', 0), drops))
    for k in sorted(c):
        if k.startswith(('err_', 'ev_TMPL', 'ev_EXPORTER', 'ev_RECORDS', 'decode_')):
            log('  %s %s' % (k, c[k]))
    for w in ('worker0', 'worker1'):
        log('  %s: %s' % (w, c.get(w)))
    ck.eq(nm.rc, 0, 'netmeta exits 0 on SIGTERM')

    # 1. the well-behaved exporters' records
    got = {'NETFLOW_V9': 0, 'IPFIX': 0}
    other = 0
    for r in nm.records:
        if r.get('SamplerAddress') == '127.0.0.1' and r.get('Type') in got:
            got[r['Type']] += 1
        else:
            other += 1
    for name, typ in (('NetFlow v9', 'NETFLOW_V9'), ('IPFIX', 'IPFIX')):
        n = want.get(typ, (0, 0))[1]
        ratio = got[typ] / n if n else 0.0
        log('%s: %d of %d flow records delivered (%.2f %%)' % (name, got[typ], n, 100 * ratio))
        ck.check(n > 0 and ratio >= 0.99, '%s records >= 99 %% delivered during the flood '
                 '(%d of %d)' % (name, got[typ], n))
    ck.eq(other, 0, 'no record from anyone else (the flood carries no data)')

    # 2. the flood refused and evicted, by reason; nothing active evicted
    refused = {k: c.get(k, 0) for k in ('err_EXPORTER_REFUSED_SOURCE', 'err_EXPORTER_REFUSED_GLOBAL',
                                        'err_TMPL_REFUSED_SOURCE', 'err_TMPL_REFUSED_GLOBAL')}
    ck.check(refused['err_EXPORTER_REFUSED_SOURCE'] > 0 and refused['err_TMPL_REFUSED_SOURCE'] > 0,
             'the flood is refused by its source rate: %s' % refused)
    ck.check(c.get('ev_EXPORTER_EVICTED', 0) > 0 and c.get('ev_TMPL_EVICTED_POOL', 0) > 0,
             'the flood fills the tables: unproven exporters and unused templates evicted '
             '(EXPORTER_EVICTED %s, TMPL_EVICTED_POOL %s)'
             % (c.get('ev_EXPORTER_EVICTED', 0), c.get('ev_TMPL_EVICTED_POOL', 0)))
    ck.eq((c.get('ev_EXPORTER_EVICTED_ACTIVE', 0), c.get('ev_TMPL_EVICTED_POOL_USED', 0)), (0, 0),
          'no exporter or template that decoded data was evicted (EXPORTER_EVICTED_ACTIVE, '
          'TMPL_EVICTED_POOL_USED)')
    # new entries admitted: at most 16 addresses x 2 buckets x (16/s over the
    # time the collector saw the flood + a burst of 64), plus the 2 good
    # exporters and their 6 templates (DESIGN-NOTES.md, default rates)
    admitted = c.get('ev_EXPORTER_ADDED', 0) + c.get('ev_TMPL_ADDED', 0)
    bound = 16 * 2 * (16 * (t_end - t_flood) + 64) + 8
    ck.check(admitted <= bound, 'admissions held to the source rate: %d exporters + templates '
             'admitted in %.1f s (<= %d)' % (admitted, t_end - t_flood, bound))
    ck.eq(c.get('ev_EXPORTER_PROVEN', 0), 2, 'exactly the two well-behaved exporters proved themselves')
    ck.eq(c.get('ev_RECORDS_NO_TEMPLATE', 0), 0, 'no record lost for want of a template')

    # 3. bounded: caps per worker, resident memory
    for w in ('worker0', 'worker1'):
        x = c.get(w, {})
        ck.check(0 < x.get('exporters', 0) <= MAX_EXP and 0 < x.get('templates', 0) <= MAX_TMPL,
                 '%s: exporters %s <= %d, templates %s <= %d' % (w, x.get('exporters'), MAX_EXP,
                                                               x.get('templates'), MAX_TMPL))
    if rss0:
        log('VmRSS: %d KiB at start, at most %d KiB during the flood, %s KiB at its end'
            % (rss0, rss_max, rss_end))
        ck.check(rss_max - rss0 <= RSS_SLACK_KIB, 'resident memory grew by %d KiB (<= %d KiB)'
                 % (rss_max - rss0, RSS_SLACK_KIB))
    rc = ck.finish()
    if rc:
        log('work files kept in ' + work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv))
