#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
Live exporters: softflowd (NetFlow v5, v9, IPFIX) and pmacctd (nfprobe v9,
nfprobe IPFIX, sfprobe sFlow) in a network namespace, fed one traffic
capture made here, exporting over a veth pair to the collector on the host
end.

  test_live_exporters.py dpdk|socket NETMETA NETMETA_DECODE

dpdk:   the collector reads the host veth end through a net_af_packet vdev
        and owns 198.18.K.1 and 2001:db8:K::1 there (the host end has no
        address): the namespace resolves it by ARP (ARP_REPLIED), pings it
        (ICMP_REPLIED) and does neighbour discovery and ICMPv6 echo against
        it (ND_REPLIED). softflowd's IPFIX goes over IPv6 (a static
        neighbour entry makes that independent of the ND check).
socket: the host veth end gets the addresses; the socket backend listens.

Both: tcpdump records the exports on the host veth end, and the test
compares the collector with that capture, never with a guess of what an
exporter will send:
 - the collector's records = netmeta-decode's for the capture (multisets,
   receive times left out), UDP_DATAGRAMS = the capture's datagrams;
 - per exporter socket, the flow totals (Packets, Bytes, records per
   protocol) = those read from the capture by dplib.export_totals, a reader
   that shares no code with decoders/.
What each exporter was fed is reported next to what it sent, as a note:
pmacctd's sfprobe leaves out a varying number of the last packets it reads
(the capture ends with 16 packets of protocol 253 so that this tail is
padding). An exporter that exits non-zero (pmacctd 1.7.7 sometimes dies with
SIGSEGV at the end of a pcap_savefile run) is reported and run again, up to
8 times; what its failed attempt sent stays in the capture and is checked
like the rest. The waits are on conditions (the collector's datagram count
equal to the capture's), with deadlines far above what a loaded machine
needs.

Needs root, iproute2 (netns, veth), softflowd, pmacctd, tcpdump.
Exit: 0 pass, 1 failure, 77 skipped.
"""

import atexit
import collections
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dplib  # noqa: E402
from dplib import log  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PAD = 16
MAX_ATTEMPTS = 8  # pmacctd crashed in 13 of 33 attempts, up to 4 in a row, on a loaded machine
# export streams (exporter, version) -> the kind of collector port
STREAMS = {'softflowd-v5': 'netflow', 'softflowd-v9': 'netflow', 'softflowd-ipfix6': 'ipfix',
           'pmacctd-v9': 'netflow', 'pmacctd-ipfix': 'ipfix', 'pmacctd-sflow': 'sflow'}
# exporter processes -> their streams (pmacctd runs three plugins)
UNITS = {'softflowd-v5': ['softflowd-v5'], 'softflowd-v9': ['softflowd-v9'],
         'softflowd-ipfix6': ['softflowd-ipfix6'],
         'pmacctd': ['pmacctd-v9', 'pmacctd-ipfix', 'pmacctd-sflow']}
_cleanup = []
_procs = []


def sh(*args, check=True, ns=None):
    cmd = (['ip', 'netns', 'exec', ns] if ns else []) + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise RuntimeError('%s: %s' % (' '.join(cmd), p.stderr.strip()))
    return p


def do_cleanup():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
    while _cleanup:
        fn = _cleanup.pop()
        try:
            fn()
        except Exception as e:  # cleanup goes on
            log('cleanup: %s' % e)


def on_signal(sig, frame):
    do_cleanup()
    sys.exit(1)


def popen(args, out_path, ns=None):
    cmd = (['ip', 'netns', 'exec', ns] if ns else []) + list(args)
    f = open(out_path, 'w')
    p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
    p.out_path = out_path
    _procs.append(p)
    return p


def prerequisites(mode, netmeta):
    if os.geteuid() != 0:
        dplib.skip('not root: network namespaces and veth pairs need root')
    for tool in ('ip', 'softflowd', 'pmacctd', 'tcpdump'):
        if shutil.which(tool) is None and not os.path.exists('/usr/sbin/' + tool):
            dplib.skip('%s not installed (scripts/install-deps installs it)' % tool)
    if mode == 'dpdk':
        why = dplib.dpdk_usable(netmeta)
        if why:
            dplib.skip('netmeta has no DPDK backend: ' + why)


def pick_subnet():
    used = sh('ip', '-4', 'addr', 'show').stdout + sh('ip', '-4', 'route', 'show', 'table', 'all').stdout
    for k in [(os.getpid() + i) % 200 + 20 for i in range(200)]:
        if ('198.18.%d.' % k) not in used:
            return k
    raise RuntimeError('no free 198.18.K.0/24')


def setup_net(mode):
    sfx = '%x' % (os.getpid() & 0xfffff)
    ns, hv, nv = 'nmdp' + sfx, 'nmh' + sfx, 'nmn' + sfx
    k = pick_subnet()
    a = {'ns': ns, 'host_if': hv, 'ns_if': nv, 'c4': '198.18.%d.1' % k, 'e4': '198.18.%d.2' % k,
         'c6': '2001:db8:%x::1' % k, 'e6': '2001:db8:%x::2' % k}
    sh('ip', 'netns', 'add', ns)
    _cleanup.append(lambda: sh('ip', 'netns', 'del', ns, check=False))
    sh('ip', 'link', 'add', hv, 'type', 'veth', 'peer', 'name', nv)
    _cleanup.append(lambda: sh('ip', 'link', 'del', hv, check=False))
    sh('ip', 'link', 'set', nv, 'netns', ns)
    if mode == 'dpdk':
        # the host kernel must neither answer for nor route what arrives here
        sh('sysctl', '-qw', 'net.ipv6.conf.%s.disable_ipv6=1' % hv)
        sh('sysctl', '-qw', 'net.ipv4.conf.%s.forwarding=0' % hv)
    else:
        sh('ip', 'addr', 'add', a['c4'] + '/24', 'dev', hv)
        sh('ip', 'addr', 'add', a['c6'] + '/64', 'dev', hv, 'nodad')
    sh('ip', 'link', 'set', hv, 'up')
    sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
    sh('ip', '-n', ns, 'addr', 'add', a['e4'] + '/24', 'dev', nv)
    sh('ip', '-n', ns, 'addr', 'add', a['e6'] + '/64', 'dev', nv, 'nodad')
    sh('ip', '-n', ns, 'link', 'set', nv, 'up')
    a['host_mac'] = open('/sys/class/net/%s/address' % hv).read().strip()
    log('namespace %s: %s %s/%s  <->  host %s %s (%s/%s, mac %s)' % (
        ns, nv, a['e4'], a['e6'], hv, '(collector via DPDK)' if mode == 'dpdk' else '(addresses)',
        a['c4'], a['c6'], a['host_mac']))
    return a


def stats_datagrams(nm):
    m = dplib.STATS_RE.findall(nm.stderr())
    return int(m[-1][1]) if m else 0


def collector_totals(recs):
    """netmeta's records -> {exporter source port: {(Etype, Proto): [packets,
    bytes, records]}}"""
    out = collections.defaultdict(lambda: collections.defaultdict(lambda: [0, 0, 0]))
    for r in recs:
        if r.get('Type') == 'SFLOW_5_COUNTERS':
            continue
        t = out[r.get('ExporterPort')][(r['Etype'], r['Proto'])]
        t[0] += r['Packets']
        t[1] += r['Bytes']
        t[2] += 1
    return out


def fed_totals(traffic, v4_only=False, l2=False):
    """What an exporter was fed, per (Etype, Proto): [packets, bytes]."""
    out = {}
    for (ver, proto), (n, b) in traffic['by_proto'].items():
        if v4_only and ver == 6:
            continue
        out[(0x0800 if ver == 4 else 0x86dd, proto)] = [n, b + 18 * n if l2 else b]
    return out


def fmt_totals(t):
    return ', '.join('%s/%d %s' % ('IPv4' if k[0] == 0x800 else 'IPv6', k[1], v)
                     for k, v in sorted(t.items()))


def exit_text(rc):
    if isinstance(rc, int) and rc < 0:
        try:
            return 'killed by %s' % signal.Signals(-rc).name
        except ValueError:
            return 'killed by signal %d' % -rc
    return 'exit %s' % rc


def count_exports(cap, dports):
    """Export datagrams (first fragments) in the capture written so far."""
    try:
        frames = dplib.read_pcap(cap)[1]
    except (OSError, ValueError, struct.error):
        return 0
    n = 0
    for _, f in frames:
        p = dplib.parse_frame(f)
        n += bool(p and p['proto'] == 17 and p['dport'] in dports)
    return n


def namespace_pids(ns):
    return sh('ip', 'netns', 'pids', ns, check=False).stdout.split()


def wait_namespace_empty(ns, timeout):
    """pmacctd's plugins are processes of their own that flush after the
    core exits: waits until nothing runs in the namespace; what is left
    after the deadline (ours: only this test starts processes there) is
    killed by PID. -> the PIDs that were left."""
    end = time.time() + timeout
    while time.time() < end and namespace_pids(ns):
        time.sleep(0.1)
    left = namespace_pids(ns)
    for pid in left:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError):
            pass
    return left


def run(mode, netmeta, decode, work, ck):
    a = setup_net(mode)
    traffic_path = os.path.join(work, 'traffic.pcap')
    traffic = dplib.make_traffic(traffic_path, pad=PAD)
    log('traffic: %d packets: %s' % (traffic['packets'], ', '.join(
        'IPv%d/%d %d pkts %d bytes' % (k[0], k[1], v[0], v[1]) for k, v in sorted(traffic['by_proto'].items()))))
    ports = dict(zip(STREAMS, dplib.free_udp_ports(len(STREAMS))))
    listen = {}
    for st, kind in STREAMS.items():
        listen.setdefault(kind, []).append(ports[st])
    if mode == 'dpdk':
        cfg = {'backend': 'dpdk', 'stats_interval': 1, 'listen': listen,
               'ports': [{'device': 'net_af_packet0,iface=%s,framecnt=4096' % a['host_if'],
                          'addresses': [a['c4'], a['c6']]}]}
        nm = dplib.Netmeta(netmeta, work, cfg, eal=dplib.eal_args('0-1'), tag='live_dpdk').start()
        _procs.append(nm.proc)
        if not ck.check(nm.wait_ready('(net_af_packet0)', timeout=60), 'DPDK port on %s started' % a['host_if'],
                        nm.stderr()[-1500:]):
            return
        # ARP + echo, then ND + ICMPv6 echo, from the namespace
        p4 = sh('/usr/bin/python3', os.path.join(HERE, 'dplib.py'), 'ping', a['c4'], ns=a['ns'], check=False)
        neigh4 = sh('ip', '-n', a['ns'], 'neigh', 'show', a['c4']).stdout.strip()
        ck.check(p4.returncode == 0, 'ping %s from the namespace answered (%s)' % (a['c4'], p4.stdout.strip()),
                 p4.stderr)
        ck.check(a['host_mac'] in neigh4, 'namespace resolved %s by ARP to the port\'s MAC: %s'
                 % (a['c4'], neigh4))
        p6 = sh('/usr/bin/python3', os.path.join(HERE, 'dplib.py'), 'ping', a['c6'], ns=a['ns'], check=False)
        neigh6 = sh('ip', '-n', a['ns'], '-6', 'neigh', 'show', a['c6']).stdout.strip()
        ck.check(a['host_mac'] in neigh6 and 'FAILED' not in neigh6,
                 'namespace resolved %s by neighbour discovery: "%s"' % (a['c6'], neigh6))
        ck.check(p6.returncode == 0, 'ping %s from the namespace answered (%s)' % (a['c6'], p6.stdout.strip()))
        # IPv6 exports must not depend on the ND check above
        sh('ip', '-n', a['ns'], '-6', 'neigh', 'replace', a['c6'], 'lladdr', a['host_mac'], 'dev',
           a['ns_if'], 'nud', 'permanent')
        p6 = sh('/usr/bin/python3', os.path.join(HERE, 'dplib.py'), 'ping', a['c6'], ns=a['ns'], check=False)
        ck.check(p6.returncode == 0, 'ping %s with a static neighbour entry answered (%s)'
                 % (a['c6'], p6.stdout.strip()))
    else:
        cfg = {'backend': 'socket', 'stats_interval': 1, 'bind': '::', 'listen': listen}
        nm = dplib.Netmeta(netmeta, work, cfg, tag='live_socket').start()
        _procs.append(nm.proc)
        allp = [p for v in listen.values() for p in v]
        if not ck.check(dplib.wait_bound(nm, allp, 1, timeout=60), 'socket backend listening', nm.stderr()[-1000:]):
            return
    # tcpdump on the host end
    cap = os.path.join(work, 'exports.pcap')
    td = popen(['tcpdump', '-i', a['host_if'], '-w', cap, '-U', '--immediate-mode', '-B', '32768', '-s', '9000', '-n',
                'udp and (dst host %s or dst host %s)' % (a['c4'], a['c6'])], os.path.join(work, 'tcpdump.out'))
    end = time.time() + 60
    while time.time() < end and 'listening on' not in open(td.out_path).read() and td.poll() is None:
        time.sleep(0.05)
    if not ck.check('listening on' in open(td.out_path).read(), 'tcpdump started',
                    open(td.out_path).read()):
        return
    # the exporters, all at once; one that fails (pmacctd 1.7.7 sometimes
    # dies with SIGSEGV at the end of a pcap_savefile run) runs again alone
    t0 = time.time()
    attempts = {u: [] for u in UNITS}  # exit status of each attempt
    started = {u: [] for u in UNITS}   # when each attempt started (capture clock)
    todo = list(UNITS)
    while todo:
        procs = {}
        for u in todo:
            started[u].append(time.time())
            procs[u] = start_unit(u, len(attempts[u]), a, ports, traffic_path, work)
        for u, p in procs.items():
            try:
                rc = p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                rc = 'killed after 120 s'
            attempts[u].append(rc)
        left = wait_namespace_empty(a['ns'], 30)
        if left:
            log('NOTE: exporter processes still running 30 s after the exporters exited: '
                'killed (PIDs %s)' % ' '.join(left))
        todo = []
        for u, p in procs.items():
            rc = attempts[u][-1]
            if rc == 0:
                continue
            log('EXPORTER FAILED: %s attempt %d of %d: %s (an exporter fault, not netmeta\'s)\n%s'
                % (u, len(attempts[u]), MAX_ATTEMPTS, exit_text(rc),
                   '\n'.join('    | ' + l for l in open(p.out_path).read()[-800:].splitlines())))
            if len(attempts[u]) < MAX_ATTEMPTS:
                log('RETRY: %s again (new sockets, so new source ports); what attempt %d sent '
                    'is still checked against the capture' % (u, len(attempts[u])))
                todo.append(u)
    for u, rcs in attempts.items():
        ck.check(rcs[-1] == 0, '%s ran to the end (%s)' % (
            u, ', '.join('attempt %d: %s' % (i + 1, exit_text(rc)) for i, rc in enumerate(rcs))))
    log('exporters done in %.1f s' % (time.time() - t0))
    # Everything is sent. Wait until the collector's datagram count (stats
    # line, every 1 s) equals the capture's and stands for a stats interval:
    # no guess of how long either takes under load.
    dports = set(ports.values())
    end, agreed = time.time() + 90, None
    while time.time() < end:
        n, ncap = stats_datagrams(nm), count_exports(cap, dports)
        if n == ncap and n > 0:
            agreed = agreed if agreed and agreed[0] == n else (n, time.time())
            if time.time() - agreed[1] >= 1.5:
                break
        else:
            agreed = None
        if nm.proc.poll() is not None:
            break
        time.sleep(0.1)
    log('collector and capture agree on %s export datagrams after %.1f s' % (
        agreed[0] if agreed else '(no number: see the checks below)', time.time() - t0))
    td.send_signal(signal.SIGINT)
    td.wait(timeout=30)
    tdout = open(td.out_path).read()
    m = re.search(r'(\d+) packets dropped by kernel', tdout)
    ck.check(m is not None and m.group(1) == '0', 'tcpdump dropped nothing', tdout)
    want, wdec = dplib.decode(decode, [cap])
    ndg = wdec.get('datagrams', 0)
    log('tcpdump: %d export datagrams, netmeta-decode: %d objects (%s)' % (
        ndg, len(want), ', '.join('%s %d' % (k, v) for k, v in wdec.items() if k.startswith('datagrams_'))))
    nm.stop()
    c = nm.counters
    log('netmeta exit %s; %s' % (nm.rc, nm.summary()))
    ck.eq(nm.rc, 0, 'netmeta exits 0 on SIGTERM')
    if mode == 'dpdk':
        ck.check(c.get('ARP_REPLIED', 0) > 0, 'ARP_REPLIED > 0 (%s)' % c.get('ARP_REPLIED', 0))
        ck.check(c.get('ICMP_REPLIED', 0) >= 3, 'ICMP_REPLIED >= 3 (%s)' % c.get('ICMP_REPLIED', 0))
        ck.check(c.get('ND_REPLIED', 0) > 0, 'ND_REPLIED > 0 (%s)' % c.get('ND_REPLIED', 0))
        ck.eq(c.get('TX_FAILED', 0), 0, 'TX_FAILED')
        got, rx = dplib.rx_invariant(c)
        ck.eq(got, rx, 'every packet counted once')
    else:
        ck.eq(c.get('KERNEL_DROPS', 0), 0, 'KERNEL_DROPS')
    ck.eq(c.get('UDP_DATAGRAMS'), ndg, 'UDP_DATAGRAMS = export datagrams tcpdump saw')
    ck.eq({k: v for k, v in c.items() if k.startswith('err_')},
          {k: v for k, v in wdec.items() if k.startswith('err_')}, 'err_* = netmeta-decode\'s')
    ok, diff = dplib.compare(want, nm.records)
    ck.check(ok, 'records == netmeta-decode of the tcpdump capture (%d objects)' % len(want), diff)
    # Per exporter socket: netmeta's totals = what the capture holds, read
    # by dplib.export_totals (no code shared with decoders/). What each
    # exporter was fed is only reported: exporters may leave flows out.
    frames = dplib.read_pcap(cap)[1]
    sent = collections.defaultdict(dplib._tot)
    stream_of = {}  # exporter source port -> 'name#attempt'
    owner = {p: st for st, p in ports.items()}
    first = {}  # (sport, dport) -> first capture time
    for ts, f in frames:
        u = dplib.udp_payload(f)
        if u:
            first.setdefault(u[:2], ts / 1e9)
    for (sport, dport), tot in dplib.export_totals(frames).items():
        if dport not in owner:
            continue
        st = owner[dport]
        u = next(u for u, sts in UNITS.items() if st in sts)
        # attempts of one exporter run one after the other
        i = sum(1 for t in started[u] if t <= first[(sport, dport)])
        stream_of.setdefault(sport, set()).add('%s#%d' % (st, i))
        for k, v in tot.items():
            sent[sport][k] = [x + y for x, y in zip(sent[sport][k], v)]
    got = collector_totals(nm.records)
    for sport in sorted(set(sent) | set(got), key=lambda x: (x is None, x or 0)):
        g, w = dict(got.get(sport, {})), dict(sent.get(sport, {}))
        label = '/'.join(sorted(stream_of.get(sport, {'source port %s (unknown)' % sport})))
        detail = '\n'.join('%s/%d: netmeta %s, capture %s' % ('IPv4' if k[0] == 0x800 else 'IPv6', k[1],
                                                          g.get(k), w.get(k))
                           for k in sorted(set(g) | set(w)) if g.get(k) != w.get(k))
        ck.check(g == w, '%s (port %s): %d records; packets, bytes, records per protocol = the capture\'s'
                 % (label, sport, sum(v[2] for v in g.values())), detail)
    # the last attempt of each exporter must have sent flows (else nothing
    # was tested); how that compares to what it was fed is a note
    for st in STREAMS:
        u = next(u for u, sts in UNITS.items() if st in sts)
        tag = '%s#%d' % (st, len(attempts[u]))
        sports = [sp for sp, tags in stream_of.items() if tag in tags]
        tot = collections.defaultdict(lambda: [0, 0, 0])
        for sp in sports:
            for k, v in sent[sp].items():
                tot[k] = [x + y for x, y in zip(tot[k], v)]
        ck.check(sum(v[2] for v in tot.values()) > 0, '%s sent flows (%d records)'
                 % (tag, sum(v[2] for v in tot.values())))
        fed = fed_totals(traffic, v4_only=st.endswith('v5'), l2=st.endswith('sflow'))
        mine = {k: v[:2] for k, v in tot.items()}
        if mine == fed:
            log('  %s: sent exactly what it was fed' % tag)
        else:
            log('  NOTE %s: sent %s; fed %s (the exporter\'s doing: not checked)'
                % (tag, fmt_totals({k: v for k, v in mine.items() if fed.get(k) != v}),
                   fmt_totals({k: v for k, v in fed.items() if mine.get(k) != v})))


def start_unit(unit, attempt, a, ports, traffic_path, work):
    """Starts attempt (0-based) of one exporter process in the namespace."""
    out = os.path.join(work, '%s.%d.out' % (unit, attempt + 1))
    dst = lambda st: '%s:%d' % (a['c4'], ports[st])
    if unit == 'pmacctd':
        conf = os.path.join(work, 'pmacctd.%d.conf' % (attempt + 1))
        with open(conf, 'w') as f:
            f.write('daemonize: false\npcap_savefile: %s\n'
                    'plugins: nfprobe[v9], nfprobe[v10], sfprobe[sf]\n'
                    'nfprobe_receiver[v9]: %s\nnfprobe_version[v9]: 9\n'
                    'nfprobe_receiver[v10]: %s\nnfprobe_version[v10]: 10\n'
                    'sfprobe_receiver[sf]: %s\nsfprobe_agentip[sf]: %s\nsampling_rate[sf]: 1\n'
                    % (traffic_path, dst('pmacctd-v9'), dst('pmacctd-ipfix'), dst('pmacctd-sflow'),
                       a['e4']))
        return popen(['pmacctd', '-f', conf], out, a['ns'])
    ver = {'softflowd-v5': '5', 'softflowd-v9': '9', 'softflowd-ipfix6': '10'}[unit]
    to = '[%s]:%d' % (a['c6'], ports[unit]) if unit.endswith('6') else dst(unit)
    return popen(['softflowd', '-r', traffic_path, '-d', '-v', ver, '-n', to], out, a['ns'])


def main(argv):
    if len(argv) < 2 or argv[1] not in ('dpdk', 'socket'):
        print(__doc__)
        return 2
    mode = argv[1]
    netmeta, decode = dplib.args_or_usage(argv[1:], ['NETMETA', 'NETMETA_DECODE'])
    prerequisites(mode, netmeta)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    atexit.register(do_cleanup)
    work = tempfile.mkdtemp(prefix='nm-live-%s-' % mode)
    ck = dplib.Checks()
    try:
        run(mode, netmeta, decode, work, ck)
    except RuntimeError as e:
        if 'netns add' in str(e) or 'veth' in str(e):
            do_cleanup()
            dplib.skip('cannot create a network namespace / veth pair here: %s' % e)
        raise
    finally:
        do_cleanup()
    rc = ck.finish()
    if rc:
        log('work files kept in ' + work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv))
